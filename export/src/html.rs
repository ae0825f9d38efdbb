//! HTML: a standalone, accessible HTML5 page in French, or just the content's HTML for the
//! server's public page to embed.
//!
//! Every text and attribute value is escaped; links are kept only for safe addresses (see
//! [`crate::Format`]). The page forbids scripts and every outside resource through its own
//! Content-Security-Policy, so a saved export cannot run or fetch anything even if an escaping
//! mistake slipped through.

use relais_crdt::model::{ActionItem, Block, Content, Inline, ListItem, Marks};

use crate::Metadata;
use crate::common::{self, Links, Segment, Slot};
use crate::xml::{escape, push_attribute, push_text};

/// Styles of the standalone page: readable on screen and in print, nothing fetched.
const STYLE: &str = "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:50rem;\
margin:2rem auto;padding:0 1rem;color:#161616}\
header{border-bottom:1px solid #ccc;margin-bottom:2rem}\
dl.metadata{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}\
dl.metadata dt{font-weight:bold}dl.metadata dd{margin:0}\
.validation{border-left:4px solid #18753c;padding:.5rem 1rem;margin:1rem 0;background:#f4f9f6}\
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #999;padding:.25rem .5rem;\
text-align:left;vertical-align:top}caption{font-weight:bold;text-align:left}\
ul.task-list{list-style:none;padding-left:1.5rem}\
pre{background:#f6f6f6;padding:.75rem;overflow-x:auto}\
code{font-family:ui-monospace,monospace}blockquote{border-left:4px solid #ccc;margin-left:0;\
padding-left:1rem;color:#444}";

/// The whole page: metadata in a header, the content in `<main>`.
pub fn html(content: &Content, meta: &Metadata) -> String {
    let title = common::title(meta);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<meta name=\"generator\" content=\"Relais\">\n");
    out.push_str("<title>");
    push_text(&mut out, title);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>");
    push_text(&mut out, title);
    out.push_str("</h1>\n<dl class=\"metadata\">\n");
    for (label, value) in [
        ("Version", meta.version_label.as_str()),
        ("Date", meta.created_at.as_str()),
    ] {
        if !value.is_empty() {
            definition(&mut out, label, value);
        }
    }
    if !meta.authors.is_empty() {
        let label = if meta.authors.len() == 1 {
            "Auteur"
        } else {
            "Auteurs"
        };
        definition(&mut out, label, &meta.authors.join(", "));
    }
    out.push_str("</dl>\n");
    if let Some(seal) = &meta.seal {
        out.push_str("<section class=\"validation\" aria-label=\"Validation\">\n<p><strong>Version validée</strong> le ");
        push_text(&mut out, &seal.validated_at);
        out.push_str(" par ");
        push_text(&mut out, &seal.validator);
        out.push_str(".</p>\n");
        if !seal.comment.is_empty() {
            out.push_str("<p>Commentaire : ");
            push_text(&mut out, &seal.comment);
            out.push_str("</p>\n");
        }
        out.push_str("<p>Empreinte SHA-256 : <code>");
        push_text(&mut out, &seal.sha256);
        out.push_str("</code></p>\n</section>\n");
    }
    out.push_str("</header>\n<main>\n");
    out.push_str(&html_body(content));
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn definition(out: &mut String, label: &str, value: &str) {
    out.push_str("<dt>");
    push_text(out, label);
    out.push_str("</dt><dd>");
    push_text(out, value);
    out.push_str("</dd>\n");
}

/// The content alone, as a sequence of block elements with no page around it.
pub fn html_body(content: &Content) -> String {
    let mut out = String::new();
    blocks(&mut out, &content.blocks);
    out
}

fn blocks(out: &mut String, blocks: &[Block]) {
    for segment in common::segments(blocks) {
        match segment {
            Segment::Block(block) => self::block(out, block),
            Segment::Actions(actions) => action_table(out, &actions),
        }
    }
}

