//! DOCX: Office Open XML WordprocessingML (ECMA-376), written by hand.
//!
//! The package holds the document, its styles (headings `Heading1`…`Heading6` with outline
//! levels, so Word's navigation pane and table of contents see them), its numbering (one
//! definition for bullets, one for tasks, and one per ordered list so that each list counts on
//! its own), its settings, and core properties with the title. Word is strict about the order
//! of child elements in property blocks (`w:pPr`, `w:rPr`, `w:tcPr`): the order written here
//! follows the schema.

use std::collections::HashMap;

use relais_crdt::model::{ActionItem, Block, Content, Inline, ListItem, Marks};

use crate::Metadata;
use crate::common::{self, Links, Segment, Slot};
use crate::xml::Xml;
use crate::zip_file::{self, Entry};

/// Text width of an A4 page with 2 cm margins, in twentieths of a point.
const TEXT_WIDTH_TWIPS: usize = 11906 - 2 * 1134;
/// Indentation per list level, in twentieths of a point.
const LIST_INDENT_TWIPS: usize = 720;
/// Word has nine list levels.
const MAX_LIST_LEVEL: usize = 8;
const MONOSPACE_FONT: &str = "Courier New";

const BULLET_NUM_ID: usize = 1;
const TASK_NUM_ID: usize = 2;

const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const R_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const REL_TYPE: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// The document as a DOCX file.
pub fn docx(content: &Content, meta: &Metadata) -> Vec<u8> {
    let mut writer = Writer::default();
    writer.front_matter(meta);
    writer.blocks(&content.blocks, Context::BODY);
    let document = writer.document();
    let relationships = writer.document_relationships();
    let numbering = writer.numbering();
    zip_file::write(&[
        Entry {
            name: "[Content_Types].xml",
            data: CONTENT_TYPES.as_bytes(),
            stored: false,
        },
        Entry {
            name: "_rels/.rels",
            data: PACKAGE_RELATIONSHIPS.as_bytes(),
            stored: false,
        },
        Entry {
            name: "docProps/core.xml",
            data: core_properties(meta).as_bytes(),
            stored: false,
        },
        Entry {
            name: "docProps/app.xml",
            data: APP_PROPERTIES.as_bytes(),
            stored: false,
        },
        Entry {
            name: "word/document.xml",
            data: document.as_bytes(),
            stored: false,
        },
        Entry {
            name: "word/styles.xml",
            data: STYLES.as_bytes(),
            stored: false,
        },
        Entry {
            name: "word/numbering.xml",
            data: numbering.as_bytes(),
            stored: false,
        },
        Entry {
            name: "word/settings.xml",
            data: SETTINGS.as_bytes(),
            stored: false,
        },
        Entry {
            name: "word/_rels/document.xml.rels",
            data: relationships.as_bytes(),
            stored: false,
        },
    ])
}

/// How the blocks being written are placed.
#[derive(Clone, Copy)]
struct Context {
    /// Style of plain paragraphs (`None` for Normal).
    paragraph_style: Option<&'static str>,
    /// Left indentation of plain paragraphs, in twips: list item continuations and nested
    /// quotes.
    indent_twips: usize,
    /// Depth of the next list.
    list_level: usize,
}

impl Context {
    const BODY: Context = Context {
        paragraph_style: None,
        indent_twips: 0,
        list_level: 0,
    };
}

#[derive(Default)]
struct Writer {
    body: String,
    /// Link targets, in order of first use; target `i` has relationship id `rIdLink{i+1}`.
    links: Vec<String>,
    /// Where each target is in `links`.
    link_indexes: HashMap<String, usize>,
    /// Start number of each ordered list; list `i` has numbering id `3 + i`.
    ordered_lists: Vec<u32>,
    /// Whether the last element written was a table: Word merges two adjacent tables and
    /// requires a cell to end with a paragraph.
    last_was_table: bool,
    /// Paragraphs and tables written so far, to tell whether a cell got any.
    elements: usize,
}

/// One paragraph's properties, written in schema order.
#[derive(Default)]
struct ParagraphProperties<'a> {
    style: Option<&'a str>,
    keep_next: bool,
    numbering: Option<(usize, usize)>,
    bottom_border: bool,
    indent_twips: usize,
}

impl Writer {
    fn front_matter(&mut self, meta: &Metadata) {
        self.text_paragraph(Some("Title"), common::title(meta));
        if !meta.version_label.is_empty() {
            self.text_paragraph(Some("Subtitle"), &meta.version_label);
        }
        if !meta.created_at.is_empty() {
            self.text_paragraph(Some("DocumentInfo"), &format!("Date : {}", meta.created_at));
        }
        if !meta.authors.is_empty() {
            let label = if meta.authors.len() == 1 {
                "Auteur"
            } else {
                "Auteurs"
            };
            self.text_paragraph(
                Some("DocumentInfo"),
                &format!("{label} : {}", meta.authors.join(", ")),
            );
        }
        if let Some(seal) = &meta.seal {
            self.text_paragraph(
                Some("DocumentInfo"),
                &format!(
                    "Version validée le {} par {}.",
                    seal.validated_at, seal.validator
                ),
            );
            if !seal.comment.is_empty() {
                self.text_paragraph(
                    Some("DocumentInfo"),
                    &format!("Commentaire : {}", seal.comment),
                );
            }
            let mut xml = Xml::fragment();
            paragraph_properties(
                &mut xml,
                &ParagraphProperties {
                    style: Some("DocumentInfo"),
                    ..Default::default()
                },
            );
            // The hash goes on a line of its own: with its label it is wider than the page.
            plain_run(&mut xml, "Empreinte SHA-256 :\n");
            run(
                &mut xml,
                &seal.sha256,
                &Marks {
                    code: true,
                    ..Marks::default()
                },
                false,
            );
            self.paragraph_xml(xml);
        }
        self.rule();
    }

