//! What every format shares: which links are kept, French wording and dates, runs of action
//! items, and the grid a table with spans makes.

use relais_crdt::model::{ActionItem, ActionStatus, Block, Inline, TableCell, TableRow};

use crate::Metadata;

/// Shown for a document without a title.
pub(crate) const UNTITLED: &str = "Document sans titre";

/// Headers of the table of action items.
pub(crate) const ACTIONS_CAPTION: &str = "Actions";
pub(crate) const ACTION_HEADERS: [&str; 4] = ["Responsable", "Action", "Échéance", "Statut"];

pub(crate) fn title(meta: &Metadata) -> &str {
    let title = meta.title.trim();
    if title.is_empty() { UNTITLED } else { title }
}

/// The metadata in one line, for the description field of office files' properties.
pub(crate) fn description(meta: &Metadata) -> String {
    let mut parts = Vec::new();
    if !meta.version_label.is_empty() {
        parts.push(meta.version_label.clone());
    }
    if !meta.created_at.is_empty() {
        parts.push(format!("créée le {}", meta.created_at));
    }
    if let Some(seal) = &meta.seal {
        parts.push(format!(
            "validée le {} par {}",
            seal.validated_at, seal.validator
        ));
        parts.push(format!("empreinte SHA-256 : {}", seal.sha256));
    }
    parts.join(" — ")
}

/// Which link addresses a format keeps (see [`crate::Format`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// `http`, `https`, `mailto` and relative addresses.
    WithRelative,
    /// Absolute `http`, `https` and `mailto` addresses only.
    AbsoluteOnly,
}

/// The address to write for a link to `href`, or `None` when the link must be dropped and its
/// text written alone.
///
/// Browsers remove tabs and line breaks anywhere in an address and ignore leading and trailing
/// control characters and spaces, so `java\tscript:` is `javascript:` to them: the scheme is
/// judged, and the address written, after the same clean-up.
pub(crate) fn safe_href(href: &str, links: Links) -> Option<String> {
    let cleaned: String = href
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if cleaned.is_empty() || cleaned.chars().any(|c| c.is_control()) {
        return None;
    }
    // A colon before any `/`, `?` or `#` ends a scheme. Anything that looks like one is judged as
    // one, even where a URL parser would call it a relative path: refusing is the safe side.
    let end_of_first_segment = cleaned.find(['/', '?', '#']).unwrap_or(cleaned.len());
    match cleaned[..end_of_first_segment].find(':') {
        Some(colon) => {
            let scheme = cleaned[..colon].to_ascii_lowercase();
            let rest = &cleaned[colon + 1..];
            let allowed = match scheme.as_str() {
                "http" | "https" => rest.starts_with("//") && rest.len() > 2,
                "mailto" => !rest.is_empty(),
                _ => false,
            };
            allowed.then_some(cleaned)
        }
        None => (links == Links::WithRelative).then_some(cleaned),
    }
}

/// A kept link address as a strict URI, for office files and HTML: Word reports a file as
/// damaged when a relationship target is not a valid URI, and HTML validators reject such
/// addresses, so spaces, quotes, non-ASCII characters and the like are percent-encoded (UTF-8),
/// and a `%` that does not start an escape is encoded too.
pub(crate) fn strict_uri(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut uri = String::with_capacity(href.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let is_escape = byte == b'%'
            && bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit);
        let allowed = byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&byte);
        if allowed || is_escape {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// `YYYY-MM-DD` as `DD/MM/YYYY`; anything else unchanged.
pub(crate) fn french_date(iso: &str) -> String {
    let bytes = iso.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
    {
        format!("{}/{}/{}", &iso[8..10], &iso[5..7], &iso[0..4])
    } else {
        iso.to_owned()
    }
}

/// The due date of an action as printed in its table.
pub(crate) fn due_label(action: &ActionItem) -> String {
    match &action.due {
        Some(due) => french_date(due),
        None => "Non fixée".to_owned(),
    }
}

pub(crate) fn status_label(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Open => "À faire",
        ActionStatus::Done => "Fait",
    }
}

/// Blocks as the exports lay them out: consecutive action items become one table.
pub(crate) enum Segment<'a> {
    Block(&'a Block),
    Actions(Vec<&'a ActionItem>),
}

pub(crate) fn segments(blocks: &[Block]) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    for block in blocks {
        match block {
            Block::Action(action) => match segments.last_mut() {
                Some(Segment::Actions(actions)) => actions.push(action),
                _ => segments.push(Segment::Actions(vec![action])),
            },
            block => segments.push(Segment::Block(block)),
        }
    }
    segments
}

/// The text of inline content, hard breaks as spaces.
pub(crate) fn plain_text(content: &[Inline]) -> String {
    let mut text = String::new();
    for inline in content {
        match inline {
            Inline::Text { text: run, .. } => text.push_str(run),
            Inline::Break => text.push(' '),
        }
    }
    text
}

