//! Reading a document's content out of its Yjs state into the plain tree of [`crate::model`].
//!
//! The web client edits through y-prosemirror, which mirrors the ProseMirror document into the
//! `Y.XmlFragment` named `default`: one `XmlElement` per node, named by node type, with node
//! attributes as element attributes, and text as `XmlText` whose formatting attributes are the
//! marks (`bold: {}`, `link: {href: …}`). Documents written by the older plain-text client only
//! have a root `Y.Text` named `text`.
//!
//! Nothing here trusts the bytes: `yrs` runs under `catch_unwind`, recursion is bounded, and
//! unknown nodes keep their text instead of disappearing from exports and comparisons.

use std::panic::{AssertUnwindSafe, catch_unwind};

use yrs::types::Attrs;
use yrs::types::text::YChange;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Doc, GetString, Number, Options, Out, ReadTxn, Text, Transact, Update, WriteTxn, Xml,
    XmlElementRef, XmlFragment, XmlOut, XmlTextRef,
};

use crate::CrdtError;
use crate::model::{
    ActionItem, ActionStatus, Block, Content, Inline, ListItem, Marks, TableCell, TableRow,
};

/// Name of the root `Y.XmlFragment` y-prosemirror binds the editor to.
pub const FRAGMENT: &str = "default";
/// Name of the root `Y.Text` of documents written by the older plain-text client.
pub const LEGACY_TEXT: &str = "text";
/// Nesting depth beyond which nodes are no longer mapped one by one: their text is kept as
/// plain paragraphs. ProseMirror documents written by people stay far below it; the bound
/// exists so that a hostile document cannot overflow the stack.
pub const MAX_DEPTH: usize = 64;
/// Upper bound for `colspan`/`rowspan`, so that an exporter laying out a grid from them cannot
/// be made to allocate without limit.
const MAX_SPAN: u32 = 1000;

/// Decodes a v1 update into a fresh document. A panic inside the decoder is reported as
/// malformed input; a panic while integrating it as [`CrdtError::Panicked`].
///
/// Updates with missing dependencies are pruned rather than kept pending: the pending part is
/// invisible anyway, and a pending set built from hostile input makes later encodes panic.
pub(crate) fn load_doc(state: &[u8], options: Options) -> Result<Doc, CrdtError> {
    let update = decode_update(state)?;
    let doc = Doc::with_options(options);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        let applied = txn.apply_update(update);
        if txn.has_missing_updates() {
            txn.prune_pending();
        }
        applied
    }));
    match outcome {
        Ok(Ok(())) => Ok(doc),
        Ok(Err(error)) => Err(malformed(error)),
        Err(_) => Err(CrdtError::Panicked),
    }
}

pub(crate) fn decode_update(bytes: &[u8]) -> Result<Update, CrdtError> {
    match catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(error)) => Err(malformed(error)),
        Err(_) => Err(malformed("undecodable")),
    }
}

fn malformed(reason: impl ToString) -> CrdtError {
    CrdtError::Malformed {
        what: "document state",
        reason: reason.to_string(),
    }
}

/// The content of a v1-encoded document state (as stored by the server).
pub fn extract(state: &[u8]) -> Result<Content, CrdtError> {
    let doc = load_doc(state, Options::default())?;
    extract_from_doc(&doc)
}

/// The content of a document already in memory.
///
/// `yrs` may panic on a document built from hostile updates; that is reported as
/// [`CrdtError::Panicked`].
pub fn extract_from_doc(doc: &Doc) -> Result<Content, CrdtError> {
    catch_unwind(AssertUnwindSafe(|| {
        let txn = doc.transact();
        read_content(&txn)
    }))
    .map_err(|_| CrdtError::Panicked)
}

fn read_content<T: ReadTxn>(txn: &T) -> Content {
    let reader = Reader { txn };
    let blocks = match txn.get_xml_fragment(FRAGMENT) {
        Some(fragment) => reader.blocks_of(&fragment, 0),
        None => Vec::new(),
    };
    // TipTap starts every document with one empty paragraph, so "empty" means "no text", not
    // "no node": a legacy document opened once in the new editor still shows its old text.
    let fragment_is_blank = blocks
        .iter()
        .all(|block| matches!(block, Block::Paragraph { content } if content.is_empty()));
    if fragment_is_blank && let Some(text) = txn.get_text(LEGACY_TEXT) {
        let text = text.get_string(txn);
        if !text.is_empty() {
            return Content {
                blocks: text.lines().map(plain_paragraph).collect(),
            };
        }
    }
    Content { blocks }
}