    fn blocks(&mut self, blocks: &[Block], context: Context) {
        for segment in common::segments(blocks) {
            match segment {
                Segment::Block(block) => self.block(block, context),
                Segment::Actions(actions) => self.action_table(&actions),
            }
        }
    }

    fn block(&mut self, block: &Block, context: Context) {
        match block {
            Block::Heading { level, content } => {
                let style = [
                    "Heading1", "Heading2", "Heading3", "Heading4", "Heading5", "Heading6",
                ][usize::from((*level).clamp(1, 6)) - 1];
                self.paragraph(
                    &ParagraphProperties {
                        style: Some(style),
                        ..Default::default()
                    },
                    "",
                    content,
                );
            }
            Block::Paragraph { content } => {
                let properties = ParagraphProperties {
                    style: context.paragraph_style,
                    indent_twips: context.indent_twips,
                    ..Default::default()
                };
                self.paragraph(&properties, "", content);
            }
            Block::BulletList { items } => self.list(items, BULLET_NUM_ID, false, context),
            Block::TaskList { items } => self.list(items, TASK_NUM_ID, true, context),
            Block::OrderedList { start, items } => {
                self.ordered_lists.push(*start);
                let num_id = 2 + self.ordered_lists.len();
                self.list(items, num_id, false, context);
            }
            Block::Blockquote { blocks } => {
                // The Quote style indents once; a quote inside a quote or a list item needs a
                // direct indentation, which replaces the style's.
                let nested = context.paragraph_style == Some("Quote") || context.indent_twips > 0;
                let indent_twips = if nested {
                    context.indent_twips.max(LIST_INDENT_TWIPS) + LIST_INDENT_TWIPS
                } else {
                    0
                };
                let inner = Context {
                    paragraph_style: Some("Quote"),
                    indent_twips,
                    ..context
                };
                self.blocks(blocks, inner);
            }
            Block::CodeBlock { text, .. } => {
                let mut xml = Xml::fragment();
                paragraph_properties(
                    &mut xml,
                    &ParagraphProperties {
                        style: Some("SourceCode"),
                        indent_twips: context.indent_twips,
                        ..Default::default()
                    },
                );
                let text = text.strip_suffix('\n').unwrap_or(text);
                if !text.is_empty() {
                    xml.open("w:r", &[]);
                    run_text(&mut xml, text);
                    xml.close("w:r");
                }
                self.paragraph_xml(xml);
            }
            Block::Rule => self.rule(),
            Block::Table { rows } => self.table(rows),
            Block::Action(action) => self.action_table(&[action]),
        }
    }

    fn list(&mut self, items: &[ListItem], num_id: usize, task: bool, context: Context) {
        let level = context.list_level.min(MAX_LIST_LEVEL);
        let continuation = Context {
            paragraph_style: Some("ListParagraph"),
            indent_twips: LIST_INDENT_TWIPS * (level + 1),
            list_level: level + 1,
        };
        for item in items {
            let prefix = match (task, item.checked) {
                (false, _) => "",
                (true, Some(true)) => "☑ ",
                (true, _) => "☐ ",
            };
            let numbered = ParagraphProperties {
                style: Some("ListParagraph"),
                numbering: Some((level, num_id)),
                ..Default::default()
            };
            let rest = match item.blocks.split_first() {
                Some((Block::Paragraph { content }, rest)) => {
                    self.paragraph(&numbered, prefix, content);
                    rest
                }
                // An item that does not start with text still gets its number or box.
                _ => {
                    self.paragraph(&numbered, prefix, &[]);
                    item.blocks.as_slice()
                }
            };
            self.blocks(rest, continuation);
        }
    }

    fn text_paragraph(&mut self, style: Option<&str>, text: &str) {
        let mut xml = Xml::fragment();
        paragraph_properties(
            &mut xml,
            &ParagraphProperties {
                style,
                ..Default::default()
            },
        );
        plain_run(&mut xml, text);
        self.paragraph_xml(xml);
    }

    /// A paragraph of inline content, after `prefix` (a task's box).
    fn paragraph(
        &mut self,
        properties: &ParagraphProperties<'_>,
        prefix: &str,
        content: &[Inline],
    ) {
        let mut xml = Xml::fragment();
        paragraph_properties(&mut xml, properties);
        if !prefix.is_empty() {
            plain_run(&mut xml, prefix);
        }
        self.inline(&mut xml, content);
        self.paragraph_xml(xml);
    }

    /// Ends the paragraph whose properties and runs `inner` holds.
    fn paragraph_xml(&mut self, inner: Xml) {
        self.body.push_str("<w:p>");
        self.body.push_str(&inner.finish());
        self.body.push_str("</w:p>");
        self.last_was_table = false;
        self.elements += 1;
    }

    fn empty_paragraph(&mut self) {
        self.paragraph_xml(Xml::fragment());
    }

    fn rule(&mut self) {
        let mut xml = Xml::fragment();
        paragraph_properties(
            &mut xml,
            &ParagraphProperties {
                bottom_border: true,
                ..Default::default()
            },
        );
        self.paragraph_xml(xml);
    }

