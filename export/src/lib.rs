//! Relais exports: a document's [`Content`] as Markdown, HTML, DOCX (Office Open XML) and ODT
//! (OpenDocument Text).
//!
//! This crate owns the file formats people take away from Relais. It is pure: it reads the
//! plain content tree of `relais_crdt::model`, never Yjs, and does no I/O, so the server decides
//! where the bytes go and which limits apply before calling it.
//!
//! Two rules hold for every format:
//! - Nothing a document's author typed can become markup or run: text is escaped for its
//!   target, and a link is kept only when its address is safe (see [`Format`] for which).
//! - The same input gives the same bytes: the server records the SHA-256 of the exports of
//!   validated versions, so a file handed out can be checked later against that record. The
//!   archives therefore carry fixed timestamps and a fixed entry order, and nothing reads the
//!   clock.

mod common;
mod docx;
mod html;
mod markdown;
mod odt;
#[cfg(test)]
pub(crate) mod sample;
mod xml;
mod zip_file;

pub use docx::docx;
pub use html::{html, html_body};
pub use markdown::markdown;
pub use odt::odt;
pub use relais_crdt::model::Content;

/// `text` escaped for HTML or XML element content and quoted attributes, for pages built
/// around [`html_body`].
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    xml::push_text(&mut out, text);
    out
}

/// What is printed about a document beside its content: at the top of every export and in the
/// file's own properties (DOCX core properties, ODT `meta.xml`, Markdown front matter, HTML
/// header).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The document's title; an empty title is shown as « Document sans titre ».
    pub title: String,
    /// Which version this is, ready to print, e.g. `Version 12 — « Avant comité de pilotage »`.
    pub version_label: String,
    /// When the version was made, already formatted in French by the caller.
    pub created_at: String,
    /// Display names of the people who wrote this version, in the order to print them.
    pub authors: Vec<String>,
    /// Present when the version was validated (sealed).
    pub seal: Option<Seal>,
}

/// The validation of a version: who validated it, when, why, and the fingerprint of the
/// validated content the server keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seal {
    /// Hexadecimal SHA-256 of the validated version, as the server recorded it.
    pub sha256: String,
    /// Display name of the person who validated the version.
    pub validator: String,
    /// When the version was validated, already formatted in French by the caller.
    pub validated_at: String,
    /// The validator's comment; may be empty.
    pub comment: String,
}

/// An export format.
///
/// Links: Markdown and HTML keep `http`, `https`, `mailto` and relative addresses (the public
/// page resolves relative ones against the server). DOCX and ODT keep only absolute `http`,
/// `https` and `mailto` addresses, since a relative address in an office file points into the
/// reader's own disk. Any other link is written as its text alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// CommonMark with GitHub's tables and task lists, after a YAML front matter.
    Markdown,
    /// A standalone HTML5 page in French.
    Html,
    /// Office Open XML WordprocessingML (Microsoft Word).
    Docx,
    /// OpenDocument Text (LibreOffice Writer).
    Odt,
}

impl Format {
    /// Every format, in the order a menu would offer them.
    pub const ALL: [Format; 4] = [Format::Odt, Format::Docx, Format::Html, Format::Markdown];

    /// The format for a file extension (`md`, `markdown`, `html`, `htm`, `docx`, `odt`), in any
    /// case, with or without its leading dot.
    pub fn from_extension(extension: &str) -> Option<Format> {
        let extension = extension.strip_prefix('.').unwrap_or(extension);
        match extension.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "docx" => Some(Format::Docx),
            "odt" => Some(Format::Odt),
            _ => None,
        }
    }

    /// The usual file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Docx => "docx",
            Format::Odt => "odt",
        }
    }

    /// The media type to send in `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Odt => "application/vnd.oasis.opendocument.text",
        }
    }

    /// Renders `content` in this format.
    pub fn render(self, content: &Content, meta: &Metadata) -> Vec<u8> {
        match self {
            Format::Markdown => markdown(content, meta).into_bytes(),
            Format::Html => html(content, meta).into_bytes(),
            Format::Docx => docx(content, meta),
            Format::Odt => odt(content, meta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_through_their_extension() {
        for format in Format::ALL {
            assert_eq!(Format::from_extension(format.extension()), Some(format));
        }
        assert_eq!(Format::from_extension(".ODT"), Some(Format::Odt));
        assert_eq!(Format::from_extension("markdown"), Some(Format::Markdown));
        assert_eq!(Format::from_extension("htm"), Some(Format::Html));
        assert_eq!(Format::from_extension("pdf"), None);
        assert_eq!(Format::from_extension(""), None);
    }

    #[test]
    fn media_types_are_the_registered_ones() {
        assert_eq!(
            Format::Odt.media_type(),
            "application/vnd.oasis.opendocument.text"
        );
        assert!(
            Format::Docx
                .media_type()
                .ends_with("wordprocessingml.document")
        );
        assert!(Format::Html.media_type().starts_with("text/html"));
        assert!(Format::Markdown.media_type().starts_with("text/markdown"));
    }
}
