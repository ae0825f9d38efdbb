//! ODT: OpenDocument Text (ISO/IEC 26300, ODF 1.3), written by hand.
//!
//! The package starts with its `mimetype` entry, stored uncompressed, as ODF requires so that
//! the type can be read at a fixed offset; then the content, the styles (headings
//! `Heading_20_1`…`Heading_20_6` with outline levels, list styles for bullets, numbers and
//! tasks), the metadata with the title, and the manifest.
//!
//! ODF collapses white space like HTML: a second space in a row, a space at the start of a
//! paragraph, tabs and line breaks are written as `text:s`, `text:tab` and `text:line-break`.

use relais_crdt::model::{ActionItem, Block, Content, Inline, ListItem, Marks};

use crate::Metadata;
use crate::common::{self, Links, Segment, Slot};
use crate::xml::Xml;
use crate::zip_file::{self, Entry};

const MIMETYPE: &str = "application/vnd.oasis.opendocument.text";
const ODF_VERSION: &str = "1.3";

const NAMESPACES: [(&str, &str); 10] = [
    (
        "xmlns:office",
        "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    ),
    (
        "xmlns:style",
        "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    ),
    (
        "xmlns:text",
        "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    ),
    (
        "xmlns:table",
        "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    ),
    (
        "xmlns:fo",
        "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    ),
    (
        "xmlns:svg",
        "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    ),
    ("xmlns:xlink", "http://www.w3.org/1999/xlink"),
    ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
    (
        "xmlns:meta",
        "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    ),
    ("office:version", ODF_VERSION),
];

/// The document as an ODT file.
pub fn odt(content: &Content, meta: &Metadata) -> Vec<u8> {
    let mut writer = Writer::default();
    writer.front_matter(meta);
    writer.blocks(&content.blocks, Context::BODY);
    let content_xml = writer.content();
    let meta_xml = meta_xml(meta);
    zip_file::write(&[
        Entry {
            name: "mimetype",
            data: MIMETYPE.as_bytes(),
            stored: true,
        },
        Entry {
            name: "content.xml",
            data: content_xml.as_bytes(),
            stored: false,
        },
        Entry {
            name: "styles.xml",
            data: STYLES.as_bytes(),
            stored: false,
        },
        Entry {
            name: "meta.xml",
            data: meta_xml.as_bytes(),
            stored: false,
        },
        Entry {
            name: "META-INF/manifest.xml",
            data: MANIFEST.as_bytes(),
            stored: false,
        },
    ])
}

/// How the blocks being written are placed.
#[derive(Clone, Copy)]
struct Context {
    /// Style of plain paragraphs.
    paragraph_style: &'static str,
    /// Inside a list item, which may hold only paragraphs, headings and lists: tables there
    /// are written as paragraphs.
    in_list: bool,
}

impl Context {
    const BODY: Context = Context {
        paragraph_style: "Text_20_body",
        in_list: false,
    };
}

/// Formatting of a run other than its link, which is an element of its own.
#[derive(Clone, Copy, PartialEq, Eq)]
struct SpanStyle {
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
    code: bool,
}

impl SpanStyle {
    fn of(marks: &Marks) -> Option<SpanStyle> {
        let style = SpanStyle {
            bold: marks.bold,
            italic: marks.italic,
            underline: marks.underline,
            strike: marks.strike,
            code: marks.code,
        };
        (style.bold || style.italic || style.underline || style.strike || style.code)
            .then_some(style)
    }
}

#[derive(Default)]
struct Writer {
    body: Xml,
    /// Automatic text styles, in order of first use; style `i` is named `T{i+1}`.
    span_styles: Vec<SpanStyle>,
    /// Tables written so far: each needs a unique name.
    tables: usize,
    /// Whether the last character written in the current paragraph was white space (or the
    /// paragraph just started): a space there must be a `text:s`.
    after_space: bool,
    pending_spaces: usize,
}

impl Writer {
    fn front_matter(&mut self, meta: &Metadata) {
        self.text_paragraph("Title", common::title(meta));
        if !meta.version_label.is_empty() {
            self.text_paragraph("Subtitle", &meta.version_label);
        }
        if !meta.created_at.is_empty() {
            self.text_paragraph("Document_20_Info", &format!("Date : {}", meta.created_at));
        }
        if !meta.authors.is_empty() {
            let label = if meta.authors.len() == 1 {
                "Auteur"
            } else {
                "Auteurs"
            };
            self.text_paragraph(
                "Document_20_Info",
                &format!("{label} : {}", meta.authors.join(", ")),
            );
        }
        if let Some(seal) = &meta.seal {
            self.text_paragraph(
                "Document_20_Info",
                &format!(
                    "Version validée le {} par {}.",
                    seal.validated_at, seal.validator
                ),
            );
            if !seal.comment.is_empty() {
                self.text_paragraph(
                    "Document_20_Info",
                    &format!("Commentaire : {}", seal.comment),
                );
            }
            let hash = Inline::Text {
                text: seal.sha256.clone(),
                marks: Marks {
                    code: true,
                    ..Marks::default()
                },
            };
            // The hash goes on a line of its own: with its label it is wider than the page.
            self.paragraph(
                "text:p",
                &[("text:style-name", "Document_20_Info")],
                "Empreinte SHA-256 :\n",
                &[hash],
            );
        }
        self.body
            .empty("text:p", &[("text:style-name", "Horizontal_20_Line")]);
    }

    fn blocks(&mut self, blocks: &[Block], context: Context) {
        for segment in common::segments(blocks) {
            match segment {
                Segment::Block(block) => self.block(block, context),
                Segment::Actions(actions) => self.segment_actions(&actions, context),
            }
        }
    }

    fn block(&mut self, block: &Block, context: Context) {
        match block {
            Block::Heading { level, content } => {
                let level = (*level).clamp(1, 6);
                let style = format!("Heading_20_{level}");
                let level = level.to_string();
                self.paragraph(
                    "text:h",
                    &[("text:style-name", &style), ("text:outline-level", &level)],
                    "",
                    content,
                );
            }
            Block::Paragraph { content } => {
                self.paragraph(
                    "text:p",
                    &[("text:style-name", context.paragraph_style)],
                    "",
                    content,
                );
            }
            Block::BulletList { items } => self.list(items, "Bullets", None, context),
            Block::TaskList { items } => self.list(items, "Tasks", None, context),
            Block::OrderedList { start, items } => {
                self.list(items, "Numbering", Some(*start), context)
            }
            Block::Blockquote { blocks } => {
                self.blocks(
                    blocks,
                    Context {
                        paragraph_style: "Quotations",
                        ..context
                    },
                );
            }
            Block::CodeBlock { text, .. } => {
                self.body
                    .open("text:p", &[("text:style-name", "Preformatted_20_Text")]);
                self.start_paragraph();
                self.text(text.strip_suffix('\n').unwrap_or(text));
                self.body.close("text:p");
            }
            Block::Rule => self
                .body
                .empty("text:p", &[("text:style-name", "Horizontal_20_Line")]),
            Block::Table { rows } if context.in_list => {
                // One paragraph per row, cells separated by tabs.
                for row in rows {
                    let cells: Vec<String> = row
                        .cells
                        .iter()
                        .map(|cell| {
                            let mut lines = Vec::new();
                            common::blocks_text(&cell.blocks, &mut lines);
                            lines.join(" ")
                        })
                        .collect();
                    self.text_paragraph(context.paragraph_style, &cells.join("\t"));
                }
            }
            Block::Table { rows } => self.table(rows),
            Block::Action(action) => self.segment_actions(&[action], context),
        }
    }

    fn segment_actions(&mut self, actions: &[&ActionItem], context: Context) {
        if !context.in_list {
            self.action_table(actions);
            return;
        }
        for action in actions {
            let [assignee, _, due, status] = common::ACTION_HEADERS;
            let prefix = format!(
                "{} ({assignee} : {} ; {due} : {} ; {status} : {}) : ",
                common::ACTIONS_CAPTION,
                action.assignee,
                common::due_label(action),
                common::status_label(action.status)
            );
            self.paragraph(
                "text:p",
                &[("text:style-name", context.paragraph_style)],
                &prefix,
                &action.content,
            );
        }
    }

    fn list(&mut self, items: &[ListItem], style: &str, start: Option<u32>, context: Context) {
        self.body.open("text:list", &[("text:style-name", style)]);
        for (index, item) in items.iter().enumerate() {
            let start_value = match start {
                Some(start) if index == 0 && start != 1 => Some(start.to_string()),
                _ => None,
            };
            match &start_value {
                Some(value) => self
                    .body
                    .open("text:list-item", &[("text:start-value", value)]),
                None => self.body.open("text:list-item", &[]),
            }
            let prefix = match (style, item.checked) {
                ("Tasks", Some(true)) => "☑ ",
                ("Tasks", _) => "☐ ",
                _ => "",
            };
            let rest = match item.blocks.split_first() {
                Some((Block::Paragraph { content }, rest)) => {
                    self.paragraph(
                        "text:p",
                        &[("text:style-name", context.paragraph_style)],
                        prefix,
                        content,
                    );
                    rest
                }
                // An item that does not start with text still gets its number or box.
                _ => {
                    self.paragraph(
                        "text:p",
                        &[("text:style-name", context.paragraph_style)],
                        prefix,
                        &[],
                    );
                    item.blocks.as_slice()
                }
            };
            self.blocks(
                rest,
                Context {
                    in_list: true,
                    ..context
                },
            );
            self.body.close("text:list-item");
        }
        self.body.close("text:list");
    }

    fn text_paragraph(&mut self, style: &str, text: &str) {
        self.body.open("text:p", &[("text:style-name", style)]);
        self.start_paragraph();
        self.text(text);
        self.body.close("text:p");
    }

    /// A paragraph or heading of inline content, after `prefix` (a label or a task's box).
    fn paragraph(
        &mut self,
        element: &str,
        attributes: &[(&str, &str)],
        prefix: &str,
        content: &[Inline],
    ) {
        self.body.open(element, attributes);
        self.start_paragraph();
        self.text(prefix);
        self.inline(content);
        self.body.close(element);
    }

    fn start_paragraph(&mut self) {
        self.after_space = true;
        self.pending_spaces = 0;
    }

    /// Inline content; consecutive runs with the same link share one `text:a`.
    fn inline(&mut self, content: &[Inline]) {
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
                    self.body.close("text:a");
                }
                if let Some(href) = &link {
                    self.body.open(
                        "text:a",
                        &[
                            ("xlink:type", "simple"),
                            ("xlink:href", &common::strict_uri(href)),
                            ("text:style-name", "Internet_20_link"),
                            ("text:visited-style-name", "Visited_20_Internet_20_Link"),
                        ],
                    );
                }
                open_link = link;
            }
            match node {
                Inline::Text { text, marks } => match SpanStyle::of(marks) {
                    Some(style) => {
                        let name = self.span_style_name(style);
                        self.body.open("text:span", &[("text:style-name", &name)]);
                        self.text(text);
                        self.body.close("text:span");
                    }
                    None => self.text(text),
                },
                Inline::Break => {
                    self.body.empty("text:line-break", &[]);
                    self.after_space = true;
                }
            }
        }
        if open_link.is_some() {
            self.body.close("text:a");
        }
    }

    fn span_style_name(&mut self, style: SpanStyle) -> String {
        let index = match self.span_styles.iter().position(|known| *known == style) {
            Some(index) => index,
            None => {
                self.span_styles.push(style);
                self.span_styles.len() - 1
            }
        };
        format!("T{}", index + 1)
    }

    /// Text with ODF's white space elements.
    fn text(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                ' ' if self.after_space => self.pending_spaces += 1,
                ' ' => {
                    self.body.raw(" ");
                    self.after_space = true;
                }
                '\t' => {
                    self.flush_spaces();
                    self.body.empty("text:tab", &[]);
                    self.after_space = true;
                }
                '\n' => {
                    self.flush_spaces();
                    self.body.empty("text:line-break", &[]);
                    self.after_space = true;
                }
                '\r' => {}
                c => {
                    self.flush_spaces();
                    let mut buffer = [0u8; 4];
                    self.body.text(c.encode_utf8(&mut buffer));
                    self.after_space = false;
                }
            }
        }
        // Spaces belong to the span they were typed in.
        self.flush_spaces();
    }

    fn flush_spaces(&mut self) {
        match self.pending_spaces {
            0 => {}
            1 => self.body.empty("text:s", &[]),
            count => self.body.empty("text:s", &[("text:c", &count.to_string())]),
        }
        self.pending_spaces = 0;
    }

    fn table(&mut self, rows: &[relais_crdt::model::TableRow]) {
        let grid = common::grid(rows);
        if grid.rows.is_empty() || grid.columns == 0 {
            return;
        }
        let has_header_row = grid.has_header_row();
        self.open_table(grid.columns);
        for (row_index, slots) in grid.rows.iter().enumerate() {
            let in_header_row = has_header_row && row_index == 0;
            if in_header_row {
                self.body.open("table:table-header-rows", &[]);
            }
            self.body.open("table:table-row", &[]);
            for slot in slots {
                match slot {
                    Slot::Cell {
                        cell,
                        colspan,
                        rowspan,
                    } => {
                        let colspan = colspan.to_string();
                        let rowspan = rowspan.to_string();
                        let mut attributes = vec![
                            ("table:style-name", "Relais_Cell"),
                            ("office:value-type", "string"),
                        ];
                        if colspan != "1" {
                            attributes.push(("table:number-columns-spanned", &colspan));
                        }
                        if rowspan != "1" {
                            attributes.push(("table:number-rows-spanned", &rowspan));
                        }
                        self.body.open("table:table-cell", &attributes);
                        let style = if cell.header {
                            "Table_20_Heading"
                        } else {
                            "Table_20_Contents"
                        };
                        if cell.blocks.is_empty() {
                            self.body.empty("text:p", &[("text:style-name", style)]);
                        }
                        self.blocks(
                            &cell.blocks,
                            Context {
                                paragraph_style: style,
                                in_list: false,
                            },
                        );
                        self.body.close("table:table-cell");
                    }
                    Slot::Covered { .. } => self.body.empty("table:covered-table-cell", &[]),
                    Slot::Empty => self.empty_cell(),
                }
            }
            for _ in slots.len()..grid.columns {
                self.empty_cell();
            }
            self.body.close("table:table-row");
            if in_header_row {
                self.body.close("table:table-header-rows");
            }
        }
        self.body.close("table:table");
    }

    fn empty_cell(&mut self) {
        self.body.open(
            "table:table-cell",
            &[
                ("table:style-name", "Relais_Cell"),
                ("office:value-type", "string"),
            ],
        );
        self.body
            .empty("text:p", &[("text:style-name", "Table_20_Contents")]);
        self.body.close("table:table-cell");
    }

    fn open_table(&mut self, columns: usize) {
        self.tables += 1;
        let name = format!("Tableau{}", self.tables);
        self.body.open(
            "table:table",
            &[("table:name", &name), ("table:style-name", "Relais_Table")],
        );
        self.body.empty(
            "table:table-column",
            &[("table:number-columns-repeated", &columns.to_string())],
        );
    }

    fn action_table(&mut self, actions: &[&ActionItem]) {
        self.text_paragraph("Table_20_Caption", common::ACTIONS_CAPTION);
        self.open_table(common::ACTION_HEADERS.len());
        self.body.open("table:table-header-rows", &[]);
        self.body.open("table:table-row", &[]);
        for header in common::ACTION_HEADERS {
            self.open_cell();
            self.text_paragraph("Table_20_Heading", header);
            self.body.close("table:table-cell");
        }
        self.body.close("table:table-row");
        self.body.close("table:table-header-rows");
        for action in actions {
            self.body.open("table:table-row", &[]);
            self.open_cell();
            self.text_paragraph("Table_20_Contents", &action.assignee);
            self.body.close("table:table-cell");
            self.open_cell();
            self.paragraph(
                "text:p",
                &[("text:style-name", "Table_20_Contents")],
                "",
                &action.content,
            );
            self.body.close("table:table-cell");
            for text in [
                common::due_label(action).as_str(),
                common::status_label(action.status),
            ] {
                self.open_cell();
                self.text_paragraph("Table_20_Contents", text);
                self.body.close("table:table-cell");
            }
            self.body.close("table:table-row");
        }
        self.body.close("table:table");
    }

    fn open_cell(&mut self) {
        self.body.open(
            "table:table-cell",
            &[
                ("table:style-name", "Relais_Cell"),
                ("office:value-type", "string"),
            ],
        );
    }

    fn content(self) -> String {
        let mut xml = Xml::new();
        xml.open("office:document-content", &NAMESPACES);
        xml.open("office:automatic-styles", &[]);
        xml.raw(TABLE_STYLES);
        for (index, style) in self.span_styles.iter().enumerate() {
            let name = format!("T{}", index + 1);
            let mut attributes = vec![("style:name", name.as_str()), ("style:family", "text")];
            if style.code {
                attributes.push(("style:parent-style-name", "Source_20_Text"));
            }
            xml.open("style:style", &attributes);
            let mut properties = Vec::new();
            if style.bold {
                properties.extend([
                    ("fo:font-weight", "bold"),
                    ("style:font-weight-asian", "bold"),
                    ("style:font-weight-complex", "bold"),
                ]);
            }
            if style.italic {
                properties.extend([
                    ("fo:font-style", "italic"),
                    ("style:font-style-asian", "italic"),
                    ("style:font-style-complex", "italic"),
                ]);
            }
            if style.underline {
                properties.extend([
                    ("style:text-underline-style", "solid"),
                    ("style:text-underline-width", "auto"),
                    ("style:text-underline-color", "font-color"),
                ]);
            }
            if style.strike {
                properties.extend([
                    ("style:text-line-through-style", "solid"),
                    ("style:text-line-through-type", "single"),
                ]);
            }
            if !properties.is_empty() {
                xml.empty("style:text-properties", &properties);
            }
            xml.close("style:style");
        }
        xml.close("office:automatic-styles");
        xml.open("office:body", &[]);
        xml.open("office:text", &[]);
        xml.raw(&self.body.finish());
        xml.close("office:text");
        xml.close("office:body");
        xml.close("office:document-content");
        xml.finish()
    }
}

fn meta_xml(meta: &Metadata) -> String {
    let mut xml = Xml::new();
    xml.open("office:document-meta", &NAMESPACES);
    xml.open("office:meta", &[]);
    xml.element("meta:generator", &[], "Relais");
    xml.element("dc:title", &[], common::title(meta));
    let description = common::description(meta);
    if !description.is_empty() {
        xml.element("dc:description", &[], &description);
    }
    xml.element("dc:language", &[], "fr-FR");
    if !meta.authors.is_empty() {
        xml.element("meta:initial-creator", &[], &meta.authors.join(", "));
    }
    if !meta.version_label.is_empty() {
        xml.element(
            "meta:user-defined",
            &[("meta:name", "Version")],
            &meta.version_label,
        );
    }
    if let Some(seal) = &meta.seal {
        xml.element(
            "meta:user-defined",
            &[("meta:name", "Validée le")],
            &seal.validated_at,
        );
        xml.element(
            "meta:user-defined",
            &[("meta:name", "Validée par")],
            &seal.validator,
        );
        xml.element(
            "meta:user-defined",
            &[("meta:name", "Empreinte SHA-256")],
            &seal.sha256,
        );
    }
    xml.close("office:meta");
    xml.close("office:document-meta");
    xml.finish()
}

/// Automatic styles of tables, in `content.xml`: full width, thin borders.
const TABLE_STYLES: &str = concat!(
    "<style:style style:name=\"Relais_Table\" style:family=\"table\">",
    "<style:table-properties style:width=\"17cm\" table:align=\"margins\" fo:margin-top=\"0.2cm\" fo:margin-bottom=\"0.2cm\"/>",
    "</style:style>",
    "<style:style style:name=\"Relais_Cell\" style:family=\"table-cell\">",
    "<style:table-cell-properties fo:padding=\"0.1cm\" fo:border=\"0.5pt solid #000000\"/>",
    "</style:style>",
);

const MANIFEST: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.3\">",
    "<manifest:file-entry manifest:full-path=\"/\" manifest:version=\"1.3\" manifest:media-type=\"application/vnd.oasis.opendocument.text\"/>",
    "<manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>",
    "<manifest:file-entry manifest:full-path=\"styles.xml\" manifest:media-type=\"text/xml\"/>",
    "<manifest:file-entry manifest:full-path=\"meta.xml\" manifest:media-type=\"text/xml\"/>",
    "</manifest:manifest>",
);

/// A list level's indentation: `level` from 1.
macro_rules! list_level_properties {
    ($indent:literal) => {
        concat!(
            "<style:list-level-properties text:list-level-position-and-space-mode=\"label-alignment\">",
            "<style:list-level-label-alignment text:label-followed-by=\"listtab\" text:list-tab-stop-position=\"",
            $indent,
            "\" fo:text-indent=\"-0.635cm\" fo:margin-left=\"",
            $indent,
            "\"/></style:list-level-properties>"
        )
    };
}

macro_rules! bullet_levels {
    ($open:literal, $close:literal) => {
        concat!(
            $open,
            "1\" text:bullet-char=\"•\">",
            list_level_properties!("1.27cm"),
            $close,
            $open,
            "2\" text:bullet-char=\"◦\">",
            list_level_properties!("1.905cm"),
            $close,
            $open,
            "3\" text:bullet-char=\"▪\">",
            list_level_properties!("2.54cm"),
            $close,
            $open,
            "4\" text:bullet-char=\"•\">",
            list_level_properties!("3.175cm"),
            $close,
            $open,
            "5\" text:bullet-char=\"◦\">",
            list_level_properties!("3.81cm"),
            $close,
            $open,
            "6\" text:bullet-char=\"▪\">",
            list_level_properties!("4.445cm"),
            $close,
            $open,
            "7\" text:bullet-char=\"•\">",
            list_level_properties!("5.08cm"),
            $close,
            $open,
            "8\" text:bullet-char=\"◦\">",
            list_level_properties!("5.715cm"),
            $close,
            $open,
            "9\" text:bullet-char=\"▪\">",
            list_level_properties!("6.35cm"),
            $close,
            $open,
            "10\" text:bullet-char=\"•\">",
            list_level_properties!("6.985cm"),
            $close,
        )
    };
}

/// Ten numbered levels whose number format is `$format`.
macro_rules! numbered_levels {
    ($format:literal) => {
        concat!(
            "<text:list-level-style-number text:level=\"1\" ",
            $format,
            ">",
            list_level_properties!("1.27cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"2\" ",
            $format,
            ">",
            list_level_properties!("1.905cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"3\" ",
            $format,
            ">",
            list_level_properties!("2.54cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"4\" ",
            $format,
            ">",
            list_level_properties!("3.175cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"5\" ",
            $format,
            ">",
            list_level_properties!("3.81cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"6\" ",
            $format,
            ">",
            list_level_properties!("4.445cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"7\" ",
            $format,
            ">",
            list_level_properties!("5.08cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"8\" ",
            $format,
            ">",
            list_level_properties!("5.715cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"9\" ",
            $format,
            ">",
            list_level_properties!("6.35cm"),
            "</text:list-level-style-number>",
            "<text:list-level-style-number text:level=\"10\" ",
            $format,
            ">",
            list_level_properties!("6.985cm"),
            "</text:list-level-style-number>",
        )
    };
}

/// Headings carry no number.
macro_rules! outline_levels {
    () => {
        concat!(
            "<text:outline-level-style text:level=\"1\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"2\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"3\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"4\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"5\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"6\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"7\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"8\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"9\" style:num-format=\"\"/>",
            "<text:outline-level-style text:level=\"10\" style:num-format=\"\"/>",
        )
    };
}

const STYLES: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<office:document-styles xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" ",
    "xmlns:style=\"urn:oasis:names:tc:opendocument:xmlns:style:1.0\" ",
    "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" ",
    "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" ",
    "xmlns:fo=\"urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0\" ",
    "xmlns:svg=\"urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0\" ",
    "office:version=\"1.3\">",
    "<office:font-face-decls>",
    "<style:font-face style:name=\"Liberation Sans\" svg:font-family=\"&apos;Liberation Sans&apos;\" style:font-family-generic=\"swiss\" style:font-pitch=\"variable\"/>",
    "<style:font-face style:name=\"Liberation Mono\" svg:font-family=\"&apos;Liberation Mono&apos;\" style:font-family-generic=\"modern\" style:font-pitch=\"fixed\"/>",
    "</office:font-face-decls>",
    "<office:styles>",
    "<style:default-style style:family=\"paragraph\">",
    "<style:paragraph-properties fo:orphans=\"2\" fo:widows=\"2\"/>",
    "<style:text-properties style:font-name=\"Liberation Sans\" fo:font-size=\"11pt\" fo:language=\"fr\" fo:country=\"FR\"/>",
    "</style:default-style>",
    "<style:style style:name=\"Standard\" style:family=\"paragraph\" style:class=\"text\"/>",
    "<style:style style:name=\"Text_20_body\" style:display-name=\"Text body\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"text\">",
    "<style:paragraph-properties fo:margin-top=\"0cm\" fo:margin-bottom=\"0.21cm\" fo:line-height=\"115%\"/></style:style>",
    "<style:style style:name=\"Title\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:next-style-name=\"Text_20_body\" style:class=\"chapter\">",
    "<style:paragraph-properties fo:margin-bottom=\"0.21cm\"/><style:text-properties fo:font-size=\"24pt\" fo:font-weight=\"bold\"/></style:style>",
    "<style:style style:name=\"Subtitle\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:next-style-name=\"Text_20_body\" style:class=\"chapter\">",
    "<style:paragraph-properties fo:margin-bottom=\"0.21cm\"/><style:text-properties fo:font-size=\"14pt\" fo:color=\"#3a3a3a\"/></style:style>",
    "<style:style style:name=\"Document_20_Info\" style:display-name=\"Document Info\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"text\">",
    "<style:paragraph-properties fo:margin-bottom=\"0.07cm\"/><style:text-properties fo:font-size=\"10pt\" fo:color=\"#3a3a3a\"/></style:style>",
    "<style:style style:name=\"Heading\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:next-style-name=\"Text_20_body\" style:class=\"text\">",
    "<style:paragraph-properties fo:margin-top=\"0.42cm\" fo:margin-bottom=\"0.21cm\" fo:keep-with-next=\"always\"/>",
    "<style:text-properties fo:font-weight=\"bold\" style:font-weight-asian=\"bold\" style:font-weight-complex=\"bold\"/></style:style>",
    "<style:style style:name=\"Heading_20_1\" style:display-name=\"Heading 1\" style:family=\"paragraph\" style:parent-style-name=\"Heading\" style:next-style-name=\"Text_20_body\" style:default-outline-level=\"1\" style:class=\"text\">",
    "<style:text-properties fo:font-size=\"18pt\"/></style:style>",
    "<style:style style:name=\"Heading_20_2\" style:display-name=\"Heading 2\" style:family=\"paragraph\" style:parent-style-name=\"Heading\" style:next-style-name=\"Text_20_body\" style:default-outline-level=\"2\" style:class=\"text\">",
    "<style:text-properties fo:font-size=\"15pt\"/></style:style>",
    "<style:style style:name=\"Heading_20_3\" style:display-name=\"Heading 3\" style:family=\"paragraph\" style:parent-style-name=\"Heading\" style:next-style-name=\"Text_20_body\" style:default-outline-level=\"3\" style:class=\"text\">",
    "<style:text-properties fo:font-size=\"13pt\"/></style:style>",
    "<style:style style:name=\"Heading_20_4\" style:display-name=\"Heading 4\" style:family=\"paragraph\" style:parent-style-name=\"Heading\" style:next-style-name=\"Text_20_body\" style:default-outline-level=\"4\" style:class=\"text\">",
    "<style:text-properties fo:font-size=\"12pt\" fo:font-style=\"italic\"/></style:style>",
    "<style:style style:name=\"Heading_20_5\" style:display-name=\"Heading 5\" style:family=\"paragraph\" style:parent-style-name=\"Heading\" style:next-style-name=\"Text_20_body\" style:default-outline-level=\"5\" style:class=\"text\">",
    "<style:text-properties fo:font-size=\"11pt\"/></style:style>",
    "<style:style style:name=\"Heading_20_6\" style:display-name=\"Heading 6\" style:family=\"paragraph\" style:parent-style-name=\"Heading\" style:next-style-name=\"Text_20_body\" style:default-outline-level=\"6\" style:class=\"text\">",
    "<style:text-properties fo:font-size=\"11pt\" fo:font-style=\"italic\"/></style:style>",
    "<style:style style:name=\"Quotations\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"html\">",
    "<style:paragraph-properties fo:margin-left=\"1cm\" fo:margin-bottom=\"0.21cm\" fo:border-left=\"2.25pt solid #bbbbbb\" fo:padding-left=\"0.3cm\"/>",
    "<style:text-properties fo:font-style=\"italic\" fo:color=\"#404040\"/></style:style>",
    "<style:style style:name=\"Preformatted_20_Text\" style:display-name=\"Preformatted Text\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"html\">",
    "<style:paragraph-properties fo:margin-bottom=\"0.21cm\" fo:background-color=\"#f6f6f6\" fo:padding=\"0.1cm\"/>",
    "<style:text-properties style:font-name=\"Liberation Mono\" fo:font-size=\"10pt\"/></style:style>",
    "<style:style style:name=\"Table_20_Contents\" style:display-name=\"Table Contents\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"extra\"/>",
    "<style:style style:name=\"Table_20_Heading\" style:display-name=\"Table Heading\" style:family=\"paragraph\" style:parent-style-name=\"Table_20_Contents\" style:class=\"extra\">",
    "<style:text-properties fo:font-weight=\"bold\" style:font-weight-asian=\"bold\" style:font-weight-complex=\"bold\"/></style:style>",
    "<style:style style:name=\"Table_20_Caption\" style:display-name=\"Table Caption\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"extra\">",
    "<style:paragraph-properties fo:margin-top=\"0.42cm\" fo:margin-bottom=\"0.1cm\" fo:keep-with-next=\"always\"/>",
    "<style:text-properties fo:font-weight=\"bold\" style:font-weight-asian=\"bold\" style:font-weight-complex=\"bold\"/></style:style>",
    "<style:style style:name=\"Horizontal_20_Line\" style:display-name=\"Horizontal Line\" style:family=\"paragraph\" style:parent-style-name=\"Standard\" style:class=\"html\">",
    "<style:paragraph-properties fo:margin-bottom=\"0.5cm\" fo:border-bottom=\"0.5pt solid #808080\" fo:padding=\"0cm\"/>",
    "<style:text-properties fo:font-size=\"6pt\"/></style:style>",
    "<style:style style:name=\"Internet_20_link\" style:display-name=\"Internet link\" style:family=\"text\">",
    "<style:text-properties fo:color=\"#000080\" style:text-underline-style=\"solid\" style:text-underline-width=\"auto\" style:text-underline-color=\"font-color\"/></style:style>",
    "<style:style style:name=\"Visited_20_Internet_20_Link\" style:display-name=\"Visited Internet Link\" style:family=\"text\">",
    "<style:text-properties fo:color=\"#800000\" style:text-underline-style=\"solid\" style:text-underline-width=\"auto\" style:text-underline-color=\"font-color\"/></style:style>",
    "<style:style style:name=\"Source_20_Text\" style:display-name=\"Source Text\" style:family=\"text\">",
    "<style:text-properties style:font-name=\"Liberation Mono\"/></style:style>",
    "<text:list-style style:name=\"Bullets\" style:display-name=\"Puces\">",
    bullet_levels!(
        "<text:list-level-style-bullet text:level=\"",
        "</text:list-level-style-bullet>"
    ),
    "</text:list-style>",
    "<text:list-style style:name=\"Numbering\" style:display-name=\"Numérotation\">",
    numbered_levels!("style:num-suffix=\".\" style:num-format=\"1\""),
    "</text:list-style>",
    "<text:list-style style:name=\"Tasks\" style:display-name=\"Tâches\">",
    numbered_levels!("style:num-format=\"\""),
    "</text:list-style>",
    "<text:outline-style style:name=\"Outline\">",
    outline_levels!(),
    "</text:outline-style>",
    "</office:styles>",
    "<office:automatic-styles>",
    "<style:page-layout style:name=\"pm1\"><style:page-layout-properties fo:page-width=\"21cm\" fo:page-height=\"29.7cm\" ",
    "style:print-orientation=\"portrait\" fo:margin-top=\"2cm\" fo:margin-bottom=\"2cm\" fo:margin-left=\"2cm\" fo:margin-right=\"2cm\"/></style:page-layout>",
    "</office:automatic-styles>",
    "<office:master-styles><style:master-page style:name=\"Standard\" style:page-layout-name=\"pm1\"/></office:master-styles>",
    "</office:document-styles>",
);

#[cfg(test)]
mod tests {
    use relais_crdt::model::TableRow;

    use super::*;
    use crate::sample::{self, linked, text};
    use crate::zip_file::testing::{assert_balanced, entry, names};

    fn render(blocks: Vec<Block>) -> Vec<u8> {
        odt(&Content { blocks }, &sample::titled())
    }

    fn content(bytes: &[u8]) -> String {
        entry(bytes, "content.xml")
    }

    #[test]
    fn mimetype_comes_first_uncompressed_at_its_fixed_offset() {
        let bytes = render(vec![]);
        assert_eq!(&bytes[0..4], b"PK\x03\x04", "a local file header");
        assert_eq!(&bytes[8..10], &[0, 0], "stored, not compressed");
        assert_eq!(u16::from_le_bytes([bytes[26], bytes[27]]), 8, "name length");
        assert_eq!(
            u16::from_le_bytes([bytes[28], bytes[29]]),
            0,
            "no extra field"
        );
        assert_eq!(&bytes[30..38], b"mimetype");
        assert_eq!(&bytes[38..38 + MIMETYPE.len()], MIMETYPE.as_bytes());
        assert_eq!(
            names(&bytes),
            [
                "mimetype",
                "content.xml",
                "styles.xml",
                "meta.xml",
                "META-INF/manifest.xml"
            ]
        );
        for name in names(&bytes).iter().filter(|name| name.ends_with(".xml")) {
            assert_balanced(&entry(&bytes, name));
        }
        let manifest = entry(&bytes, "META-INF/manifest.xml");
        for part in ["content.xml", "styles.xml", "meta.xml"] {
            assert!(
                manifest.contains(&format!("manifest:full-path=\"{part}\"")),
                "{part}"
            );
        }
    }

    #[test]
    fn text_and_metadata_are_escaped() {
        let (hostile, meta) = sample::hostile();
        let bytes = odt(&hostile, &meta);
        let content = content(&bytes);
        assert!(
            content.contains(">&lt;script&gt;alert(1)&lt;/script&gt; &amp; **x** | </text:p>"),
            "{content}"
        );
        assert!(
            !content.contains("<script>") && !content.contains("<h>") && !content.contains("<v>")
        );
        let meta_xml = entry(&bytes, "meta.xml");
        assert!(
            meta_xml.contains("<dc:title>&lt;Titre &amp; co&gt;</dc:title>"),
            "{meta_xml}"
        );
        assert!(meta_xml.contains(
            "<meta:user-defined meta:name=\"Empreinte SHA-256\">&lt;h&gt;</meta:user-defined>"
        ));
        assert_balanced(&meta_xml);
    }

    #[test]
    fn only_safe_absolute_links_are_kept() {
        let bytes = render(vec![Block::Paragraph {
            content: vec![
                linked("piège", "javascript:alert(1)"),
                text(" "),
                linked("relatif", "/documents/1"),
                text(" "),
                linked("site", "https://example.org/a b"),
            ],
        }]);
        let content = content(&bytes);
        assert_eq!(content.matches("<text:a ").count(), 1, "{content}");
        assert!(content.contains("xlink:href=\"https://example.org/a%20b\""));
        assert!(
            content.contains(">piège <text:s/>") || content.contains(">piège relatif"),
            "{content}"
        );
        assert!(!content.contains("javascript"));
    }

    #[test]
    fn white_space_is_written_with_odf_elements() {
        let bytes = render(vec![Block::Paragraph {
            content: vec![text(" a  b   c\td\ne"), Inline::Break, text(" f")],
        }]);
        let content = content(&bytes);
        assert!(content.contains(
            "<text:p text:style-name=\"Text_20_body\"><text:s/>a <text:s/>b <text:s text:c=\"2\"/>c<text:tab/>d<text:line-break/>e<text:line-break/><text:s/>f</text:p>"
        ), "{content}");
    }

    #[test]
    fn headings_lists_and_marks_use_styles() {
        let bold = Marks {
            bold: true,
            ..Marks::default()
        };
        let bytes = render(vec![
            Block::Heading {
                level: 2,
                content: vec![text("Décisions")],
            },
            Block::OrderedList {
                start: 4,
                items: vec![ListItem {
                    checked: None,
                    blocks: vec![Block::Paragraph {
                        content: vec![Inline::Text {
                            text: "gras".into(),
                            marks: bold.clone(),
                        }],
                    }],
                }],
            },
            Block::Paragraph {
                content: vec![Inline::Text {
                    text: "encore".into(),
                    marks: bold,
                }],
            },
        ]);
        let content = content(&bytes);
        assert!(content.contains(
            "<text:h text:style-name=\"Heading_20_2\" text:outline-level=\"2\">Décisions</text:h>"
        ));
        assert!(content.contains(
            "<text:list text:style-name=\"Numbering\"><text:list-item text:start-value=\"4\">"
        ));
        // One automatic style for both bold runs.
        assert_eq!(content.matches("style:name=\"T").count(), 1, "{content}");
        assert_eq!(
            content
                .matches("<text:span text:style-name=\"T1\">")
                .count(),
            2
        );
        let styles = entry(&bytes, "styles.xml");
        for level in 1..=6 {
            assert!(styles.contains(&format!(
                "style:name=\"Heading_20_{level}\" style:display-name=\"Heading {level}\""
            )));
            assert!(styles.contains(&format!("style:default-outline-level=\"{level}\"")));
        }
    }

    #[test]
    fn tables_have_header_rows_and_covered_cells() {
        let cell = |header, colspan, rowspan| sample::cell(header, colspan, rowspan, "c");
        let bytes = render(vec![Block::Table {
            rows: vec![
                TableRow {
                    cells: vec![cell(true, 1, 1), cell(true, 1, 1)],
                },
                TableRow {
                    cells: vec![cell(false, 2, 1)],
                },
            ],
        }]);
        let content = content(&bytes);
        assert!(content.contains("<table:table table:name=\"Tableau1\""));
        assert!(content.contains("<table:table-column table:number-columns-repeated=\"2\"/><table:table-header-rows><table:table-row>"));
        assert!(content.contains("table:number-columns-spanned=\"2\""));
        assert!(content.contains("<table:covered-table-cell/>"));
        assert!(content.contains("text:style-name=\"Table_20_Heading\""));
    }

    #[test]
    fn tables_inside_list_items_become_paragraphs() {
        let cell = |t| sample::cell(false, 1, 1, t);
        let bytes = render(vec![Block::BulletList {
            items: vec![ListItem {
                checked: None,
                blocks: vec![
                    Block::Paragraph {
                        content: vec![text("point")],
                    },
                    Block::Table {
                        rows: vec![TableRow {
                            cells: vec![cell("a"), cell("b")],
                        }],
                    },
                ],
            }],
        }]);
        let content = content(&bytes);
        assert!(
            !content.contains("<table:table "),
            "ODF lists cannot hold tables: {content}"
        );
        assert!(content.contains(">a<text:tab/>b</text:p>"));
    }

    #[test]
    fn output_is_deterministic() {
        sample::assert_deterministic(render);
    }
}