fn plain_paragraph(line: &str) -> Block {
    let content = if line.is_empty() {
        Vec::new()
    } else {
        vec![Inline::Text {
            text: line.to_owned(),
            marks: Marks::default(),
        }]
    };
    Block::Paragraph { content }
}

/// Walks the XML tree under one read transaction. `depth` is the nesting level of the node
/// being read; every function that descends increments it, and nodes at [`MAX_DEPTH`] are
/// flattened with the iterative [`XmlFragment::successors`] walker instead of recursion.
struct Reader<'t, T> {
    txn: &'t T,
}

impl<T: ReadTxn> Reader<'_, T> {
    /// The blocks inside `parent`. Inline content found directly among blocks (text or hard
    /// breaks outside any paragraph, e.g. inside an unknown node) becomes a paragraph.
    fn blocks_of(&self, parent: &impl XmlFragment, depth: usize) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut loose = Vec::new();
        for child in parent.children(self.txn) {
            match child {
                XmlOut::Text(text) => self.text_runs(&text, &mut loose),
                XmlOut::Element(element) if tag(&element) == "hardBreak" => {
                    loose.push(Inline::Break)
                }
                XmlOut::Element(element) => {
                    flush_paragraph(&mut loose, &mut blocks);
                    self.block(&element, depth + 1, &mut blocks);
                }
                XmlOut::Fragment(fragment) => {
                    flush_paragraph(&mut loose, &mut blocks);
                    blocks.extend(self.nested_blocks(&fragment, depth + 1));
                }
            }
        }
        flush_paragraph(&mut loose, &mut blocks);
        blocks
    }

    /// The blocks inside a container node at `depth`, flattened once too deep.
    fn nested_blocks(&self, container: &impl XmlFragment, depth: usize) -> Vec<Block> {
        if depth >= MAX_DEPTH {
            self.flattened(container)
        } else {
            self.blocks_of(container, depth)
        }
    }

    fn block(&self, element: &XmlElementRef, depth: usize, out: &mut Vec<Block>) {
        if depth >= MAX_DEPTH {
            out.extend(self.flattened(element));
            return;
        }
        let block = match tag(element) {
            "paragraph" => Block::Paragraph {
                content: self.inlines_of(element, depth),
            },
            "heading" => {
                let level = self
                    .attribute_u32(element, "level")
                    .unwrap_or(1)
                    .clamp(1, 6);
                let level = u8::try_from(level).unwrap_or(1);
                Block::Heading {
                    level,
                    content: self.inlines_of(element, depth),
                }
            }
            "bulletList" => Block::BulletList {
                items: self.list_items(element, depth),
            },
            "orderedList" => Block::OrderedList {
                start: self.attribute_u32(element, "start").unwrap_or(1),
                items: self.list_items(element, depth),
            },
            "taskList" => Block::TaskList {
                items: self.list_items(element, depth),
            },
            "blockquote" => Block::Blockquote {
                blocks: self.blocks_of(element, depth),
            },
            "codeBlock" => Block::CodeBlock {
                language: self
                    .attribute_string(element, "language")
                    .filter(|l| !l.is_empty()),
                text: inline_text(&self.inlines_of(element, depth)),
            },
            "horizontalRule" => Block::Rule,
            "table" => Block::Table {
                rows: self.table_rows(element, depth),
            },
            "actionItem" => Block::Action(self.action_item(element, depth)),
            // Structure out of place (an item outside a list, a cell outside a table) and
            // unknown nodes: their content is kept, their structure is not.
            _ => {
                out.extend(self.blocks_of(element, depth));
                return;
            }
        };
        out.push(block);
    }

    fn list_items(&self, list: &XmlElementRef, depth: usize) -> Vec<ListItem> {
        let mut items = Vec::new();
        for child in list.children(self.txn) {
            match &child {
                XmlOut::Element(item) if matches!(tag(item), "listItem" | "taskItem") => {
                    let checked = (tag(item) == "taskItem")
                        .then(|| self.attribute_bool(item, "checked").unwrap_or(false));
                    let blocks = self.nested_blocks(item, depth + 1);
                    items.push(ListItem { checked, blocks });
                }
                // Content directly in the list: its own item, when it has any.
                _ => {
                    let blocks = self.child_as_blocks(child, depth + 1);
                    if !blocks.is_empty() {
                        items.push(ListItem {
                            checked: None,
                            blocks,
                        });
                    }
                }
            }
        }
        items
    }

    fn table_rows(&self, table: &XmlElementRef, depth: usize) -> Vec<TableRow> {
        let mut rows = Vec::new();
        for child in table.children(self.txn) {
            match &child {
                XmlOut::Element(row) if tag(row) == "tableRow" => {
                    rows.push(TableRow {
                        cells: self.table_cells(row, depth + 1),
                    });
                }
                _ => {
                    let blocks = self.child_as_blocks(child, depth + 1);
                    if !blocks.is_empty() {
                        rows.push(TableRow {
                            cells: vec![loose_cell(blocks)],
                        });
                    }
                }
            }
        }
        rows
    }

    fn table_cells(&self, row: &XmlElementRef, depth: usize) -> Vec<TableCell> {
        let mut cells = Vec::new();
        for child in row.children(self.txn) {
            match &child {
                XmlOut::Element(cell) if matches!(tag(cell), "tableCell" | "tableHeader") => {
                    let span = |name| {
                        self.attribute_u32(cell, name)
                            .unwrap_or(1)
                            .clamp(1, MAX_SPAN)
                    };
                    cells.push(TableCell {
                        header: tag(cell) == "tableHeader",
                        colspan: span("colspan"),
                        rowspan: span("rowspan"),
                        blocks: self.nested_blocks(cell, depth + 1),
                    });
                }
                _ => {
                    let blocks = self.child_as_blocks(child, depth + 1);
                    if !blocks.is_empty() {
                        cells.push(loose_cell(blocks));
                    }
                }
            }
        }
        cells
    }

    /// Any child node read as blocks, for content found where the schema expects something
    /// else (text directly in a list, a paragraph directly in a row).
    fn child_as_blocks(&self, child: XmlOut, depth: usize) -> Vec<Block> {
        let mut blocks = Vec::new();
        match child {
            XmlOut::Element(element) if tag(&element) == "hardBreak" => {}
            XmlOut::Element(element) => self.block(&element, depth, &mut blocks),
            XmlOut::Fragment(fragment) => blocks = self.nested_blocks(&fragment, depth),
            XmlOut::Text(text) => {
                let mut inlines = Vec::new();
                self.text_runs(&text, &mut inlines);
                flush_paragraph(&mut inlines, &mut blocks);
            }
        }
        blocks
    }

    fn action_item(&self, element: &XmlElementRef, depth: usize) -> ActionItem {
        let status = match self.attribute_string(element, "status") {
            Some(status) if status.trim().eq_ignore_ascii_case("done") => ActionStatus::Done,
            _ => ActionStatus::Open,
        };
        ActionItem {
            assignee: self
                .attribute_string(element, "assignee")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            due: self
                .attribute_string(element, "due")
                .map(|due| due.trim().to_owned())
                .filter(|due| is_iso_date(due)),
            status,
            content: self.inlines_of(element, depth),
        }
    }

    /// The inline content of a textblock at `depth`. Unknown inline nodes contribute the text
    /// they contain.
    fn inlines_of(&self, element: &impl XmlFragment, depth: usize) -> Vec<Inline> {
        let mut inlines = Vec::new();
        self.collect_inlines(element, depth, &mut inlines);
        merge_runs(inlines)
    }

    fn collect_inlines(&self, parent: &impl XmlFragment, depth: usize, out: &mut Vec<Inline>) {
        for child in parent.children(self.txn) {
            match child {
                XmlOut::Text(text) => self.text_runs(&text, out),
                XmlOut::Element(element) if tag(&element) == "hardBreak" => out.push(Inline::Break),
                XmlOut::Element(element) => self.nested_inlines(&element, depth + 1, out),
                XmlOut::Fragment(fragment) => self.nested_inlines(&fragment, depth + 1, out),
            }
        }
    }

    fn nested_inlines(&self, node: &impl XmlFragment, depth: usize, out: &mut Vec<Inline>) {
        if depth >= MAX_DEPTH {
            for text in self.texts_under(node) {
                self.text_runs(&text, out);
            }
        } else {
            self.collect_inlines(node, depth, out);
        }
    }

    /// Everything under `node` as one paragraph per text node, without recursion.
    fn flattened(&self, node: &impl XmlFragment) -> Vec<Block> {
        let mut blocks = Vec::new();
        for text in self.texts_under(node) {
            let mut inlines = Vec::new();
            self.text_runs(&text, &mut inlines);
            flush_paragraph(&mut inlines, &mut blocks);
        }
        blocks
    }

    fn texts_under(&self, node: &impl XmlFragment) -> Vec<XmlTextRef> {
        node.successors(self.txn)
            .filter_map(XmlOut::into_xml_text)
            .collect()
    }

    /// The formatted runs of a text node. Embedded values are not part of the schema the
    /// client writes and are skipped.
    fn text_runs(&self, text: &XmlTextRef, out: &mut Vec<Inline>) {
        for chunk in text.diff(self.txn, YChange::identity) {
            if let Out::Any(Any::String(string)) = &chunk.insert
                && !string.is_empty()
            {
                out.push(Inline::Text {
                    text: string.to_string(),
                    marks: marks_of(chunk.attributes.as_deref()),
                });
            }
        }
    }

    fn attribute(&self, element: &XmlElementRef, name: &str) -> Option<Any> {
        match element.get_attribute(self.txn, name)? {
            Out::Any(any) => Some(any),
            _ => None,
        }
    }

    /// A numeric attribute. y-prosemirror stores ProseMirror attributes as they are (numbers
    /// for `level`, `start`, `colspan`), but documents imported by other tools may hold strings.
    fn attribute_u32(&self, element: &XmlElementRef, name: &str) -> Option<u32> {
        match self.attribute(element, name)? {
            Any::Number(number) => number_to_u32(number_f64(&number)),
            Any::String(string) => {
                let string = string.trim();
                string
                    .parse::<u32>()
                    .ok()
                    .or_else(|| number_to_u32(string.parse().ok()?))
            }
            _ => None,
        }
    }

    fn attribute_bool(&self, element: &XmlElementRef, name: &str) -> Option<bool> {
        match self.attribute(element, name)? {
            Any::Bool(value) => Some(value),
            Any::String(string) => match string.trim() {
                "true" => Some(true),
                "false" | "" => Some(false),
                _ => None,
            },
            Any::Number(number) => Some(number_f64(&number) != 0.0),
            _ => None,
        }
    }

    fn attribute_string(&self, element: &XmlElementRef, name: &str) -> Option<String> {
        match self.attribute(element, name)? {
            Any::String(string) => Some(string.to_string()),
            Any::Number(number) => Some(number.to_string()),
            Any::Bool(value) => Some(value.to_string()),
            _ => None,
        }
    }
}