    /// Runs of inline content; consecutive runs with the same link share one `w:hyperlink`.
    fn inline(&mut self, xml: &mut Xml, content: &[Inline]) {
        let mut open_link: Option<String> = None;
        for node in content {
            let link = match node {
                Inline::Text { marks, .. } => marks
                    .link
                    .as_deref()
                    .and_then(|href| common::safe_href(href, Links::AbsoluteOnly)),
                Inline::Break => open_link.clone(),
            };
            if link != open_link {
                if open_link.is_some() {
                    xml.close("w:hyperlink");
                }
                if let Some(href) = &link {
                    let id = self.link_id(href);
                    xml.open("w:hyperlink", &[("r:id", &id), ("w:history", "1")]);
                }
                open_link = link;
            }
            match node {
                Inline::Text { text, marks } => run(xml, text, marks, open_link.is_some()),
                Inline::Break => {
                    xml.open("w:r", &[]);
                    xml.empty("w:br", &[]);
                    xml.close("w:r");
                }
            }
        }
        if open_link.is_some() {
            xml.close("w:hyperlink");
        }
    }

    fn link_id(&mut self, href: &str) -> String {
        let target = common::strict_uri(href);
        let next_index = self.links.len();
        let index = *self
            .link_indexes
            .entry(target.clone())
            .or_insert(next_index);
        if index == next_index {
            self.links.push(target);
        }
        format!("rIdLink{}", index + 1)
    }

    fn table(&mut self, rows: &[relais_crdt::model::TableRow]) {
        let grid = common::grid(rows);
        if grid.rows.is_empty() || grid.columns == 0 {
            return;
        }
        let has_header_row = grid.has_header_row();
        let column_width = TEXT_WIDTH_TWIPS / grid.columns;
        self.open_table(grid.columns, column_width);
        for (row_index, slots) in grid.rows.iter().enumerate() {
            self.open_row(has_header_row && row_index == 0);
            let mut cells = 0;
            for (column, slot) in slots.iter().enumerate() {
                match slot {
                    Slot::Cell {
                        cell,
                        colspan,
                        rowspan,
                    } => {
                        let merge = (*rowspan > 1).then_some("restart");
                        self.open_cell(column_width, *colspan, merge);
                        let style = if cell.header {
                            Some("TableHeading")
                        } else {
                            None
                        };
                        self.cell_blocks(&cell.blocks, style);
                        self.body.push_str("</w:tc>");
                        cells += 1;
                    }
                    Slot::Covered {
                        origin_row,
                        origin_column,
                        colspan,
                    } if *origin_row != row_index && *origin_column == column => {
                        // The continuation of a cell spanning rows.
                        self.open_cell(column_width, *colspan, Some("continue"));
                        self.body.push_str("<w:p/></w:tc>");
                        cells += 1;
                    }
                    Slot::Covered { .. } => {}
                    Slot::Empty => {
                        self.open_cell(column_width, 1, None);
                        self.body.push_str("<w:p/></w:tc>");
                        cells += 1;
                    }
                }
            }
            if cells == 0 {
                // A row needs a cell.
                self.open_cell(column_width, 1, None);
                self.body.push_str("<w:p/></w:tc>");
            }
            self.body.push_str("</w:tr>");
        }
        self.close_table();
    }

    fn action_table(&mut self, actions: &[&ActionItem]) {
        let caption = ParagraphProperties {
            style: Some("TableCaption"),
            keep_next: true,
            ..Default::default()
        };
        let mut xml = Xml::fragment();
        paragraph_properties(&mut xml, &caption);
        plain_run(&mut xml, common::ACTIONS_CAPTION);
        self.paragraph_xml(xml);
        let columns = common::ACTION_HEADERS.len();
        let column_width = TEXT_WIDTH_TWIPS / columns;
        self.open_table(columns, column_width);
        self.open_row(true);
        for header in common::ACTION_HEADERS {
            self.open_cell(column_width, 1, None);
            self.text_paragraph(Some("TableHeading"), header);
            self.body.push_str("</w:tc>");
        }
        self.body.push_str("</w:tr>");
        for action in actions {
            self.open_row(false);
            self.open_cell(column_width, 1, None);
            self.text_paragraph(None, &action.assignee);
            self.body.push_str("</w:tc>");
            self.open_cell(column_width, 1, None);
            self.paragraph(&ParagraphProperties::default(), "", &action.content);
            self.body.push_str("</w:tc>");
            for text in [
                common::due_label(action).as_str(),
                common::status_label(action.status),
            ] {
                self.open_cell(column_width, 1, None);
                self.text_paragraph(None, text);
                self.body.push_str("</w:tc>");
            }
            self.body.push_str("</w:tr>");
        }
        self.close_table();
    }

    fn open_table(&mut self, columns: usize, column_width: usize) {
        if self.last_was_table {
            self.empty_paragraph();
        }
        let mut xml = Xml::fragment();
        xml.open("w:tbl", &[]);
        xml.open("w:tblPr", &[]);
        xml.empty("w:tblStyle", &[("w:val", "TableGrid")]);
        xml.empty("w:tblW", &[("w:w", "5000"), ("w:type", "pct")]);
        xml.empty(
            "w:tblLook",
            &[
                ("w:val", "04A0"),
                ("w:firstRow", "1"),
                ("w:lastRow", "0"),
                ("w:firstColumn", "0"),
                ("w:lastColumn", "0"),
                ("w:noHBand", "1"),
                ("w:noVBand", "1"),
            ],
        );
        xml.close("w:tblPr");
        xml.open("w:tblGrid", &[]);
        let width = column_width.to_string();
        for _ in 0..columns {
            xml.empty("w:gridCol", &[("w:w", &width)]);
        }
        xml.close("w:tblGrid");
        self.body.push_str(&xml.finish());
    }

