//! Markdown: CommonMark with GitHub's tables, task lists and strikethrough, after a YAML front
//! matter holding the metadata.
//!
//! Text is escaped so that it cannot become markup: every character that can open or close an
//! inline construct is backslash-escaped wherever it stands, and the characters that start a
//! block (`-`, `+`, `=`, `1.`) where a line starts. Underline has no Markdown form and is
//! written as plain text.

use relais_crdt::model::{Block, Content, Inline, ListItem, Marks};

use crate::Metadata;
use crate::common::{self, Links, Segment, Slot};

/// The document as Markdown, front matter first.
pub fn markdown(content: &Content, meta: &Metadata) -> String {
    let mut out = String::new();
    front_matter(&mut out, meta);
    let lines = blocks(&content.blocks);
    if !lines.is_empty() {
        out.push('\n');
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn front_matter(out: &mut String, meta: &Metadata) {
    out.push_str("---\n");
    yaml_field(out, "title", common::title(meta));
    yaml_field(out, "version", &meta.version_label);
    yaml_field(out, "date", &meta.created_at);
    if meta.authors.is_empty() {
        out.push_str("authors: []\n");
    } else {
        out.push_str("authors:\n");
        for author in &meta.authors {
            out.push_str("  - ");
            yaml_string(out, author);
            out.push('\n');
        }
    }
    if let Some(seal) = &meta.seal {
        yaml_field(out, "validated_at", &seal.validated_at);
        yaml_field(out, "validated_by", &seal.validator);
        yaml_field(out, "validation_comment", &seal.comment);
        yaml_field(out, "sha256", &seal.sha256);
    }
    out.push_str("---\n");
}

fn yaml_field(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(": ");
    yaml_string(out, value);
    out.push('\n');
}

/// A YAML double-quoted scalar: the one YAML string form in which every character can be
/// written by escaping, so a value can never end the string or the front matter.
fn yaml_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
                ) =>
            {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The lines of a sequence of blocks, a blank line between blocks.
fn blocks(blocks: &[Block]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    // Two lists of the same kind one after the other would read as one list: the second one
    // takes the other marker.
    let mut previous_marker: Option<char> = None;
    for segment in common::segments(blocks) {
        let (segment_lines, marker) = match segment {
            Segment::Block(block) => block_lines(block, previous_marker),
            Segment::Actions(actions) => (action_table(&actions), None),
        };
        previous_marker = marker;
        if segment_lines.is_empty() {
            continue;
        }
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(segment_lines);
    }
    lines
}

/// The lines of one block, and the list marker it used if it is a list.
fn block_lines(block: &Block, previous_marker: Option<char>) -> (Vec<String>, Option<char>) {
    match block {
        Block::Heading { level, content } => {
            let hashes = "#".repeat(usize::from((*level).clamp(1, 6)));
            let text = inline(content, Mode::SingleLine);
            (vec![format!("{hashes} {text}").trim_end().to_owned()], None)
        }
        Block::Paragraph { content } => {
            let text = inline(content, Mode::Block);
            if text.is_empty() {
                (Vec::new(), None)
            } else {
                (text.lines().map(str::to_owned).collect(), None)
            }
        }
        Block::BulletList { items } | Block::TaskList { items } => {
            let marker = if previous_marker == Some('-') {
                '*'
            } else {
                '-'
            };
            let task = matches!(block, Block::TaskList { .. });
            let lines = list(items, |item, _| {
                let mut prefix = format!("{marker} ");
                if task {
                    prefix.push_str(if item.checked == Some(true) {
                        "[x] "
                    } else {
                        "[ ] "
                    });
                }
                prefix
            });
            (lines, Some(marker))
        }
        Block::OrderedList { start, items } => {
            let delimiter = if previous_marker == Some('.') {
                ')'
            } else {
                '.'
            };
            // CommonMark numbers have at most nine digits.
            let start = u64::from((*start).min(999_999_999));
            let lines = list(items, |_, index| {
                let number = (start + index as u64).min(999_999_999);
                format!("{number}{delimiter} ")
            });
            (lines, Some(delimiter))
        }
        Block::Blockquote { blocks: inner } => {
            let lines = blocks(inner)
                .into_iter()
                .map(|line| {
                    if line.is_empty() {
                        ">".to_owned()
                    } else {
                        format!("> {line}")
                    }
                })
                .collect();
            (lines, None)
        }
        Block::CodeBlock { language, text } => (code_block(language.as_deref(), text), None),
        Block::Rule => (vec!["---".to_owned()], None),
        Block::Table { rows } => (table(rows), None),
        Block::Action(action) => (action_table(&[action]), None),
    }
}

/// A list: each item's lines, the first after its marker, the others indented to the item's
/// content column.
fn list(items: &[ListItem], marker: impl Fn(&ListItem, usize) -> String) -> Vec<String> {
    let mut lines = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let prefix = marker(item, index);
        // A task's checkbox belongs to the item's text: continuation lines align with the
        // bullet's content, not with the text after the box.
        let indent = " ".repeat(prefix.find('[').unwrap_or(prefix.len()));
        let item_lines = item_blocks(&item.blocks);
        if item_lines.is_empty() {
            lines.push(prefix.trim_end().to_owned());
            continue;
        }
        for (line_index, line) in item_lines.into_iter().enumerate() {
            if line_index == 0 && line == "---" {
                // `- ---` would be read as one thematic break, not an item holding one.
                lines.push(format!("{prefix}___"));
            } else if line_index == 0 {
                lines.push(format!("{prefix}{line}").trim_end().to_owned());
            } else if line.is_empty() {
                lines.push(line);
            } else {
                lines.push(format!("{indent}{line}"));
            }
        }
    }
    lines
}

/// The blocks of a list item. A list right after the item's paragraph needs no blank line,
/// which keeps lists tight.
fn item_blocks(item_blocks: &[Block]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut previous_marker = None;
    for segment in common::segments(item_blocks) {
        let (segment_lines, marker, is_list, segment_block_start) = match segment {
            Segment::Block(block) => {
                let is_list = matches!(
                    block,
                    Block::BulletList { .. } | Block::OrderedList { .. } | Block::TaskList { .. }
                );
                let start = match block {
                    Block::OrderedList { start, .. } => Some(*start),
                    _ => None,
                };
                let (segment_lines, marker) = block_lines(block, previous_marker);
                (segment_lines, marker, is_list, start)
            }
            Segment::Actions(actions) => (action_table(&actions), None, false, None),
        };
        previous_marker = marker;
        if segment_lines.is_empty() {
            continue;
        }
        // An ordered list may interrupt a paragraph only when it starts at 1.
        let interrupts = is_list && !matches!(segment_block_start, Some(start) if start != 1);
        if !lines.is_empty() && !interrupts {
            lines.push(String::new());
        }
        lines.extend(segment_lines);
    }
    lines
}

fn code_block(language: Option<&str>, text: &str) -> Vec<String> {
    let longest_backticks = longest_run(text, '`');
    let fence = "`".repeat(longest_backticks.max(2) + 1);
    // The info string may not hold a backtick; anything unusual is dropped rather than escaped.
    let language = language
        .filter(|language| {
            !language.is_empty()
                && language
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-.#".contains(c))
        })
        .unwrap_or("");
    let mut lines = vec![format!("{fence}{language}")];
    let text = text.strip_suffix('\n').unwrap_or(text);
    if !text.is_empty() {
        lines.extend(
            text.split('\n')
                .map(|line| line.trim_end_matches('\r').to_owned()),
        );
    }
    lines.push(fence);
    lines
}

fn longest_run(text: &str, wanted: char) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for c in text.chars() {
        if c == wanted {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

/// A GFM pipe table. GFM requires a header row: a table without one gets an empty header.
/// Spans have no pipe-table form: covered slots are written as empty cells.
fn table(rows: &[relais_crdt::model::TableRow]) -> Vec<String> {
    let grid = common::grid(rows);
    if grid.columns == 0 {
        return Vec::new();
    }
    let row_cells = |slots: &[Slot<'_>]| -> Vec<String> {
        let mut cells: Vec<String> = slots
            .iter()
            .map(|slot| match slot {
                Slot::Cell { cell, .. } => cell_text(&cell.blocks),
                Slot::Covered { .. } | Slot::Empty => String::new(),
            })
            .collect();
        cells.resize(grid.columns, String::new());
        cells
    };
    let mut body_rows = grid.rows.iter();
    let header = if grid.has_header_row() {
        body_rows.next().map(|slots| row_cells(slots))
    } else {
        None
    };
    let header = header.unwrap_or_else(|| vec![String::new(); grid.columns]);
    let mut lines = vec![
        pipe_row(&header),
        pipe_row(&vec!["---".to_owned(); grid.columns]),
    ];
    lines.extend(body_rows.map(|slots| pipe_row(&row_cells(slots))));
    lines
}

fn pipe_row(cells: &[String]) -> String {
    let mut line = String::from("|");
    for cell in cells {
        line.push(' ');
        line.push_str(cell);
        if !cell.is_empty() {
            line.push(' ');
        }
        line.push('|');
    }
    line
}

/// A table cell's blocks on one line: paragraphs and headings with their formatting, other
/// blocks as their text.
fn cell_text(blocks: &[Block]) -> String {
    let mut parts = Vec::new();
    for block in blocks {
        match block {
            Block::Heading { content, .. } | Block::Paragraph { content } => {
                parts.push(inline(content, Mode::TableCell));
            }
            other => {
                let mut lines = Vec::new();
                common::blocks_text(std::slice::from_ref(other), &mut lines);
                for line in lines {
                    parts.push(escape_plain(&line, Mode::TableCell));
                }
            }
        }
    }
    parts.retain(|part| !part.is_empty());
    parts.join(" ")
}

/// Action items as a table under a bold « Actions ».
fn action_table(actions: &[&relais_crdt::model::ActionItem]) -> Vec<String> {
    let mut lines = vec![format!("**{}**", common::ACTIONS_CAPTION), String::new()];
    let headers: Vec<String> = common::ACTION_HEADERS
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    lines.push(pipe_row(&headers));
    lines.push(pipe_row(&vec!["---".to_owned(); headers.len()]));
    for action in actions {
        lines.push(pipe_row(&[
            escape_plain(&action.assignee, Mode::TableCell),
            inline(&action.content, Mode::TableCell),
            escape_plain(&common::due_label(action), Mode::TableCell),
            escape_plain(common::status_label(action.status), Mode::TableCell),
        ]));
    }
    lines
}

/// Where inline content goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A paragraph: hard breaks are backslash line breaks.
    Block,
    /// A heading: one line, hard breaks as spaces.
    SingleLine,
    /// A pipe table cell: one line, `|` escaped even in code.
    TableCell,
}

fn escape_plain(text: &str, mode: Mode) -> String {
    let mut writer = InlineWriter::new(mode);
    writer.text(text, &Marks::default());
    writer.finish()
}

fn inline(content: &[Inline], mode: Mode) -> String {
    let mut writer = InlineWriter::new(mode);
    for node in content {
        match node {
            Inline::Text { text, marks } => writer.text(text, marks),
            Inline::Break => writer.hard_break(),
        }
    }
    writer.finish()
}

#[derive(Clone, PartialEq, Eq)]
enum Mark {
    Link(String),
    Bold,
    Italic,
    Strike,
}

impl Mark {
    fn opener(&self) -> &'static str {
        match self {
            Mark::Link(_) => "[",
            Mark::Bold => "**",
            Mark::Italic => "*",
            Mark::Strike => "~~",
        }
    }
}

/// Writes runs of text, opening and closing marks as the runs change, like a stack: a mark
/// still wanted stays open across runs, so `a` bold then `b` bold italic is `**a*b***`.
/// Emphasis delimiters may not touch whitespace on their inner side, so whitespace at the edge
/// of a run is moved outside the delimiters.
struct InlineWriter {
    out: String,
    mode: Mode,
    open: Vec<Mark>,
    /// Whitespace and hard breaks seen but not written yet: they are written only before more
    /// text, so that none ends a paragraph (a final backslash would be literal) or sits inside
    /// a delimiter.
    pending_space: bool,
    pending_breaks: usize,
    line_start: bool,
}

impl InlineWriter {
    fn new(mode: Mode) -> InlineWriter {
        InlineWriter {
            out: String::new(),
            mode,
            open: Vec::new(),
            pending_space: false,
            pending_breaks: 0,
            line_start: true,
        }
    }

    fn hard_break(&mut self) {
        match self.mode {
            Mode::Block => self.pending_breaks += 1,
            Mode::SingleLine | Mode::TableCell => self.pending_space = true,
        }
    }

    fn text(&mut self, text: &str, marks: &Marks) {
        // A line break inside a run is a soft break in the editor's model: a space here, since
        // a real one would let the next line start a block.
        let text = text.replace(['\r', '\n'], " ");
        let text = text.as_str();
        if text.is_empty() {
            return;
        }
        let mut wanted = Vec::new();
        if let Some(href) = marks
            .link
            .as_deref()
            .and_then(|href| common::safe_href(href, Links::WithRelative))
        {
            wanted.push(Mark::Link(href));
        }
        if marks.bold {
            wanted.push(Mark::Bold);
        }
        if marks.italic {
            wanted.push(Mark::Italic);
        }
        if marks.strike {
            wanted.push(Mark::Strike);
        }
        let (core, trailing_space) = if marks.code {
            (text, false)
        } else {
            let trimmed_start = text.trim_start();
            if trimmed_start.is_empty() {
                self.pending_space = true;
                return;
            }
            if trimmed_start.len() < text.len() {
                // Leading whitespace stays outside any delimiter opened for this run.
                self.close_unwanted(&wanted);
                self.pending_space = true;
            }
            let core = trimmed_start.trim_end();
            (core, core.len() < trimmed_start.len())
        };
        self.close_unwanted(&wanted);
        self.flush_pending();
        for mark in wanted {
            if !self.open.contains(&mark) {
                self.out.push_str(mark.opener());
                self.line_start = false;
                self.open.push(mark);
            }
        }
        if marks.code {
            self.code_span(core);
        } else {
            self.escaped(core);
        }
        self.pending_space |= trailing_space;
    }

    fn close_unwanted(&mut self, wanted: &[Mark]) {
        let keep = self
            .open
            .iter()
            .take_while(|mark| wanted.contains(mark))
            .count();
        while self.open.len() > keep {
            self.close_top();
        }
    }

    fn close_top(&mut self) {
        match self.open.pop() {
            Some(Mark::Link(href)) => {
                // The pointy-bracket form allows any character but `<`, `>` and line breaks,
                // which are escaped.
                self.out.push_str("](<");
                for c in href.chars() {
                    if matches!(c, '<' | '>' | '\\') {
                        self.out.push('\\');
                    }
                    self.out.push(c);
                }
                self.out.push_str(">)");
            }
            Some(mark) => self.out.push_str(mark.opener()),
            None => {}
        }
    }

    fn flush_pending(&mut self) {
        for _ in 0..self.pending_breaks {
            self.out.push_str("\\\n");
            self.line_start = true;
        }
        self.pending_breaks = 0;
        // Whitespace at the start of a line would be stripped, or read as indentation.
        if self.pending_space && !self.line_start {
            self.out.push(' ');
        }
        self.pending_space = false;
    }

    fn code_span(&mut self, code: &str) {
        let code = if self.mode == Mode::TableCell {
            code.replace('|', "\\|")
        } else {
            code.to_owned()
        };
        let fence = "`".repeat(longest_run(&code, '`') + 1);
        // One space is stripped from each side when both are there; padding keeps backticks
        // and such spaces in the code.
        let pad = code.starts_with('`')
            || code.ends_with('`')
            || (code.starts_with(' ') && code.ends_with(' ') && code.trim() != "");
        self.out.push_str(&fence);
        if pad {
            self.out.push(' ');
        }
        self.out.push_str(&code);
        if pad {
            self.out.push(' ');
        }
        self.out.push_str(&fence);
        self.line_start = false;
    }

    fn escaped(&mut self, text: &str) {
        let chars: Vec<char> = text.chars().collect();
        let mut index = 0;
        while index < chars.len() {
            let c = chars[index];
            if self.line_start {
                self.line_start = false;
                if matches!(c, '-' | '+' | '=') {
                    self.out.push('\\');
                    self.out.push(c);
                    index += 1;
                    continue;
                }
                if c.is_ascii_digit() {
                    // `12.` or `12)` would start an ordered list: escape the delimiter.
                    let digits = chars[index..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    self.out.extend(&chars[index..index + digits]);
                    index += digits;
                    if let Some(&delimiter @ ('.' | ')')) = chars.get(index) {
                        self.out.push('\\');
                        self.out.push(delimiter);
                        index += 1;
                    }
                    continue;
                }
            }
            match c {
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '|' => {
                    self.out.push('\\');
                    self.out.push(c);
                }
                // `&amp;` or `&#60;` would be read as a character reference.
                '&' if chars
                    .get(index + 1)
                    .is_some_and(|next| next.is_ascii_alphanumeric() || *next == '#') =>
                {
                    self.out.push_str("\\&");
                }
                // A tab at a line's content start cannot happen (whitespace is moved out), and
                // elsewhere it is ordinary whitespace.
                c => self.out.push(c),
            }
            index += 1;
        }
    }

    fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close_top();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    use relais_crdt::model::{ActionItem, ActionStatus, TableCell, TableRow};

    use super::*;
    use crate::Seal;
    use crate::sample::{item, marked, paragraph, text};

    fn body(blocks: Vec<Block>) -> String {
        let out = markdown(&Content { blocks }, &Metadata::default());
        // Everything after the front matter.
        let (_, rest) = out
            .split_once("---\n")
            .and_then(|(_, r)| r.split_once("---\n"))
            .unwrap();
        rest.trim_start_matches('\n').to_owned()
    }

    /// What a CommonMark + GFM parser makes of `markdown`: its events as short strings.
    fn parse(markdown: &str) -> Vec<String> {
        let options =
            Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
        let mut events: Vec<String> = Vec::new();
        for event in Parser::new_ext(markdown, options) {
            // The parser may split text at escapes: adjacent pieces are joined.
            if let Event::Text(text) = &event
                && let Some(previous) = events.last_mut().filter(|e| e.starts_with("text("))
            {
                previous.pop();
                previous.push_str(text);
                previous.push(')');
                continue;
            }
            events.push(match event {
                Event::Start(Tag::Link { dest_url, .. }) => format!("link({dest_url})"),
                Event::Start(tag) => format!("{tag:?}")
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap()
                    .to_owned(),
                Event::End(TagEnd::Link) => "/link".to_owned(),
                Event::End(tag) => format!("/{tag:?}")
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap()
                    .to_owned(),
                Event::Text(text) => format!("text({text})"),
                Event::Code(code) => format!("code({code})"),
                Event::TaskListMarker(checked) => format!("task({checked})"),
                other => format!("{other:?}"),
            });
        }
        events
    }

    /// The text a parser reads back from `markdown`, joined.
    fn parsed_text(markdown: &str) -> String {
        parse(markdown)
            .iter()
            .filter_map(|event| {
                event
                    .strip_prefix("text(")
                    .and_then(|t| t.strip_suffix(')'))
            })
            .collect()
    }

    #[test]
    fn text_cannot_become_markup() {
        let hostile = "**gras** _it_ <script>alert(1)</script> [x](javascript:1) `c` | ~~s~~ &amp; \\ # h ![i](x)";
        let out = body(vec![paragraph(vec![text(hostile)])]);
        let events = parse(&out);
        assert_eq!(
            events,
            ["Paragraph", &format!("text({hostile})"), "/Paragraph"]
                .map(String::from)
                .to_vec(),
            "{out}"
        );
    }

    #[test]
    fn line_starts_cannot_become_blocks() {
        for start in [
            "# titre",
            "- item",
            "+ item",
            "1. item",
            "12) item",
            "> citation",
            "---",
            "===",
            "    code",
            "```",
            "| a | b |",
        ] {
            let out = body(vec![paragraph(vec![
                text("avant"),
                Inline::Break,
                text(start),
            ])]);
            let events = parse(&out);
            assert_eq!(
                events.first().map(String::as_str),
                Some("Paragraph"),
                "{start:?} gave {out:?}: {events:?}"
            );
            assert_eq!(
                events.iter().filter(|e| e.as_str() == "Paragraph").count(),
                1,
                "{out:?}"
            );
            assert!(
                !events.iter().any(|e| e.starts_with("Heading")
                    || e.starts_with("List")
                    || e.starts_with("Table")),
                "{out:?}"
            );
            let single = body(vec![paragraph(vec![text(start)])]);
            assert_eq!(
                parse(&single).first().map(String::as_str),
                Some("Paragraph"),
                "{single:?}"
            );
            assert_eq!(parsed_text(&single), start.trim_start(), "{single:?}");
        }
    }

    #[test]
    fn marks_nest_and_keep_whitespace_outside() {
        let bold = Marks {
            bold: true,
            ..Marks::default()
        };
        let bold_italic = Marks {
            bold: true,
            italic: true,
            ..Marks::default()
        };
        let out = body(vec![paragraph(vec![
            text("Le "),
            marked("comité ", bold.clone()),
            marked("décide", bold_italic),
            text(" : "),
            marked(
                "rien",
                Marks {
                    strike: true,
                    ..Marks::default()
                },
            ),
        ])]);
        assert_eq!(out, "Le **comité *décide*** : ~~rien~~\n");
        assert_eq!(
            parse(&out),
            [
                "Paragraph",
                "text(Le )",
                "Strong",
                "text(comité )",
                "Emphasis",
                "text(décide)",
                "/Emphasis",
                "/Strong",
                "text( : )",
                "Strikethrough",
                "text(rien)",
                "/Strikethrough",
                "/Paragraph"
            ]
        );
    }

    #[test]
    fn links_are_kept_only_when_safe() {
        let link = |href: &str| Marks {
            link: Some(href.into()),
            ..Marks::default()
        };
        let out = body(vec![paragraph(vec![
            marked(
                "site",
                link("https://www.collectivites-locales.gouv.fr/a b"),
            ),
            text(" et "),
            marked("piège", link("javascript:alert(1)")),
            text(" et "),
            marked(
                "code",
                Marks {
                    code: true,
                    ..link("/doc/1")
                },
            ),
        ])]);
        assert_eq!(
            parse(&out),
            [
                "Paragraph",
                "link(https://www.collectivites-locales.gouv.fr/a b)",
                "text(site)",
                "/link",
                "text( et piège et )",
                "link(/doc/1)",
                "code(code)",
                "/link",
                "/Paragraph"
            ],
            "{out}"
        );
    }

    #[test]
    fn code_spans_hold_backticks() {
        let code = Marks {
            code: true,
            ..Marks::default()
        };
        let out = body(vec![paragraph(vec![
            marked("a `b` c", code.clone()),
            text(" "),
            marked("`", code),
        ])]);
        assert_eq!(
            parse(&out),
            [
                "Paragraph",
                "code(a `b` c)",
                "text( )",
                "code(`)",
                "/Paragraph"
            ],
            "{out}"
        );
    }

    #[test]
    fn trailing_breaks_do_not_leave_a_backslash() {
        let out = body(vec![paragraph(vec![text("fin"), Inline::Break])]);
        assert_eq!(out, "fin\n");
    }

    #[test]
    fn lists_nest_by_indentation() {
        let out = body(vec![
            Block::BulletList {
                items: vec![
                    item(vec![
                        paragraph(vec![text("un")]),
                        Block::OrderedList {
                            start: 1,
                            items: vec![
                                item(vec![paragraph(vec![text("premier")])]),
                                item(vec![paragraph(vec![text("second")])]),
                            ],
                        },
                    ]),
                    item(vec![paragraph(vec![text("deux")])]),
                ],
            },
            Block::BulletList {
                items: vec![item(vec![paragraph(vec![text("autre liste")])])],
            },
            Block::TaskList {
                items: vec![
                    ListItem {
                        checked: Some(true),
                        blocks: vec![paragraph(vec![text("fait")])],
                    },
                    ListItem {
                        checked: Some(false),
                        blocks: vec![paragraph(vec![text("à faire")])],
                    },
                ],
            },
        ]);
        assert_eq!(
            out,
            "- un\n  1. premier\n  2. second\n- deux\n\n* autre liste\n\n- [x] fait\n- [ ] à faire\n"
        );
        let events = parse(&out);
        assert_eq!(
            events.iter().filter(|e| e.starts_with("List")).count(),
            4,
            "{events:?}"
        );
        assert!(
            events.contains(&"task(true)".to_owned()) && events.contains(&"task(false)".to_owned())
        );
        assert!(
            !events.contains(&"Paragraph".to_owned()),
            "tight lists: {events:?}"
        );

        // An ordered list not starting at 1 cannot interrupt a paragraph: a blank line comes
        // first.
        let out = body(vec![Block::BulletList {
            items: vec![item(vec![
                paragraph(vec![text("un")]),
                Block::OrderedList {
                    start: 9,
                    items: vec![
                        item(vec![paragraph(vec![text("neuf")])]),
                        item(vec![paragraph(vec![text("dix")])]),
                    ],
                },
            ])],
        }]);
        assert_eq!(out, "- un\n\n  9. neuf\n  10. dix\n");
        assert!(
            parse(&out).contains(&"List".to_owned())
                && parse(&out).contains(&"text(neuf)".to_owned())
        );
        let events = parse(&out);
        assert_eq!(
            events.iter().filter(|e| e.starts_with("List")).count(),
            2,
            "{events:?}"
        );

        // A rule alone in an item is not read as a rule replacing the item.
        let out = body(vec![Block::BulletList {
            items: vec![item(vec![Block::Rule])],
        }]);
        assert_eq!(out, "- ___\n");
        assert_eq!(parse(&out), ["List", "Item", "Rule", "/Item", "/List"]);
    }

    #[test]
    fn tables_escape_pipes() {
        let cell = |header: bool, content: Vec<Inline>| TableCell {
            header,
            colspan: 1,
            rowspan: 1,
            blocks: vec![paragraph(content)],
        };
        let code = Marks {
            code: true,
            ..Marks::default()
        };
        let out = body(vec![Block::Table {
            rows: vec![
                TableRow {
                    cells: vec![
                        cell(true, vec![text("Qui")]),
                        cell(true, vec![text("Quoi")]),
                    ],
                },
                TableRow {
                    cells: vec![
                        cell(false, vec![text("a | b")]),
                        cell(false, vec![marked("x|y", code)]),
                    ],
                },
            ],
        }]);
        assert_eq!(
            out,
            "| Qui | Quoi |\n| --- | --- |\n| a \\| b | `x\\|y` |\n"
        );
        let events = parse(&out);
        assert!(events.contains(&"text(a | b)".to_owned()), "{events:?}");
        assert!(events.contains(&"code(x|y)".to_owned()), "{events:?}");
    }

    #[test]
    fn code_blocks_are_fenced_longer_than_their_backticks() {
        let out = body(vec![Block::CodeBlock {
            language: Some("rust".into()),
            text: "let a = 1;\n```\n".into(),
        }]);
        assert_eq!(out, "````rust\nlet a = 1;\n```\n````\n");
        let hostile = body(vec![Block::CodeBlock {
            language: Some("x`y z".into()),
            text: "a".into(),
        }]);
        assert_eq!(hostile, "```\na\n```\n");
    }

    #[test]
    fn front_matter_holds_the_metadata_escaped() {
        let meta = Metadata {
            title: "Compte rendu \"CoPil\"\n---".into(),
            version_label: "Version 12 — « Avant comité de pilotage »".into(),
            created_at: "14 mars 2025".into(),
            authors: vec!["Anne".into(), "Bruno".into()],
            seal: Some(Seal {
                sha256: "ab".repeat(32),
                validator: "Claire".into(),
                validated_at: "15 mars 2025".into(),
                comment: "OK".into(),
            }),
        };
        let out = markdown(&Content::default(), &meta);
        assert!(
            out.starts_with("---\ntitle: \"Compte rendu \\\"CoPil\\\"\\n---\"\n"),
            "{out}"
        );
        assert!(out.contains(&format!("sha256: \"{}\"\n", "ab".repeat(32))));
        assert!(out.contains("authors:\n  - \"Anne\"\n  - \"Bruno\"\n"));
        assert!(out.ends_with("---\n"));
    }

    #[test]
    fn actions_become_a_table() {
        let out = body(vec![Block::Action(ActionItem {
            assignee: "Mairie | DGS".into(),
            due: Some("2025-04-01".into()),
            status: ActionStatus::Open,
            content: vec![text("Envoyer le compte rendu")],
        })]);
        assert!(
            out.contains("| Mairie \\| DGS | Envoyer le compte rendu | 01/04/2025 | À faire |"),
            "{out}"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let content = Content {
            blocks: vec![paragraph(vec![text("a")]), Block::Rule],
        };
        assert_eq!(
            markdown(&content, &Metadata::default()),
            markdown(&content, &Metadata::default())
        );
    }
}
