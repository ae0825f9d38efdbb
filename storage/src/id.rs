//! Validated names and log positions.

use std::fmt;
use std::str::FromStr;

/// Longest accepted document name, in bytes.
pub const MAX_DOCUMENT_ID_BYTES: usize = 200;

/// A validated document name.
///
/// 1..=200 bytes of UTF-8 without control characters, so that French names such as
/// `compte-rendu-réunion` work as they are; `/` separates segments as in y-websocket room
/// names, but no segment may be empty, `.` or `..`, and the name may not start with `.`.
/// Names are never used raw in a file path, object key or bus subject: those encode them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId(String);

impl DocumentId {
    /// Checks `s` against the naming rules.
    pub fn parse(s: &str) -> Result<Self, InvalidDocumentId> {
        let refuse = |reason| Err(InvalidDocumentId { reason });
        if s.is_empty() {
            return refuse("it is empty");
        }
        if s.len() > MAX_DOCUMENT_ID_BYTES {
            return refuse("it is longer than 200 bytes");
        }
        if s.starts_with('.') {
            return refuse("it starts with '.'");
        }
        if s.chars().any(char::is_control) {
            return refuse("it contains a control character");
        }
        if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
            return refuse("it starts or ends with a space");
        }
        if s.split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return refuse("it has an empty, '.' or '..' segment");
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DocumentId {
    type Err = InvalidDocumentId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for DocumentId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A string that is not a valid [`DocumentId`].
///
/// The message never repeats the rejected input, so it is safe to show to a client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "document name must be 1 to 200 bytes of printable characters, with no empty, '.' or '..' segment between '/', and not start with '.' ({reason})"
)]
pub struct InvalidDocumentId {
    reason: &'static str,
}

impl InvalidDocumentId {
    /// Which rule the input broke, in a few words.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Position in a document's update log.
///
/// Assigned by the store (never by a process), consecutive per document, starting at 1.
/// `Seq(0)` means "nothing yet".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seq(pub u64);

impl Seq {
    /// The position right after this one.
    #[must_use]
    pub fn next(self) -> Seq {
        // The database keeps seqs in a signed 64-bit column, so u64::MAX is never reached.
        Seq(self
            .0
            .checked_add(1)
            .expect("seqs are stored as i64 and never reach u64::MAX"))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_allowed_character() {
        for name in [
            "a",
            "A",
            "0",
            "report-2026_v2.final~draft:fr",
            "compte-rendu-réunion",
            "PLUi 2027/compte rendu",
            "a?b",
            "😀",
            "a.",
            "a..b",
            "-",
            "_",
            "~",
            ":",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        ] {
            let id = DocumentId::parse(name).unwrap_or_else(|e| panic!("{name:?} refused: {e}"));
            assert_eq!(id.as_str(), name);
            assert_eq!(id.to_string(), name);
        }
    }

    #[test]
    fn accepts_exactly_the_maximum_length() {
        let name = "a".repeat(MAX_DOCUMENT_ID_BYTES);
        assert!(DocumentId::parse(&name).is_ok());
        let too_long = "a".repeat(MAX_DOCUMENT_ID_BYTES + 1);
        assert_eq!(
            DocumentId::parse(&too_long).unwrap_err().reason(),
            "it is longer than 200 bytes"
        );
    }

    #[test]
    fn refuses_names_outside_the_rules() {
        for name in [
            "", ".", "..", ".hidden", "/a", "a/", "a//b", "a/./b", "a/../b", " a", "a ", "a\n",
            "a\0b", "a\u{7f}",
        ] {
            assert!(DocumentId::parse(name).is_err(), "{name:?} accepted");
        }
    }

    #[test]
    fn error_message_states_the_rule_without_echoing_input() {
        let error = DocumentId::parse("<script>\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("document name must be 1 to 200 bytes of printable characters")
        );
        assert!(!message.contains("<script>"));
    }

    #[test]
    fn from_str_matches_parse() {
        let id: DocumentId = "notes".parse().unwrap();
        assert_eq!(id, DocumentId::parse("notes").unwrap());
        assert!("".parse::<DocumentId>().is_err());
    }

    #[test]
    fn ordering_follows_the_name() {
        let a = DocumentId::parse("a").unwrap();
        let b = DocumentId::parse("b").unwrap();
        assert!(a < b);
    }

    #[test]
    fn seq_next_and_default() {
        assert_eq!(Seq::default(), Seq(0));
        assert_eq!(Seq(0).next(), Seq(1));
        assert_eq!(Seq(41).next().to_string(), "42");
    }
}
