//! A document's content as a plain tree, independent of Yjs: what exports, comparisons, the
//! public page and the action-item list read.
//!
//! It mirrors the ProseMirror schema the web client writes into the `Y.XmlFragment` named
//! `default` (TipTap's node and mark names). Anything else found there is kept as its text, so
//! no content is silently dropped from an export or a comparison.

use serde::Serialize;

/// A whole document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Content {
    pub blocks: Vec<Block>,
}

/// A block-level node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Block {
    /// `heading` with its `level` attribute (1–6; out-of-range values are clamped).
    Heading { level: u8, content: Vec<Inline> },
    /// `paragraph`, and any unknown node holding inline content.
    Paragraph { content: Vec<Inline> },
    /// `bulletList` of `listItem`s.
    BulletList { items: Vec<ListItem> },
    /// `orderedList` of `listItem`s, numbered from `start` (default 1).
    OrderedList { start: u32, items: Vec<ListItem> },
    /// `taskList` of `taskItem`s (each with `checked`).
    TaskList { items: Vec<ListItem> },
    /// `blockquote`.
    Blockquote { blocks: Vec<Block> },
    /// `codeBlock`, its text verbatim.
    CodeBlock { language: Option<String>, text: String },
    /// `horizontalRule`.
    Rule,
    /// `table` of `tableRow`s of `tableHeader`/`tableCell`s.
    Table { rows: Vec<TableRow> },
    /// `actionItem`: an action decided in a meeting (see [`ActionItem`]).
    Action(ActionItem),
}

/// One item of a list; `checked` is set for task items only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListItem {
    pub checked: Option<bool>,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableRow {
    pub cells: Vec<TableCell>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableCell {
    /// A `tableHeader` rather than a `tableCell`.
    pub header: bool,
    pub colspan: u32,
    pub rowspan: u32,
    pub blocks: Vec<Block>,
}

/// An action item of meeting minutes: the node `actionItem` with attributes `assignee`
/// (free text: a name or an organisation), `due` (ISO date `YYYY-MM-DD`, or empty) and
/// `status` (`open` or `done`), and inline content saying what is to be done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionItem {
    pub assignee: String,
    /// `YYYY-MM-DD` when the attribute held a valid date; otherwise `None`.
    pub due: Option<String>,
    pub status: ActionStatus,
    pub content: Vec<Inline>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionStatus {
    Open,
    Done,
}

/// Inline content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Inline {
    Text { text: String, marks: Marks },
    /// `hardBreak`.
    Break,
}

/// Formatting of a run of text (TipTap mark names).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Marks {
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    pub code: bool,
    /// The `href` of a `link` mark.
    pub link: Option<String>,
}