fn block(out: &mut String, block: &Block) {
    match block {
        Block::Heading { level, content } => {
            let level = (*level).clamp(1, 6);
            out.push_str(&format!("<h{level}>"));
            inline(out, content);
            out.push_str(&format!("</h{level}>\n"));
        }
        Block::Paragraph { content } => {
            out.push_str("<p>");
            inline(out, content);
            out.push_str("</p>\n");
        }
        Block::BulletList { items } => {
            out.push_str("<ul>\n");
            list_items(out, items, false);
            out.push_str("</ul>\n");
        }
        Block::OrderedList { start, items } => {
            if *start == 1 {
                out.push_str("<ol>\n");
            } else {
                out.push_str(&format!("<ol start=\"{start}\">\n"));
            }
            list_items(out, items, false);
            out.push_str("</ol>\n");
        }
        Block::TaskList { items } => {
            out.push_str("<ul class=\"task-list\">\n");
            list_items(out, items, true);
            out.push_str("</ul>\n");
        }
        Block::Blockquote { blocks: inner } => {
            out.push_str("<blockquote>\n");
            blocks(out, inner);
            out.push_str("</blockquote>\n");
        }
        Block::CodeBlock { language, text } => {
            out.push_str("<pre><code");
            if let Some(language) = language.as_deref().filter(|language| {
                !language.is_empty()
                    && language
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
            }) {
                out.push_str(" class=\"language-");
                out.push_str(language);
                out.push('"');
            }
            out.push('>');
            push_text(out, text);
            out.push_str("</code></pre>\n");
        }
        Block::Rule => out.push_str("<hr>\n"),
        Block::Table { rows } => table(out, rows),
        Block::Action(action) => action_table(out, &[action]),
    }
}

fn list_items(out: &mut String, items: &[ListItem], task: bool) {
    for item in items {
        out.push_str(if task {
            "<li class=\"task-list-item\">"
        } else {
            "<li>"
        });
        let mut rest = item.blocks.as_slice();
        if task {
            let checked = if item.checked == Some(true) {
                " checked"
            } else {
                ""
            };
            // A label makes the box's name the item's text; when the item does not start with
            // text, the box is named by its state.
            if let Some((Block::Paragraph { content }, others)) = rest.split_first() {
                out.push_str(&format!(
                    "<label><input type=\"checkbox\" disabled{checked}> "
                ));
                inline(out, content);
                out.push_str("</label>");
                rest = others;
            } else {
                let state = if item.checked == Some(true) {
                    "Fait"
                } else {
                    "À faire"
                };
                out.push_str(&format!(
                    "<input type=\"checkbox\" disabled{checked} aria-label=\"{state}\">"
                ));
            }
        } else if let Some((Block::Paragraph { content }, others)) = rest.split_first()
            && others.iter().all(|block| {
                matches!(
                    block,
                    Block::BulletList { .. } | Block::OrderedList { .. } | Block::TaskList { .. }
                )
            })
        {
            // An item's text followed by nothing but sublists is written without `<p>`, as a
            // tight list.
            inline(out, content);
            rest = others;
        }
        if !rest.is_empty() {
            out.push('\n');
            blocks(out, rest);
        }
        out.push_str("</li>\n");
    }
}