fn tag(element: &XmlElementRef) -> &str {
    element
        .try_tag()
        .map(|tag| tag.as_ref())
        .unwrap_or_default()
}

fn number_f64(number: &Number) -> f64 {
    match *number {
        Number::Int(int) => int as f64,
        Number::Float(float) => float,
    }
}

fn number_to_u32(number: f64) -> Option<u32> {
    // `as` saturates, which is the clamping wanted for absurd values.
    (number.is_finite() && number >= 0.0).then_some(number as u32)
}

fn loose_cell(blocks: Vec<Block>) -> TableCell {
    TableCell {
        header: false,
        colspan: 1,
        rowspan: 1,
        blocks,
    }
}

fn flush_paragraph(inlines: &mut Vec<Inline>, blocks: &mut Vec<Block>) {
    if !inlines.is_empty() {
        blocks.push(Block::Paragraph {
            content: merge_runs(std::mem::take(inlines)),
        });
    }
}

/// Joins adjacent runs with the same marks: adjacent text nodes and formatting toggled back
/// and forth would otherwise split runs that look identical.
fn merge_runs(inlines: Vec<Inline>) -> Vec<Inline> {
    let mut merged: Vec<Inline> = Vec::with_capacity(inlines.len());
    for inline in inlines {
        if let (
            Some(Inline::Text { text, marks }),
            Inline::Text {
                text: next,
                marks: next_marks,
            },
        ) = (merged.last_mut(), &inline)
            && marks == next_marks
        {
            text.push_str(next);
            continue;
        }
        merged.push(inline);
    }
    merged
}

