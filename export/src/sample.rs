//! Content and metadata the tests of every format build: short constructors for the content
//! tree, and the samples several formats are checked against.

use relais_crdt::model::{Block, Content, Inline, ListItem, Marks, TableCell};

use crate::{Metadata, Seal};

/// Plain text.
pub(crate) fn text(text: &str) -> Inline {
    marked(text, Marks::default())
}

/// Text with `marks`.
pub(crate) fn marked(text: &str, marks: Marks) -> Inline {
    Inline::Text {
        text: text.into(),
        marks,
    }
}

/// Text linking to `href`.
pub(crate) fn linked(text: &str, href: &str) -> Inline {
    marked(
        text,
        Marks {
            link: Some(href.into()),
            ..Marks::default()
        },
    )
}

pub(crate) fn paragraph(content: Vec<Inline>) -> Block {
    Block::Paragraph { content }
}

/// A list item without a checkbox.
pub(crate) fn item(blocks: Vec<Block>) -> ListItem {
    ListItem {
        checked: None,
        blocks,
    }
}

/// A table cell holding one paragraph of plain `content`.
pub(crate) fn cell(header: bool, colspan: u32, rowspan: u32, content: &str) -> TableCell {
    TableCell {
        header,
        colspan,
        rowspan,
        blocks: vec![paragraph(vec![text(content)])],
    }
}

/// Metadata with a title and nothing else.
pub(crate) fn titled() -> Metadata {
    Metadata {
        title: "Titre".into(),
        ..Metadata::default()
    }
}

/// A paragraph and metadata full of markup, which every format must print as text.
pub(crate) fn hostile() -> (Content, Metadata) {
    let content = Content {
        blocks: vec![paragraph(vec![text(
            "<script>alert(1)</script> & **x** | \u{0}",
        )])],
    };
    let meta = Metadata {
        title: "<Titre & co>".into(),
        version_label: "v<1>".into(),
        created_at: "\"aujourd'hui\"".into(),
        authors: vec!["A & B".into()],
        seal: Some(Seal {
            sha256: "<h>".into(),
            validator: "<v>".into(),
            validated_at: "<d>".into(),
            comment: "<c>".into(),
        }),
    };
    (content, meta)
}

/// Asserts that `render` gives the same bytes for the same blocks (a heading and a linked
/// paragraph), and other bytes for other blocks.
pub(crate) fn assert_deterministic(render: impl Fn(Vec<Block>) -> Vec<u8>) {
    let blocks = || {
        vec![
            Block::Heading {
                level: 1,
                content: vec![text("Titre")],
            },
            paragraph(vec![linked("lien", "https://example.org")]),
        ]
    };
    assert_eq!(render(blocks()), render(blocks()));
    assert_ne!(render(blocks()), render(vec![]));
}