    fn close_table(&mut self) {
        self.body.push_str("</w:tbl>");
        self.last_was_table = true;
        self.elements += 1;
    }

    fn open_row(&mut self, header: bool) {
        self.body.push_str("<w:tr>");
        if header {
            // Repeated at the top of each page, and read as headers by assistive technologies.
            self.body.push_str("<w:trPr><w:tblHeader/></w:trPr>");
        }
    }

    fn open_cell(&mut self, column_width: usize, colspan: usize, vertical_merge: Option<&str>) {
        let mut xml = Xml::fragment();
        xml.open("w:tc", &[]);
        xml.open("w:tcPr", &[]);
        xml.empty(
            "w:tcW",
            &[
                ("w:w", &(column_width * colspan).to_string()),
                ("w:type", "dxa"),
            ],
        );
        if colspan > 1 {
            xml.empty("w:gridSpan", &[("w:val", &colspan.to_string())]);
        }
        match vertical_merge {
            Some("continue") => xml.empty("w:vMerge", &[]),
            Some(merge) => xml.empty("w:vMerge", &[("w:val", merge)]),
            None => {}
        }
        xml.close("w:tcPr");
        self.body.push_str(&xml.finish());
    }

    /// A cell's blocks; a cell must hold a paragraph and end with one.
    fn cell_blocks(&mut self, blocks: &[Block], style: Option<&'static str>) {
        let before = self.elements;
        self.last_was_table = false;
        self.blocks(
            blocks,
            Context {
                paragraph_style: style,
                ..Context::BODY
            },
        );
        if self.elements == before || self.last_was_table {
            self.empty_paragraph();
        }
        self.last_was_table = false;
    }

    fn document(&self) -> String {
        let mut xml = Xml::new();
        xml.open("w:document", &[("xmlns:w", W_NS), ("xmlns:r", R_NS)]);
        xml.open("w:body", &[]);
        xml.raw(&self.body);
        // An A4 page with 2 cm margins.
        xml.raw(
            "<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1134\" \
             w:right=\"1134\" w:bottom=\"1134\" w:left=\"1134\" w:header=\"709\" \
             w:footer=\"709\" w:gutter=\"0\"/></w:sectPr>",
        );
        xml.close("w:body");
        xml.close("w:document");
        xml.finish()
    }

    fn document_relationships(&self) -> String {
        let mut xml = Xml::new();
        xml.open("Relationships", &[("xmlns", REL_NS)]);
        for (id, kind, target) in [
            ("rIdStyles", "styles", "styles.xml"),
            ("rIdNumbering", "numbering", "numbering.xml"),
            ("rIdSettings", "settings", "settings.xml"),
        ] {
            let kind = format!("{REL_TYPE}/{kind}");
            xml.empty(
                "Relationship",
                &[("Id", id), ("Type", &kind), ("Target", target)],
            );
        }
        let hyperlink = format!("{REL_TYPE}/hyperlink");
        for (index, target) in self.links.iter().enumerate() {
            let id = format!("rIdLink{}", index + 1);
            xml.empty(
                "Relationship",
                &[
                    ("Id", &id),
                    ("Type", &hyperlink),
                    ("Target", target),
                    ("TargetMode", "External"),
                ],
            );
        }
        xml.close("Relationships");
        xml.finish()
    }

    /// Abstract numbering 0 is bullets, 1 tasks (no marker: the box is in the text), and one
    /// decimal definition per ordered list, so that every list counts from its own start
    /// (numbering instances of one definition would share their counters).
    fn numbering(&self) -> String {
        let mut xml = Xml::new();
        xml.open("w:numbering", &[("xmlns:w", W_NS)]);
        abstract_numbering(&mut xml, 0, "bullet", 1, |level| {
            ["•", "◦", "▪"][level % 3].to_owned()
        });
        abstract_numbering(&mut xml, 1, "none", 1, |_| String::new());
        for (index, start) in self.ordered_lists.iter().enumerate() {
            abstract_numbering(&mut xml, 2 + index, "decimal", *start, |level| {
                format!("%{}.", level + 1)
            });
        }
        let instances = [(BULLET_NUM_ID, 0), (TASK_NUM_ID, 1)]
            .into_iter()
            .chain((0..self.ordered_lists.len()).map(|index| (3 + index, 2 + index)));
        for (num_id, abstract_id) in instances {
            xml.open("w:num", &[("w:numId", &num_id.to_string())]);
            xml.empty("w:abstractNumId", &[("w:val", &abstract_id.to_string())]);
            xml.close("w:num");
        }
        xml.close("w:numbering");
        xml.finish()
    }
}