/// Marks from the formatting attributes of a text run. y-prosemirror names a mark's attribute
/// after the mark type, suffixed with `--` and an 8-character hash for marks that may overlap
/// themselves; a `null` value means the mark was removed.
fn marks_of(attributes: Option<&Attrs>) -> Marks {
    let mut marks = Marks::default();
    let Some(attributes) = attributes else {
        return marks;
    };
    let mut keys: Vec<&str> = attributes.keys().map(|key| key.as_ref()).collect();
    // Sorted so that the choice between two overlapping links is the same on every run.
    keys.sort_unstable();
    for key in keys {
        let Some(value) = attributes.get(key) else {
            continue;
        };
        if matches!(value, Any::Null | Any::Undefined) {
            continue;
        }
        match mark_name(key) {
            "bold" | "strong" => marks.bold = true,
            "italic" | "em" => marks.italic = true,
            "underline" => marks.underline = true,
            "strike" | "strikethrough" => marks.strike = true,
            "code" => marks.code = true,
            "link" if marks.link.is_none() => {
                if let Any::Map(attrs) = value
                    && let Some(Any::String(href)) = attrs.get("href")
                {
                    marks.link = Some(href.to_string());
                }
            }
            _ => {}
        }
    }
    marks
}

fn mark_name(attribute: &str) -> &str {
    if let Some((name, hash)) = attribute.rsplit_once("--")
        && hash.len() == 8
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return name;
    }
    attribute
}