/// The text of blocks, one line per paragraph-like block.
pub(crate) fn blocks_text(blocks: &[Block], lines: &mut Vec<String>) {
    for block in blocks {
        match block {
            Block::Heading { content, .. } | Block::Paragraph { content } => {
                lines.push(plain_text(content));
            }
            Block::BulletList { items }
            | Block::OrderedList { items, .. }
            | Block::TaskList { items } => {
                for item in items {
                    blocks_text(&item.blocks, lines);
                }
            }
            Block::Blockquote { blocks } => blocks_text(blocks, lines),
            Block::CodeBlock { text, .. } => lines.extend(text.lines().map(str::to_owned)),
            Block::Rule => {}
            Block::Table { rows } => {
                for row in rows {
                    for cell in &row.cells {
                        blocks_text(&cell.blocks, lines);
                    }
                }
            }
            Block::Action(action) => lines.push(plain_text(&action.content)),
        }
    }
}

/// Limits on spans, so that a hostile `colspan` or `rowspan` cannot make a grid of billions of
/// slots: a table is no wider than Word allows (63 columns) through spans, and spans cover at
/// most [`MAX_SPANNED_SLOTS`] slots in all; beyond that a cell spans one slot.
const MAX_COLUMNS_BY_SPAN: usize = 63;
const MAX_SPANNED_SLOTS: usize = 100_000;

/// One slot of a table's grid.
pub(crate) enum Slot<'a> {
    /// Where a cell starts, with the spans it really gets.
    Cell {
        cell: &'a TableCell,
        colspan: usize,
        rowspan: usize,
    },
    /// Covered by the cell starting at (`origin_row`, `origin_column`), which spans `colspan`
    /// columns.
    Covered {
        origin_row: usize,
        origin_column: usize,
        colspan: usize,
    },
    /// No cell: a row with fewer cells than the slots a cell above covers further right.
    Empty,
}

/// A table laid out on a grid: rows of slots, each row as long as its cells and spans make it
/// (rows may be shorter than `columns`).
pub(crate) struct Grid<'a> {
    pub(crate) columns: usize,
    pub(crate) rows: Vec<Vec<Slot<'a>>>,
}

impl Grid<'_> {
    /// Whether the first row holds only header cells: it is then the table's header row.
    pub(crate) fn has_header_row(&self) -> bool {
        self.rows.first().is_some_and(|row| {
            row.iter().any(|slot| matches!(slot, Slot::Cell { .. }))
                && row.iter().all(|slot| match slot {
                    Slot::Cell { cell, .. } => cell.header,
                    Slot::Covered { .. } | Slot::Empty => true,
                })
        })
    }
}