/// A numbering definition with all nine levels, in the order of `CT_Lvl`.
fn abstract_numbering(
    xml: &mut Xml,
    id: usize,
    format: &str,
    start: u32,
    text: impl Fn(usize) -> String,
) {
    xml.open("w:abstractNum", &[("w:abstractNumId", &id.to_string())]);
    // Word identifies definitions by this number; derived from the id to stay deterministic.
    xml.empty(
        "w:nsid",
        &[("w:val", &format!("{:08X}", 0x5245_0000_usize + id))],
    );
    xml.empty("w:multiLevelType", &[("w:val", "hybridMultilevel")]);
    for level in 0..=MAX_LIST_LEVEL {
        xml.open("w:lvl", &[("w:ilvl", &level.to_string())]);
        xml.empty("w:start", &[("w:val", &start.to_string())]);
        xml.empty("w:numFmt", &[("w:val", format)]);
        if format == "none" {
            xml.empty("w:suff", &[("w:val", "nothing")]);
        }
        xml.empty("w:lvlText", &[("w:val", &text(level))]);
        xml.empty("w:lvlJc", &[("w:val", "left")]);
        xml.open("w:pPr", &[]);
        let left = (LIST_INDENT_TWIPS * (level + 1)).to_string();
        xml.empty("w:ind", &[("w:left", &left), ("w:hanging", "360")]);
        xml.close("w:pPr");
        xml.close("w:lvl");
    }
    xml.close("w:abstractNum");
}

fn core_properties(meta: &Metadata) -> String {
    let mut xml = Xml::new();
    xml.open(
        "cp:coreProperties",
        &[
            (
                "xmlns:cp",
                "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
            ),
            ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
            ("xmlns:dcterms", "http://purl.org/dc/terms/"),
            ("xmlns:dcmitype", "http://purl.org/dc/dcmitype/"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ],
    );
    xml.element("dc:title", &[], common::title(meta));
    if !meta.authors.is_empty() {
        xml.element("dc:creator", &[], &meta.authors.join(", "));
    }
    let description = common::description(meta);
    if !description.is_empty() {
        xml.element("dc:description", &[], &description);
    }
    xml.element("dc:language", &[], "fr-FR");
    if !meta.version_label.is_empty() {
        xml.element("cp:version", &[], &meta.version_label);
    }
    if meta.seal.is_some() {
        xml.element("cp:contentStatus", &[], "Validée");
    }
    xml.close("cp:coreProperties");
    xml.finish()
}

const CONTENT_TYPES: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">",
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>",
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>",
    "<Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>",
    "<Override PartName=\"/word/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/>",
    "<Override PartName=\"/word/numbering.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml\"/>",
    "<Override PartName=\"/word/settings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml\"/>",
    "<Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>",
    "<Override PartName=\"/docProps/app.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/>",
    "</Types>",
);

const PACKAGE_RELATIONSHIPS: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/>",
    "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>",
    "<Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties\" Target=\"docProps/app.xml\"/>",
    "</Relationships>",
);

const APP_PROPERTIES: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\">",
    "<Application>Relais</Application>",
    "</Properties>",
);

/// Compatibility mode 15 (Word 2013 and later), so that Word does not open the file in
/// compatibility mode.
const SETTINGS: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<w:settings xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">",
    "<w:defaultTabStop w:val=\"708\"/>",
    "<w:characterSpacingControl w:val=\"doNotCompress\"/>",
    "<w:compat><w:compatSetting w:name=\"compatibilityMode\" w:uri=\"http://schemas.microsoft.com/office/word\" w:val=\"15\"/></w:compat>",
    "</w:settings>",
);