/// `YYYY-MM-DD` naming a day that exists.
fn is_iso_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = value.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// The text of inline content; hard breaks become newlines.
pub fn inline_text(inlines: &[Inline]) -> String {
    let mut text = String::new();
    for inline in inlines {
        match inline {
            Inline::Text { text: run, .. } => text.push_str(run),
            Inline::Break => text.push('\n'),
        }
    }
    text
}

/// The document as plain text: one line per paragraph, heading, list item paragraph, table
/// cell paragraph and action item; code blocks verbatim; horizontal rules omitted.
pub fn plain_text(content: &Content) -> String {
    let mut lines = Vec::new();
    push_lines(&content.blocks, &mut lines);
    lines.join("\n")
}

fn push_lines(blocks: &[Block], lines: &mut Vec<String>) {
    for block in blocks {
        match block {
            Block::Heading { content, .. } | Block::Paragraph { content } => {
                lines.push(inline_text(content))
            }
            Block::BulletList { items }
            | Block::OrderedList { items, .. }
            | Block::TaskList { items } => {
                for item in items {
                    push_lines(&item.blocks, lines);
                }
            }
            Block::Blockquote { blocks } => push_lines(blocks, lines),
            Block::CodeBlock { text, .. } => lines.push(text.clone()),
            Block::Rule => {}
            Block::Table { rows } => {
                for cell in rows.iter().flat_map(|row| &row.cells) {
                    push_lines(&cell.blocks, lines);
                }
            }
            Block::Action(action) => lines.push(inline_text(&action.content)),
        }
    }
}

/// Every action item of the document in reading order, wherever it is (top level, lists,
/// quotes, tables).
pub fn action_items(content: &Content) -> Vec<ActionItem> {
    let mut actions = Vec::new();
    collect_actions(&content.blocks, &mut actions);
    actions
}

fn collect_actions(blocks: &[Block], actions: &mut Vec<ActionItem>) {
    for block in blocks {
        match block {
            Block::Action(action) => actions.push(action.clone()),
            Block::BulletList { items }
            | Block::OrderedList { items, .. }
            | Block::TaskList { items } => {
                for item in items {
                    collect_actions(&item.blocks, actions);
                }
            }
            Block::Blockquote { blocks } => collect_actions(blocks, actions),
            Block::Table { rows } => {
                for cell in rows.iter().flat_map(|row| &row.cells) {
                    collect_actions(&cell.blocks, actions);
                }
            }
            Block::Heading { .. }
            | Block::Paragraph { .. }
            | Block::CodeBlock { .. }
            | Block::Rule => {}
        }
    }
}

/// Builders for documents shaped like y-prosemirror's output, shared by this crate's tests.
#[cfg(test)]
pub(crate) mod test_docs {
    use std::collections::HashMap;
    use std::sync::Arc;

    use yrs::types::Attrs;
    use yrs::{
        Any, Doc, ReadTxn, StateVector, Text, Transact, TransactionMut, Xml, XmlElementPrelim,
    };
    use yrs::{XmlElementRef, XmlFragment, XmlTextPrelim, XmlTextRef};

    pub fn bold() -> Attrs {
        Attrs::from([(Arc::from("bold"), Any::Map(Arc::new(HashMap::new())))])
    }

    pub fn link(href: &str) -> Attrs {
        let attrs = HashMap::from([("href".to_owned(), Any::from(href))]);
        Attrs::from([(Arc::from("link"), Any::Map(Arc::new(attrs)))])
    }

