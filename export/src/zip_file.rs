//! Deterministic ZIP archives for DOCX and ODT.
//!
//! Every entry gets the same timestamp (1980-01-01 00:00, the earliest ZIP can say), the same
//! permissions and "made by" system, and a fixed compression level, and entries are written in
//! the order given: the same parts always make the same bytes, whatever the clock, the host or
//! the `zip` features another crate of the workspace turns on (its `time` feature would
//! otherwise stamp entries with the current time).

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// One file of an archive.
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a str,
    pub(crate) data: &'a [u8],
    /// Stored without compression; ODF requires it of its `mimetype` entry.
    pub(crate) stored: bool,
}

/// The archive holding `entries`, in that order.
pub(crate) fn write(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut archive = ZipWriter::new(Cursor::new(Vec::new()));
    for entry in entries {
        let options = SimpleFileOptions::DEFAULT
            .compression_method(if entry.stored {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            })
            .compression_level(if entry.stored { None } else { Some(6) })
            .last_modified_time(DateTime::DEFAULT)
            .unix_permissions(0o644)
            .system(System::Unix)
            // ZIP64 only when an entry needs it, so that ordinary archives carry no extra
            // field (ODF forbids one on `mimetype`).
            .large_file(entry.data.len() as u64 >= u64::from(u32::MAX));
        // Writing to memory has no I/O error, entry names are distinct constants and the
        // options are valid, so nothing here can fail.
        archive
            .start_file(entry.name, options)
            .expect("an in-memory zip entry can always be started");
        archive
            .write_all(entry.data)
            .expect("writing a zip entry to memory cannot fail");
    }
    archive
        .finish()
        .expect("finishing an in-memory zip cannot fail")
        .into_inner()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn entries_come_back_in_order_with_a_fixed_date() {
        let bytes = write(&[
            Entry {
                name: "mimetype",
                data: b"text/plain",
                stored: true,
            },
            Entry {
                name: "a/b.xml",
                data: b"<a/>",
                stored: false,
            },
        ]);
        assert_eq!(
            bytes,
            write(&[
                Entry {
                    name: "mimetype",
                    data: b"text/plain",
                    stored: true
                },
                Entry {
                    name: "a/b.xml",
                    data: b"<a/>",
                    stored: false
                },
            ])
        );
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut first = archive.by_index(0).unwrap();
        assert_eq!(first.name().unwrap(), "mimetype");
        assert_eq!(first.compression(), CompressionMethod::Stored);
        assert_eq!(first.last_modified(), Some(DateTime::DEFAULT));
        let mut text = String::new();
        first.read_to_string(&mut text).unwrap();
        assert_eq!(text, "text/plain");
        drop(first);
        let second = archive.by_index(1).unwrap();
        assert_eq!(second.name().unwrap(), "a/b.xml");
        assert_eq!(second.compression(), CompressionMethod::Deflated);
    }
}

/// Helpers for the tests of the archive formats.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{Cursor, Read};

    /// The names of an archive's entries, in order.
    pub(crate) fn names(bytes: &[u8]) -> Vec<String> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|index| {
                archive
                    .by_index(index)
                    .unwrap()
                    .name()
                    .unwrap()
                    .into_owned()
            })
            .collect()
    }

    /// One entry's text.
    pub(crate) fn entry(bytes: &[u8], name: &str) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut file = archive.by_name(name).unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        text
    }

    /// Checks that every start tag of `xml` is closed in order: a cheap well-formedness check
    /// (the read-back tests parse the files for real).
    pub(crate) fn assert_balanced(xml: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find('<') {
            let end = start + rest[start..].find('>').expect("a tag ends");
            let tag = &rest[start + 1..end];
            if tag.starts_with('?') || tag.starts_with('!') {
            } else if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "closing {name} in {xml}");
            } else if !tag.ends_with('/') {
                open.push(tag.split([' ', '\n']).next().unwrap());
            }
            assert!(!rest[start + 1..end].contains('<'), "a stray < in {xml}");
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        assert!(!rest.contains('>'), "a stray > in {xml}");
    }
}