/// Styles. Built-in styles use Word's own ids and names (`heading 1` is shown as « Titre 1 »
/// in a French Word), so Word treats them as its own: navigation pane, table of contents.
const STYLES: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<w:styles xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">",
    "<w:docDefaults><w:rPrDefault><w:rPr>",
    "<w:rFonts w:ascii=\"Arial\" w:hAnsi=\"Arial\" w:eastAsia=\"Arial\" w:cs=\"Arial\"/>",
    "<w:sz w:val=\"22\"/><w:szCs w:val=\"22\"/><w:lang w:val=\"fr-FR\" w:eastAsia=\"fr-FR\" w:bidi=\"ar-SA\"/>",
    "</w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after=\"120\" w:line=\"276\" w:lineRule=\"auto\"/></w:pPr></w:pPrDefault></w:docDefaults>",
    "<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/><w:qFormat/></w:style>",
    "<w:style w:type=\"character\" w:default=\"1\" w:styleId=\"DefaultParagraphFont\"><w:name w:val=\"Default Paragraph Font\"/><w:uiPriority w:val=\"1\"/><w:semiHidden/><w:unhideWhenUsed/></w:style>",
    "<w:style w:type=\"table\" w:default=\"1\" w:styleId=\"TableNormal\"><w:name w:val=\"Normal Table\"/><w:uiPriority w:val=\"99\"/><w:semiHidden/><w:unhideWhenUsed/>",
    "<w:tblPr><w:tblInd w:w=\"0\" w:type=\"dxa\"/><w:tblCellMar><w:top w:w=\"0\" w:type=\"dxa\"/><w:left w:w=\"108\" w:type=\"dxa\"/><w:bottom w:w=\"0\" w:type=\"dxa\"/><w:right w:w=\"108\" w:type=\"dxa\"/></w:tblCellMar></w:tblPr></w:style>",
    "<w:style w:type=\"numbering\" w:default=\"1\" w:styleId=\"NoList\"><w:name w:val=\"No List\"/><w:uiPriority w:val=\"99\"/><w:semiHidden/><w:unhideWhenUsed/></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"10\"/><w:qFormat/>",
    "<w:pPr><w:spacing w:after=\"120\"/></w:pPr><w:rPr><w:b/><w:sz w:val=\"48\"/><w:szCs w:val=\"48\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Subtitle\"><w:name w:val=\"Subtitle\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"11\"/><w:qFormat/>",
    "<w:rPr><w:color w:val=\"3A3A3A\"/><w:sz w:val=\"28\"/><w:szCs w:val=\"28\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:customStyle=\"1\" w:styleId=\"DocumentInfo\"><w:name w:val=\"Document Info\"/><w:basedOn w:val=\"Normal\"/><w:qFormat/>",
    "<w:pPr><w:spacing w:after=\"40\"/></w:pPr><w:rPr><w:color w:val=\"3A3A3A\"/><w:sz w:val=\"20\"/><w:szCs w:val=\"20\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading1\"><w:name w:val=\"heading 1\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"9\"/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"360\" w:after=\"120\"/><w:outlineLvl w:val=\"0\"/></w:pPr><w:rPr><w:b/><w:bCs/><w:sz w:val=\"36\"/><w:szCs w:val=\"36\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading2\"><w:name w:val=\"heading 2\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"9\"/><w:unhideWhenUsed/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"240\" w:after=\"120\"/><w:outlineLvl w:val=\"1\"/></w:pPr><w:rPr><w:b/><w:bCs/><w:sz w:val=\"30\"/><w:szCs w:val=\"30\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading3\"><w:name w:val=\"heading 3\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"9\"/><w:unhideWhenUsed/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"240\" w:after=\"80\"/><w:outlineLvl w:val=\"2\"/></w:pPr><w:rPr><w:b/><w:bCs/><w:sz w:val=\"26\"/><w:szCs w:val=\"26\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading4\"><w:name w:val=\"heading 4\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"9\"/><w:unhideWhenUsed/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"200\" w:after=\"80\"/><w:outlineLvl w:val=\"3\"/></w:pPr><w:rPr><w:b/><w:bCs/><w:i/><w:iCs/><w:sz w:val=\"24\"/><w:szCs w:val=\"24\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading5\"><w:name w:val=\"heading 5\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"9\"/><w:unhideWhenUsed/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"200\" w:after=\"60\"/><w:outlineLvl w:val=\"4\"/></w:pPr><w:rPr><w:b/><w:bCs/><w:sz w:val=\"22\"/><w:szCs w:val=\"22\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading6\"><w:name w:val=\"heading 6\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"9\"/><w:unhideWhenUsed/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"200\" w:after=\"60\"/><w:outlineLvl w:val=\"5\"/></w:pPr><w:rPr><w:b/><w:bCs/><w:i/><w:iCs/><w:sz w:val=\"22\"/><w:szCs w:val=\"22\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"ListParagraph\"><w:name w:val=\"List Paragraph\"/><w:basedOn w:val=\"Normal\"/><w:uiPriority w:val=\"34\"/><w:qFormat/>",
    "<w:pPr><w:spacing w:after=\"60\"/><w:ind w:left=\"720\"/></w:pPr></w:style>",
    "<w:style w:type=\"paragraph\" w:styleId=\"Quote\"><w:name w:val=\"Quote\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:uiPriority w:val=\"29\"/><w:qFormat/>",
    "<w:pPr><w:pBdr><w:left w:val=\"single\" w:sz=\"18\" w:space=\"8\" w:color=\"BBBBBB\"/></w:pBdr><w:ind w:left=\"720\"/></w:pPr><w:rPr><w:i/><w:iCs/><w:color w:val=\"404040\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:customStyle=\"1\" w:styleId=\"SourceCode\"><w:name w:val=\"Source Code\"/><w:basedOn w:val=\"Normal\"/><w:qFormat/>",
    "<w:pPr><w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"F6F6F6\"/><w:spacing w:after=\"120\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr>",
    "<w:rPr><w:rFonts w:ascii=\"Courier New\" w:hAnsi=\"Courier New\" w:cs=\"Courier New\"/><w:sz w:val=\"20\"/><w:szCs w:val=\"20\"/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:customStyle=\"1\" w:styleId=\"TableHeading\"><w:name w:val=\"Table Heading\"/><w:basedOn w:val=\"Normal\"/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:spacing w:after=\"0\"/></w:pPr><w:rPr><w:b/><w:bCs/></w:rPr></w:style>",
    "<w:style w:type=\"paragraph\" w:customStyle=\"1\" w:styleId=\"TableCaption\"><w:name w:val=\"Table Caption\"/><w:basedOn w:val=\"Normal\"/><w:qFormat/>",
    "<w:pPr><w:keepNext/><w:spacing w:before=\"240\" w:after=\"60\"/></w:pPr><w:rPr><w:b/><w:bCs/></w:rPr></w:style>",
    "<w:style w:type=\"character\" w:styleId=\"Hyperlink\"><w:name w:val=\"Hyperlink\"/><w:basedOn w:val=\"DefaultParagraphFont\"/><w:uiPriority w:val=\"99\"/><w:unhideWhenUsed/>",
    "<w:rPr><w:color w:val=\"0563C1\"/><w:u w:val=\"single\"/></w:rPr></w:style>",
    "<w:style w:type=\"character\" w:customStyle=\"1\" w:styleId=\"VerbatimChar\"><w:name w:val=\"Verbatim Char\"/><w:basedOn w:val=\"DefaultParagraphFont\"/>",
    "<w:rPr><w:rFonts w:ascii=\"Courier New\" w:hAnsi=\"Courier New\" w:cs=\"Courier New\"/></w:rPr></w:style>",
    "<w:style w:type=\"table\" w:styleId=\"TableGrid\"><w:name w:val=\"Table Grid\"/><w:basedOn w:val=\"TableNormal\"/><w:uiPriority w:val=\"39\"/>",
    "<w:pPr><w:spacing w:after=\"0\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr>",
    "<w:tblPr><w:tblBorders><w:top w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/><w:left w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>",
    "<w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/><w:right w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>",
    "<w:insideH w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/><w:insideV w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/></w:tblBorders></w:tblPr></w:style>",
    "</w:styles>",
);