    /// Appends an element with attributes to `parent`.
    pub fn element(
        txn: &mut TransactionMut,
        parent: &impl XmlFragment,
        tag: &str,
        attributes: &[(&str, Any)],
    ) -> XmlElementRef {
        let element = parent.push_back(txn, XmlElementPrelim::empty(tag));
        for (name, value) in attributes {
            element.insert_attribute(txn, *name, value.clone());
        }
        element
    }

    /// Appends a text node made of `(text, formatting)` runs to `parent`.
    pub fn text(
        txn: &mut TransactionMut,
        parent: &impl XmlFragment,
        runs: &[(&str, Attrs)],
    ) -> XmlTextRef {
        let text = parent.push_back(txn, XmlTextPrelim::new(""));
        for (run, attributes) in runs {
            let end = text.len(txn);
            text.insert_with_attributes(txn, end, run, attributes.clone());
        }
        text
    }

    /// Appends `<tag>plain text</tag>`.
    pub fn textblock(
        txn: &mut TransactionMut,
        parent: &impl XmlFragment,
        tag: &str,
        content: &str,
    ) -> XmlElementRef {
        let element = element(txn, parent, tag, &[]);
        text(txn, &element, &[(content, Attrs::new())]);
        element
    }

    pub fn state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }
}

#[cfg(test)]
mod tests {
    use yrs::types::Attrs;
    use yrs::{Any, Doc, Text, Transact, WriteTxn};

    use super::test_docs::{bold, element, link, state, text, textblock};
    use super::*;

    fn run(text: &str) -> Inline {
        Inline::Text {
            text: text.to_owned(),
            marks: Marks::default(),
        }
    }