fn table(out: &mut String, rows: &[relais_crdt::model::TableRow]) {
    let grid = common::grid(rows);
    if grid.rows.is_empty() {
        return;
    }
    let has_header_row = grid.has_header_row();
    out.push_str("<table>\n");
    for (row_index, slots) in grid.rows.iter().enumerate() {
        let in_header_row = has_header_row && row_index == 0;
        if in_header_row {
            out.push_str("<thead>\n");
        } else if row_index == usize::from(has_header_row) {
            out.push_str("<tbody>\n");
        }
        out.push_str("<tr>");
        for slot in slots {
            match slot {
                Slot::Cell {
                    cell,
                    colspan,
                    rowspan,
                } => {
                    let tag = if cell.header { "th" } else { "td" };
                    out.push('<');
                    out.push_str(tag);
                    if cell.header {
                        let scope = match (in_header_row, *colspan > 1, *rowspan > 1) {
                            (true, true, _) => "colgroup",
                            (true, false, _) => "col",
                            (false, _, true) => "rowgroup",
                            (false, _, false) => "row",
                        };
                        out.push_str(&format!(" scope=\"{scope}\""));
                    }
                    if *colspan > 1 {
                        out.push_str(&format!(" colspan=\"{colspan}\""));
                    }
                    if *rowspan > 1 {
                        out.push_str(&format!(" rowspan=\"{rowspan}\""));
                    }
                    out.push('>');
                    cell_blocks(out, &cell.blocks);
                    out.push_str("</");
                    out.push_str(tag);
                    out.push('>');
                }
                Slot::Covered { .. } => {}
                Slot::Empty => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
        if in_header_row {
            out.push_str("</thead>\n");
        }
    }
    if grid.rows.len() > usize::from(has_header_row) {
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n");
}

/// A cell's blocks; a lone paragraph without `<p>`.
fn cell_blocks(out: &mut String, cell_blocks: &[Block]) {
    if let [Block::Paragraph { content }] = cell_blocks {
        inline(out, content);
    } else {
        out.push('\n');
        blocks(out, cell_blocks);
    }
}

fn action_table(out: &mut String, actions: &[&ActionItem]) {
    out.push_str("<table class=\"actions\">\n<caption>");
    push_text(out, common::ACTIONS_CAPTION);
    out.push_str("</caption>\n<thead>\n<tr>");
    for header in common::ACTION_HEADERS {
        out.push_str("<th scope=\"col\">");
        push_text(out, header);
        out.push_str("</th>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for action in actions {
        out.push_str("<tr><td>");
        push_text(out, &action.assignee);
        out.push_str("</td><td>");
        inline(out, &action.content);
        out.push_str("</td><td>");
        let label = common::due_label(action);
        match action.due.as_deref() {
            // Only a date the French form could be made from is a machine-readable date.
            Some(due) if label != due => {
                out.push_str("<time datetime=\"");
                push_attribute(out, due);
                out.push_str("\">");
                push_text(out, &label);
                out.push_str("</time>");
            }
            _ => push_text(out, &label),
        }
        out.push_str("</td><td>");
        push_text(out, common::status_label(action.status));
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Inline content. Consecutive runs with the same link share one `<a>`, so that a link with a
/// bold word is still one link to assistive technologies.
fn inline(out: &mut String, content: &[Inline]) {
    let mut open_link: Option<String> = None;
    for node in content {
        let link = match node {
            Inline::Text { marks, .. } => marks
                .link
                .as_deref()
                .and_then(|href| common::safe_href(href, Links::WithRelative))
                // Validators reject spaces and the like in an address; browsers accept both.
                .map(|href| common::strict_uri(&href)),
            Inline::Break => open_link.clone(),
        };
        if link != open_link {
            if open_link.is_some() {
                out.push_str("</a>");
            }
            if let Some(href) = &link {
                out.push_str("<a href=\"");
                push_attribute(out, href);
                out.push_str("\" rel=\"noopener noreferrer\">");
            }
            open_link = link;
        }
        match node {
            Inline::Text { text, marks } => run(out, text, marks),
            Inline::Break => out.push_str("<br>"),
        }
    }
    if open_link.is_some() {
        out.push_str("</a>");
    }
}

fn run(out: &mut String, text: &str, marks: &Marks) {
    let tags: Vec<&str> = [
        (marks.bold, "strong"),
        (marks.italic, "em"),
        (marks.underline, "u"),
        (marks.strike, "s"),
        (marks.code, "code"),
    ]
    .into_iter()
    .filter_map(|(on, tag)| on.then_some(tag))
    .collect();
    for tag in &tags {
        out.push_str(&format!("<{tag}>"));
    }
    out.push_str(&escape(text));
    for tag in tags.iter().rev() {
        out.push_str(&format!("</{tag}>"));
    }
}

#[cfg(test)]
mod tests {
    use relais_crdt::model::{ActionStatus, TableRow};

    use super::*;
    use crate::Seal;
    use crate::sample::{self, item, linked, paragraph, text};

    fn body(blocks: Vec<Block>) -> String {
        html_body(&Content { blocks })
    }

    #[test]
    fn text_is_escaped() {
        let out = body(vec![paragraph(vec![text(
            "<script>alert('x')</script> & **gras** | \"q\"",
        )])]);
        assert_eq!(
            out,
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; **gras** | &quot;q&quot;</p>\n"
        );
    }

    #[test]
    fn metadata_is_escaped() {
        let meta = Metadata {
            title: "</title><script>alert(1)</script>".into(),
            version_label: "<b>v</b>".into(),
            created_at: "14 mars 2025".into(),
            authors: vec!["<i>Anne</i>".into()],
            seal: Some(Seal {
                sha256: "<x>".into(),
                validator: "<v>".into(),
                validated_at: "<d>".into(),
                comment: "<c>".into(),
            }),
        };
        let out = html(&Content::default(), &meta);
        assert!(!out.contains("<script>") && !out.contains("<b>") && !out.contains("<i>"));
        for tag in ["<x>", "<v>", "<d>", "<c>"] {
            assert!(!out.contains(tag), "{tag} in {out}");
        }
        assert!(out.contains("<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
    }

    #[test]
    fn unsafe_links_become_text() {
        let out = body(vec![paragraph(vec![
            linked("piège", "javascript:alert(1)"),
            text(" "),
            linked("données", "data:text/html,x"),
            text(" "),
            linked(
                "site",
                "https://www.collectivites-locales.gouv.fr/a b?a=1&b=\"2\"",
            ),
            text(" "),
            linked("annexe", "annexe.html"),
            text(" "),
            linked("écrire", "mailto:maire@example.fr"),
        ])]);
        assert_eq!(
            out,
            "<p>piège données <a href=\"https://www.collectivites-locales.gouv.fr/a%20b?a=1&amp;b=%222%22\" \
             rel=\"noopener noreferrer\">site</a> <a href=\"annexe.html\" rel=\"noopener noreferrer\">annexe</a> \
             <a href=\"mailto:maire@example.fr\" rel=\"noopener noreferrer\">écrire</a></p>\n"
        );
    }

    #[test]
    fn marks_become_semantic_elements_and_links_are_not_split() {
        let href = "https://example.org";
        let out = body(vec![paragraph(vec![
            linked("voir ", href),
            Inline::Text {
                text: "ici".into(),
                marks: Marks {
                    bold: true,
                    italic: true,
                    underline: true,
                    strike: true,
                    code: true,
                    link: Some(href.into()),
                },
            },
            Inline::Break,
            text("fin"),
        ])]);
        assert_eq!(
            out,
            "<p><a href=\"https://example.org\" rel=\"noopener noreferrer\">voir <strong><em><u><s><code>ici</code></s></u></em></strong><br></a>fin</p>\n"
        );
    }

    #[test]
    fn lists_nest_and_stay_tight() {
        let out = body(vec![Block::OrderedList {
            start: 3,
            items: vec![item(vec![
                paragraph(vec![text("Ouverture")]),
                Block::BulletList {
                    items: vec![item(vec![paragraph(vec![text("accueil")])])],
                },
            ])],
        }]);
        assert_eq!(
            out,
            "<ol start=\"3\">\n<li>Ouverture\n<ul>\n<li>accueil</li>\n</ul>\n</li>\n</ol>\n"
        );
    }

    #[test]
    fn tasks_have_labelled_disabled_checkboxes() {
        let out = body(vec![Block::TaskList {
            items: vec![
                ListItem {
                    checked: Some(true),
                    blocks: vec![paragraph(vec![text("Valider")])],
                },
                ListItem {
                    checked: Some(false),
                    blocks: vec![],
                },
            ],
        }]);
        assert_eq!(
            out,
            "<ul class=\"task-list\">\n<li class=\"task-list-item\"><label><input type=\"checkbox\" disabled checked> Valider</label></li>\n\
             <li class=\"task-list-item\"><input type=\"checkbox\" disabled aria-label=\"À faire\"></li>\n</ul>\n"
        );
    }

    #[test]
    fn tables_have_scoped_headers_and_spans() {
        let cell = |header, colspan, t| sample::cell(header, colspan, 1, t);
        let out = body(vec![Block::Table {
            rows: vec![
                TableRow {
                    cells: vec![cell(true, 1, "Qui"), cell(true, 1, "Quoi")],
                },
                TableRow {
                    cells: vec![cell(true, 1, "Mairie"), cell(false, 1, "<tout>")],
                },
                TableRow {
                    cells: vec![cell(false, 2, "fin")],
                },
            ],
        }]);
        assert_eq!(
            out,
            "<table>\n<thead>\n<tr><th scope=\"col\">Qui</th><th scope=\"col\">Quoi</th></tr>\n</thead>\n<tbody>\n\
             <tr><th scope=\"row\">Mairie</th><td>&lt;tout&gt;</td></tr>\n<tr><td colspan=\"2\">fin</td></tr>\n</tbody>\n</table>\n"
        );
    }

    #[test]
    fn actions_show_french_dates_and_status() {
        let out = body(vec![
            Block::Action(ActionItem {
                assignee: "DGS".into(),
                due: Some("2025-04-01".into()),
                status: ActionStatus::Open,
                content: vec![text("Relancer")],
            }),
            Block::Action(ActionItem {
                assignee: "Élus".into(),
                due: None,
                status: ActionStatus::Done,
                content: vec![text("Voter")],
            }),
        ]);
        assert_eq!(
            out.matches("<table").count(),
            1,
            "consecutive actions share a table: {out}"
        );
        assert!(out.contains("<caption>Actions</caption>"));
        assert!(out.contains("<tr><td>DGS</td><td>Relancer</td><td><time datetime=\"2025-04-01\">01/04/2025</time></td><td>À faire</td></tr>"));
        assert!(
            out.contains("<tr><td>Élus</td><td>Voter</td><td>Non fixée</td><td>Fait</td></tr>")
        );
    }

    #[test]
    fn the_page_is_french_and_shows_the_seal() {
        let meta = Metadata {
            title: "Compte rendu".into(),
            version_label: "Version 12".into(),
            created_at: "14 mars 2025".into(),
            authors: vec![],
            seal: Some(Seal {
                sha256: "0f".repeat(32),
                validator: "Claire Martin".into(),
                validated_at: "15 mars 2025".into(),
                comment: "Conforme".into(),
            }),
        };
        let out = html(
            &Content {
                blocks: vec![Block::CodeBlock {
                    language: Some("x\" onload=\"y".into()),
                    text: "<a>".into(),
                }],
            },
            &meta,
        );
        assert!(
            out.starts_with(
                "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">"
            )
        );
        assert!(out.contains("<title>Compte rendu</title>"));
        assert!(out.contains(&format!("<code>{}</code>", "0f".repeat(32))));
        assert!(out.contains("le 15 mars 2025 par Claire Martin"));
        assert!(out.contains("Commentaire : Conforme"));
        assert!(
            out.contains("<pre><code>&lt;a&gt;</code></pre>"),
            "unsafe language dropped: {out}"
        );
        assert_eq!(
            out,
            html(
                &Content {
                    blocks: vec![Block::CodeBlock {
                        language: Some("x\" onload=\"y".into()),
                        text: "<a>".into()
                    }]
                },
                &meta
            )
        );
    }
}