/// Properties of a paragraph, in the order of `CT_PPr`.
fn paragraph_properties(xml: &mut Xml, properties: &ParagraphProperties<'_>) {
    let ParagraphProperties {
        style,
        keep_next,
        numbering,
        bottom_border,
        indent_twips,
    } = properties;
    if style.is_none() && !keep_next && numbering.is_none() && !bottom_border && *indent_twips == 0
    {
        return;
    }
    xml.open("w:pPr", &[]);
    if let Some(style) = style {
        xml.empty("w:pStyle", &[("w:val", style)]);
    }
    if *keep_next {
        xml.empty("w:keepNext", &[]);
    }
    if let Some((level, num_id)) = numbering {
        xml.open("w:numPr", &[]);
        xml.empty("w:ilvl", &[("w:val", &level.to_string())]);
        xml.empty("w:numId", &[("w:val", &num_id.to_string())]);
        xml.close("w:numPr");
    }
    if *bottom_border {
        xml.open("w:pBdr", &[]);
        xml.empty(
            "w:bottom",
            &[
                ("w:val", "single"),
                ("w:sz", "6"),
                ("w:space", "1"),
                ("w:color", "auto"),
            ],
        );
        xml.close("w:pBdr");
    }
    if *indent_twips > 0 {
        xml.empty("w:ind", &[("w:left", &indent_twips.to_string())]);
    }
    xml.close("w:pPr");
}

fn plain_run(xml: &mut Xml, text: &str) {
    run(xml, text, &Marks::default(), false);
}

/// One run of text with its marks, in the order of `CT_RPr`.
fn run(xml: &mut Xml, text: &str, marks: &Marks, linked: bool) {
    if text.is_empty() {
        return;
    }
    xml.open("w:r", &[]);
    let style = if linked {
        Some("Hyperlink")
    } else if marks.code {
        Some("VerbatimChar")
    } else {
        None
    };
    let monospace_direct = linked && marks.code;
    if style.is_some()
        || monospace_direct
        || marks.bold
        || marks.italic
        || marks.strike
        || marks.underline
    {
        xml.open("w:rPr", &[]);
        if let Some(style) = style {
            xml.empty("w:rStyle", &[("w:val", style)]);
        }
        if monospace_direct {
            xml.empty(
                "w:rFonts",
                &[
                    ("w:ascii", MONOSPACE_FONT),
                    ("w:hAnsi", MONOSPACE_FONT),
                    ("w:cs", MONOSPACE_FONT),
                ],
            );
        }
        if marks.bold {
            xml.empty("w:b", &[]);
        }
        if marks.italic {
            xml.empty("w:i", &[]);
        }
        if marks.strike {
            xml.empty("w:strike", &[]);
        }
        if marks.underline {
            xml.empty("w:u", &[("w:val", "single")]);
        }
        xml.close("w:rPr");
    }
    run_text(xml, text);
    xml.close("w:r");
}

/// The text of a run: tabs and line breaks are elements of their own in WordprocessingML.
fn run_text(xml: &mut Xml, text: &str) {
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\t', '\n', '\r']).unwrap_or(rest.len());
        if end > 0 {
            // `xml:space` keeps leading, trailing and repeated spaces.
            xml.element("w:t", &[("xml:space", "preserve")], &rest[..end]);
        }
        match rest[end..].chars().next() {
            Some('\t') => xml.empty("w:tab", &[]),
            Some('\n') => xml.empty("w:br", &[]),
            _ => {}
        }
        rest = rest.get(end + 1..).unwrap_or("");
    }
}

#[cfg(test)]
mod tests {
    use relais_crdt::model::{TableCell, TableRow};

    use super::*;
    use crate::sample::{self, linked, text};
    use crate::zip_file::testing::{assert_balanced, entry, names};

    fn render(blocks: Vec<Block>) -> Vec<u8> {
        docx(&Content { blocks }, &sample::titled())
    }

    fn document(bytes: &[u8]) -> String {
        entry(bytes, "word/document.xml")
    }