pub(crate) fn grid(rows: &[TableRow]) -> Grid<'_> {
    let mut grid: Vec<Vec<Option<Slot<'_>>>> = rows.iter().map(|_| Vec::new()).collect();
    let taken = |grid: &[Vec<Option<Slot<'_>>>], row: usize, column: usize| {
        matches!(grid[row].get(column), Some(Some(_)))
    };
    let mut spanned_slots = 0usize;
    for (row_index, row) in rows.iter().enumerate() {
        let mut column = 0;
        for cell in &row.cells {
            while taken(&grid, row_index, column) {
                column += 1;
            }
            let wanted_colspan = usize::try_from(cell.colspan).unwrap_or(usize::MAX);
            let wanted_rowspan = usize::try_from(cell.rowspan).unwrap_or(usize::MAX);
            let mut colspan = wanted_colspan
                .min(MAX_COLUMNS_BY_SPAN.saturating_sub(column))
                .max(1);
            let mut rowspan = wanted_rowspan.min(rows.len() - row_index).max(1);
            if colspan.saturating_mul(rowspan) > MAX_SPANNED_SLOTS - spanned_slots {
                colspan = 1;
                rowspan = 1;
            }
            // A span stops where a cell above already covers a slot.
            if let Some(offset) =
                (column..column + colspan).position(|c| taken(&grid, row_index, c))
            {
                colspan = offset.max(1);
            }
            if let Some(offset) = (row_index + 1..row_index + rowspan)
                .position(|r| (column..column + colspan).any(|c| taken(&grid, r, c)))
            {
                rowspan = offset + 1;
            }
            if colspan * rowspan > 1 {
                spanned_slots += colspan * rowspan;
            }
            for (r, slots) in grid.iter_mut().enumerate().skip(row_index).take(rowspan) {
                if slots.len() < column + colspan {
                    slots.resize_with(column + colspan, || None);
                }
                for (c, slot) in slots.iter_mut().enumerate().skip(column).take(colspan) {
                    *slot = Some(if r == row_index && c == column {
                        Slot::Cell {
                            cell,
                            colspan,
                            rowspan,
                        }
                    } else {
                        Slot::Covered {
                            origin_row: row_index,
                            origin_column: column,
                            colspan,
                        }
                    });
                }
            }
            column += colspan;
        }
    }
    let columns = grid.iter().map(Vec::len).max().unwrap_or(0);
    let rows = grid
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|slot| slot.unwrap_or(Slot::Empty))
                .collect()
        })
        .collect();
    Grid { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn only_safe_link_schemes_are_kept() {
        let relative = Links::WithRelative;
        assert_eq!(
            safe_href("https://example.org/a?b#c", relative).as_deref(),
            Some("https://example.org/a?b#c")
        );
        assert_eq!(
            safe_href("HTTP://example.org", relative).as_deref(),
            Some("HTTP://example.org")
        );
        assert_eq!(
            safe_href("mailto:maire@example.fr", relative).as_deref(),
            Some("mailto:maire@example.fr")
        );
        assert_eq!(
            safe_href("/documents/42", relative).as_deref(),
            Some("/documents/42")
        );
        assert_eq!(
            safe_href("annexe.html#p2", relative).as_deref(),
            Some("annexe.html#p2")
        );
        for unsafe_href in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "file:///etc/passwd",
            "https:",
            "http:/x",
            "",
            "   ",
        ] {
            assert_eq!(safe_href(unsafe_href, relative), None, "{unsafe_href:?}");
        }
        assert_eq!(safe_href("/documents/42", Links::AbsoluteOnly), None);
        assert_eq!(
            safe_href("https://example.org", Links::AbsoluteOnly).as_deref(),
            Some("https://example.org")
        );
    }

    #[test]
    fn office_links_are_strict_uris() {
        assert_eq!(
            strict_uri("https://example.org/a b?q=é&r=100%25#x"),
            "https://example.org/a%20b?q=%C3%A9&r=100%25#x"
        );
        assert_eq!(
            strict_uri("https://example.org/100%"),
            "https://example.org/100%25"
        );
        assert_eq!(
            strict_uri("mailto:a@b.fr?subject=\"ok\""),
            "mailto:a@b.fr?subject=%22ok%22"
        );
    }

    #[test]
    fn dates_are_french() {
        assert_eq!(french_date("2025-03-14"), "14/03/2025");
        assert_eq!(french_date("mars"), "mars");
        assert_eq!(french_date("2025-3-14"), "2025-3-14");
        assert_eq!(french_date("éééé-03-14"), "éééé-03-14");
    }

    /// A plain cell, which the grid sees only through its spans.
    fn cell(text: &str, colspan: u32, rowspan: u32) -> TableCell {
        sample::cell(false, colspan, rowspan, text)
    }

    #[test]
    fn spans_cover_the_right_slots() {
        let rows = vec![
            TableRow {
                cells: vec![cell("a", 2, 1), cell("b", 1, 2)],
            },
            TableRow {
                cells: vec![cell("c", 1, 1), cell("d", 1, 1)],
            },
        ];
        let grid = grid(&rows);
        assert_eq!(grid.columns, 3);
        assert!(matches!(
            grid.rows[0][0],
            Slot::Cell {
                colspan: 2,
                rowspan: 1,
                ..
            }
        ));
        assert!(matches!(
            grid.rows[0][1],
            Slot::Covered {
                origin_row: 0,
                origin_column: 0,
                ..
            }
        ));
        assert!(matches!(
            grid.rows[0][2],
            Slot::Cell {
                colspan: 1,
                rowspan: 2,
                ..
            }
        ));
        assert!(matches!(
            grid.rows[1][2],
            Slot::Covered {
                origin_row: 0,
                origin_column: 2,
                ..
            }
        ));
        assert_eq!(grid.rows[1].len(), 3);
    }

    #[test]
    fn short_rows_under_a_span_get_empty_slots() {
        let rows = vec![
            TableRow {
                cells: vec![cell("a", 1, 1), cell("b", 1, 1), cell("c", 1, 2)],
            },
            TableRow {
                cells: vec![cell("d", 1, 1)],
            },
        ];
        let grid = grid(&rows);
        assert!(matches!(grid.rows[1][0], Slot::Cell { .. }));
        assert!(matches!(grid.rows[1][1], Slot::Empty));
        assert!(matches!(
            grid.rows[1][2],
            Slot::Covered {
                origin_row: 0,
                origin_column: 2,
                ..
            }
        ));
    }

    #[test]
    fn hostile_spans_are_bounded() {
        let rows: Vec<TableRow> = (0..3)
            .map(|_| TableRow {
                cells: vec![cell("x", u32::MAX, u32::MAX)],
            })
            .collect();
        let grid = grid(&rows);
        assert!(matches!(
            grid.rows[0][0],
            Slot::Cell {
                colspan: MAX_COLUMNS_BY_SPAN,
                rowspan: 3,
                ..
            }
        ));
        // The later rows' cells start right of the covered slots, one column each.
        assert!(matches!(
            grid.rows[1][MAX_COLUMNS_BY_SPAN],
            Slot::Cell {
                colspan: 1,
                rowspan: 2,
                ..
            }
        ));
        assert!(matches!(
            grid.rows[2][MAX_COLUMNS_BY_SPAN + 1],
            Slot::Cell {
                colspan: 1,
                rowspan: 1,
                ..
            }
        ));
        assert_eq!(grid.columns, MAX_COLUMNS_BY_SPAN + 2);
    }
}