    #[test]
    fn reads_the_tiptap_schema() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let heading = element(&mut txn, &root, "heading", &[("level", Any::from(2))]);
            text(&mut txn, &heading, &[("Ordre du jour", Attrs::new())]);
            let paragraph = element(&mut txn, &root, "paragraph", &[]);
            text(
                &mut txn,
                &paragraph,
                &[
                    ("Voir ", Attrs::new()),
                    ("le site", link("https://example.fr")),
                    (" et ", Attrs::new()),
                ],
            );
            element(&mut txn, &paragraph, "hardBreak", &[]);
            text(&mut txn, &paragraph, &[("surtout", bold())]);
            let list = element(&mut txn, &root, "orderedList", &[("start", Any::from(3))]);
            let item = element(&mut txn, &list, "listItem", &[]);
            textblock(&mut txn, &item, "paragraph", "Budget");
            let tasks = element(&mut txn, &root, "taskList", &[]);
            let task = element(
                &mut txn,
                &tasks,
                "taskItem",
                &[("checked", Any::Bool(true))],
            );
            textblock(&mut txn, &task, "paragraph", "Relire");
            let quote = element(&mut txn, &root, "blockquote", &[]);
            textblock(&mut txn, &quote, "paragraph", "Citation");
            let code = element(
                &mut txn,
                &root,
                "codeBlock",
                &[("language", Any::from("rust"))],
            );
            text(&mut txn, &code, &[("fn main() {}\n", Attrs::new())]);
            element(&mut txn, &root, "horizontalRule", &[]);
            let table = element(&mut txn, &root, "table", &[]);
            let row = element(&mut txn, &table, "tableRow", &[]);
            let header = element(&mut txn, &row, "tableHeader", &[("colspan", Any::from(2))]);
            textblock(&mut txn, &header, "paragraph", "Nom");
            let cell = element(&mut txn, &row, "tableCell", &[("rowspan", Any::from("3"))]);
            textblock(&mut txn, &cell, "paragraph", "Valeur");
        }
        let content = extract(&state(&doc)).unwrap();
        let bold_marks = Marks {
            bold: true,
            ..Marks::default()
        };
        let link_marks = Marks {
            link: Some("https://example.fr".to_owned()),
            ..Marks::default()
        };
        let paragraph = |text: &str| Block::Paragraph {
            content: vec![run(text)],
        };
        assert_eq!(
            content.blocks,
            vec![
                Block::Heading {
                    level: 2,
                    content: vec![run("Ordre du jour")]
                },
                Block::Paragraph {
                    content: vec![
                        run("Voir "),
                        Inline::Text {
                            text: "le site".to_owned(),
                            marks: link_marks
                        },
                        run(" et "),
                        Inline::Break,
                        Inline::Text {
                            text: "surtout".to_owned(),
                            marks: bold_marks
                        },
                    ]
                },
                Block::OrderedList {
                    start: 3,
                    items: vec![ListItem {
                        checked: None,
                        blocks: vec![paragraph("Budget")]
                    }]
                },
                Block::TaskList {
                    items: vec![ListItem {
                        checked: Some(true),
                        blocks: vec![paragraph("Relire")]
                    }]
                },
                Block::Blockquote {
                    blocks: vec![paragraph("Citation")]
                },
                Block::CodeBlock {
                    language: Some("rust".to_owned()),
                    text: "fn main() {}\n".to_owned()
                },
                Block::Rule,
                Block::Table {
                    rows: vec![TableRow {
                        cells: vec![
                            TableCell {
                                header: true,
                                colspan: 2,
                                rowspan: 1,
                                blocks: vec![paragraph("Nom")]
                            },
                            TableCell {
                                header: false,
                                colspan: 1,
                                rowspan: 3,
                                blocks: vec![paragraph("Valeur")]
                            },
                        ]
                    }]
                },
            ]
        );
        assert_eq!(
            plain_text(&content),
            "Ordre du jour\nVoir le site et \nsurtout\nBudget\nRelire\nCitation\nfn main() {}\n\nNom\nValeur"
        );
    }

    #[test]
    fn heading_levels_accept_strings_and_are_clamped() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            for level in [Any::from("3"), Any::from(9), Any::from(2.0), Any::from("x")] {
                let heading = element(&mut txn, &root, "heading", &[("level", level)]);
                text(&mut txn, &heading, &[("Titre", Attrs::new())]);
            }
        }
        let levels: Vec<u8> = extract(&state(&doc))
            .unwrap()
            .blocks
            .iter()
            .map(|block| match block {
                Block::Heading { level, .. } => *level,
                other => panic!("not a heading: {other:?}"),
            })
            .collect();
        assert_eq!(levels, vec![3, 6, 2, 1]);
    }

    #[test]
    fn overlapping_marks_and_removed_marks() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let paragraph = element(&mut txn, &root, "paragraph", &[]);
            let hashed = Attrs::from([(
                "link--AbC+/12=".into(),
                Any::Map(std::sync::Arc::new(
                    [("href".to_owned(), Any::from("https://a.fr"))]
                        .into_iter()
                        .collect(),
                )),
            )]);
            let text = text(&mut txn, &paragraph, &[("lien", hashed), (" gras", bold())]);
            // Removing a mark leaves a `null` formatting attribute behind in Yjs.
            text.format(&mut txn, 4, 5, Attrs::from([("bold".into(), Any::Null)]));
        }
        let content = extract(&state(&doc)).unwrap();
        let link_marks = Marks {
            link: Some("https://a.fr".to_owned()),
            ..Marks::default()
        };
        assert_eq!(
            content.blocks,
            vec![Block::Paragraph {
                content: vec![
                    Inline::Text {
                        text: "lien".to_owned(),
                        marks: link_marks
                    },
                    run(" gras")
                ]
            }]
        );
    }

    fn action(
        txn: &mut yrs::TransactionMut,
        parent: &XmlElementRef,
        [assignee, due, status]: [&str; 3],
        what: &str,
    ) {
        let attributes = [
            ("assignee", Any::from(assignee)),
            ("due", Any::from(due)),
            ("status", Any::from(status)),
        ];
        let item = element(txn, parent, "actionItem", &attributes);
        text(txn, &item, &[(what, Attrs::new())]);
    }

    #[test]
    fn action_items_are_found_everywhere() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let top = element(
                &mut txn,
                &root,
                "actionItem",
                &[("assignee", Any::from("Mairie"))],
            );
            text(&mut txn, &top, &[("Publier le compte rendu", Attrs::new())]);
            let quote = element(&mut txn, &root, "blockquote", &[]);
            action(
                &mut txn,
                &quote,
                ["Ana", "2026-02-29", "done"],
                "Impossible date",
            );
            let table = element(&mut txn, &root, "table", &[]);
            let row = element(&mut txn, &table, "tableRow", &[]);
            let cell = element(&mut txn, &row, "tableCell", &[]);
            action(&mut txn, &cell, [" Léo ", "2028-02-29", "open"], "Leap day");
            let list = element(&mut txn, &root, "bulletList", &[]);
            let item = element(&mut txn, &list, "listItem", &[]);
            action(&mut txn, &item, ["", "demain", "DONE"], "Vague");
        }
        let content = extract(&state(&doc)).unwrap();
        let actions = action_items(&content);
        let summary: Vec<(&str, Option<&str>, ActionStatus, String)> = actions
            .iter()
            .map(|a| {
                (
                    a.assignee.as_str(),
                    a.due.as_deref(),
                    a.status,
                    inline_text(&a.content),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "Mairie",
                    None,
                    ActionStatus::Open,
                    "Publier le compte rendu".to_owned()
                ),
                (
                    "Ana",
                    None,
                    ActionStatus::Done,
                    "Impossible date".to_owned()
                ),
                (
                    "Léo",
                    Some("2028-02-29"),
                    ActionStatus::Open,
                    "Leap day".to_owned()
                ),
                ("", None, ActionStatus::Done, "Vague".to_owned()),
            ]
        );
    }

    #[test]
    fn unknown_nodes_keep_their_text() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let callout = element(&mut txn, &root, "callout", &[]);
            textblock(&mut txn, &callout, "paragraph", "Dans un encadré");
            let details = element(&mut txn, &root, "details", &[]);
            text(&mut txn, &details, &[("Texte direct", Attrs::new())]);
            let paragraph = element(&mut txn, &root, "paragraph", &[]);
            text(&mut txn, &paragraph, &[("Bonjour ", Attrs::new())]);
            let mention = element(&mut txn, &paragraph, "mention", &[]);
            text(&mut txn, &mention, &[("@Ana", Attrs::new())]);
            // A list item outside any list.
            let item = element(&mut txn, &root, "listItem", &[]);
            textblock(&mut txn, &item, "paragraph", "Égaré");
        }
        let content = extract(&state(&doc)).unwrap();
        assert_eq!(
            plain_text(&content),
            "Dans un encadré\nTexte direct\nBonjour @Ana\nÉgaré"
        );
    }

    #[test]
    fn legacy_plain_text_documents() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let legacy = txn.get_or_insert_text(LEGACY_TEXT);
            legacy.insert(&mut txn, 0, "Première ligne\n\nTroisième");
            // The new editor opened it once: an empty paragraph in the fragment.
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            element(&mut txn, &root, "paragraph", &[]);
        }
        let content = extract(&state(&doc)).unwrap();
        assert_eq!(
            content.blocks,
            vec![
                Block::Paragraph {
                    content: vec![run("Première ligne")]
                },
                Block::Paragraph { content: vec![] },
                Block::Paragraph {
                    content: vec![run("Troisième")]
                },
            ]
        );
        // Once the fragment has text, it wins.
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            textblock(&mut txn, &root, "paragraph", "Nouveau");
        }
        assert_eq!(plain_text(&extract(&state(&doc)).unwrap()), "\nNouveau");
    }

    #[test]
    fn deep_nesting_is_flattened_not_overflowed() {
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let mut parent = element(&mut txn, &root, "blockquote", &[]);
            for _ in 0..5_000 {
                parent = element(&mut txn, &parent, "blockquote", &[]);
            }
            textblock(&mut txn, &parent, "paragraph", "Au fond");
        }
        let content = extract(&state(&doc)).unwrap();
        assert_eq!(plain_text(&content), "Au fond");
        let mut depth = 0;
        let mut blocks = &content.blocks;
        while let [Block::Blockquote { blocks: inner }] = blocks.as_slice() {
            depth += 1;
            blocks = inner;
        }
        assert!(depth <= MAX_DEPTH);
    }

    #[test]
    fn hostile_states_are_errors() {
        assert!(extract(&[0xff, 0xff, 0xff]).is_err());
        let hostile = [1u8, 2, 118, 51, 4, 1, 0, 1, 1, 1, 116, 6, 132, 1, 5, 0];
        let _ = extract(&hostile);
        // An empty document is fine.
        assert_eq!(extract(&state(&Doc::new())).unwrap(), Content::default());
    }

    #[test]
    fn dates() {
        assert!(is_iso_date("2026-11-30"));
        assert!(is_iso_date("2024-02-29"));
        assert!(!is_iso_date("2023-02-29"));
        assert!(!is_iso_date("2026-13-01"));
        assert!(!is_iso_date("2026-1-011"));
        assert!(!is_iso_date("2026-01-00"));
        assert!(!is_iso_date("２０２６-01-01"));
    }
}