    #[test]
    fn the_package_has_its_parts_in_a_fixed_order() {
        let bytes = render(vec![]);
        assert_eq!(
            names(&bytes),
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "docProps/core.xml",
                "docProps/app.xml",
                "word/document.xml",
                "word/styles.xml",
                "word/numbering.xml",
                "word/settings.xml",
                "word/_rels/document.xml.rels",
            ]
        );
        for name in names(&bytes) {
            assert_balanced(&entry(&bytes, &name));
        }
    }

    #[test]
    fn text_and_metadata_are_escaped() {
        let (hostile, meta) = sample::hostile();
        let bytes = docx(&hostile, &meta);
        let document = document(&bytes);
        assert!(
            document.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; **x** | </w:t>"),
            "{document}"
        );
        assert!(
            !document.contains("<script>")
                && !document.contains("<h>")
                && !document.contains("<v>")
        );
        assert_balanced(&document);
        let core = entry(&bytes, "docProps/core.xml");
        assert!(
            core.contains("<dc:title>&lt;Titre &amp; co&gt;</dc:title>"),
            "{core}"
        );
        assert!(core.contains("<dc:creator>A &amp; B</dc:creator>"));
        assert_balanced(&core);
    }

    #[test]
    fn only_safe_absolute_links_get_a_relationship() {
        let bytes = render(vec![Block::Paragraph {
            content: vec![
                linked("piège", "javascript:alert(1)"),
                linked("relatif", "/documents/1"),
                linked("site", "https://example.org/a b"),
                linked(" encore", "https://example.org/a b"),
                linked("courriel", "mailto:maire@example.fr"),
            ],
        }]);
        let relationships = entry(&bytes, "word/_rels/document.xml.rels");
        assert_eq!(
            relationships.matches("relationships/hyperlink").count(),
            2,
            "{relationships}"
        );
        assert!(
            relationships.contains("Target=\"https://example.org/a%20b\" TargetMode=\"External\"")
        );
        assert!(relationships.contains("Target=\"mailto:maire@example.fr\""));
        assert!(!relationships.contains("javascript") && !relationships.contains("/documents/1"));
        let document = document(&bytes);
        assert!(document.contains(">piège</w:t>") && document.contains(">relatif</w:t>"));
        // One link for both runs to the same address.
        assert_eq!(document.matches("<w:hyperlink ").count(), 2, "{document}");
    }

    #[test]
    fn headings_use_heading_styles_with_outline_levels() {
        let bytes = render(vec![Block::Heading {
            level: 9,
            content: vec![text("Annexe")],
        }]);
        assert!(document(&bytes).contains("<w:pStyle w:val=\"Heading6\"/>"));
        let styles = entry(&bytes, "word/styles.xml");
        for level in 1..=6 {
            let style = format!("w:styleId=\"Heading{level}\"><w:name w:val=\"heading {level}\"/>");
            assert!(styles.contains(&style), "{style}");
            assert!(styles.contains(&format!("<w:outlineLvl w:val=\"{}\"/>", level - 1)));
        }
        assert_balanced(&styles);
    }

    #[test]
    fn each_ordered_list_counts_from_its_own_start() {
        let list = |start| Block::OrderedList {
            start,
            items: vec![ListItem {
                checked: None,
                blocks: vec![Block::Paragraph {
                    content: vec![text("point")],
                }],
            }],
        };
        let bytes = render(vec![list(1), list(7)]);
        let numbering = entry(&bytes, "word/numbering.xml");
        assert_balanced(&numbering);
        assert!(numbering.contains("<w:abstractNum w:abstractNumId=\"2\">"));
        assert!(numbering.contains("<w:abstractNum w:abstractNumId=\"3\">"));
        assert!(numbering.contains("<w:start w:val=\"7\"/>"));
        assert!(numbering.contains("<w:num w:numId=\"4\"><w:abstractNumId w:val=\"3\"/></w:num>"));
        let document = document(&bytes);
        assert!(
            document.contains("<w:numId w:val=\"3\"/>")
                && document.contains("<w:numId w:val=\"4\"/>")
        );
    }

    #[test]
    fn tables_have_a_header_row_spans_and_never_touch() {
        let cell = |header, colspan, rowspan| sample::cell(header, colspan, rowspan, "c");
        let table = Block::Table {
            rows: vec![
                TableRow {
                    cells: vec![cell(true, 1, 1), cell(true, 1, 1)],
                },
                TableRow {
                    cells: vec![cell(false, 1, 2), cell(false, 1, 1)],
                },
                TableRow {
                    cells: vec![cell(false, 1, 1)],
                },
                TableRow {
                    cells: vec![cell(false, 2, 1)],
                },
            ],
        };
        let bytes = render(vec![table.clone(), table]);
        let document = document(&bytes);
        assert_balanced(&document);
        assert_eq!(document.matches("<w:tblHeader/>").count(), 2);
        assert!(document.contains("<w:vMerge w:val=\"restart\"/>"));
        assert!(document.contains("<w:vMerge/>"));
        assert!(document.contains("<w:gridSpan w:val=\"2\"/>"));
        assert!(document.contains("<w:pStyle w:val=\"TableHeading\"/>"));
        assert!(
            document.contains("</w:tbl><w:p></w:p><w:tbl>"),
            "Word would merge adjacent tables"
        );
    }

    #[test]
    fn cells_end_with_a_paragraph() {
        let inner = Block::Table {
            rows: vec![TableRow {
                cells: vec![TableCell {
                    header: false,
                    colspan: 1,
                    rowspan: 1,
                    blocks: vec![],
                }],
            }],
        };
        let bytes = render(vec![Block::Table {
            rows: vec![TableRow {
                cells: vec![TableCell {
                    header: false,
                    colspan: 1,
                    rowspan: 1,
                    blocks: vec![inner],
                }],
            }],
        }]);
        let document = document(&bytes);
        assert!(
            document.contains("<w:p></w:p></w:tc></w:tr></w:tbl><w:p></w:p></w:tc>"),
            "{document}"
        );
    }

    #[test]
    fn white_space_tabs_and_breaks_survive() {
        let bytes = render(vec![Block::Paragraph {
            content: vec![text(" a  b\tc\nd"), Inline::Break, text("e ")],
        }]);
        let document = document(&bytes);
        assert!(document.contains(
            "<w:r><w:t xml:space=\"preserve\"> a  b</w:t><w:tab/><w:t xml:space=\"preserve\">c</w:t><w:br/><w:t xml:space=\"preserve\">d</w:t></w:r><w:r><w:br/></w:r><w:r><w:t xml:space=\"preserve\">e </w:t></w:r>"
        ), "{document}");
    }

    #[test]
    fn output_is_deterministic() {
        sample::assert_deterministic(render);
    }
}
