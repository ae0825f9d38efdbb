//! Escaping for XML and HTML, and a small XML writer for the DOCX and ODT parts.
//!
//! Both formats reject a part that is not well-formed XML 1.0, and a document may hold any
//! Unicode text, including control characters XML cannot carry: those are dropped here rather
//! than producing a file that Word or LibreOffice refuses to open.

/// Whether XML 1.0 can carry `c` at all, even as a character reference.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `text` escaped for element content (XML or HTML).
///
/// Quotes are escaped too, so the result is also safe inside a quoted attribute whose value
/// holds no line break (see [`push_attribute`] for those).
pub(crate) fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // A parser turns a raw carriage return into a line feed; keep the character itself.
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Appends `value` escaped for a double-quoted attribute: parsers turn raw tabs and line breaks
/// in attribute values into spaces, so they are written as character references.
pub(crate) fn push_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => push_text_char(out, c),
        }
    }
}

fn push_text_char(out: &mut String, c: char) {
    let mut buffer = [0u8; 4];
    push_text(out, c.encode_utf8(&mut buffer));
}

/// `text` escaped for element content.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_text(&mut out, text);
    out
}

/// An XML document being written. Element and attribute names are the callers' constants;
/// every value and text goes through escaping.
pub(crate) struct Xml {
    out: String,
}

impl Default for Xml {
    fn default() -> Xml {
        Xml::fragment()
    }
}

impl Xml {
    /// A document starting with the XML declaration.
    pub(crate) fn new() -> Xml {
        Xml {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"),
        }
    }

    /// A fragment without declaration, to be inserted into another document with [`Xml::raw`].
    pub(crate) fn fragment() -> Xml {
        Xml { out: String::new() }
    }

    pub(crate) fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push('>');
    }

    pub(crate) fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push_str("/>");
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// An element holding only text.
    pub(crate) fn element(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.open(name, attributes);
        self.text(text);
        self.close(name);
    }

    pub(crate) fn text(&mut self, text: &str) {
        push_text(&mut self.out, text);
    }

    /// Markup written verbatim: only for the callers' constant fragments and for output of
    /// another [`Xml`].
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn start_tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (attribute, value) in attributes {
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            push_attribute(&mut self.out, value);
            self.out.push('"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        assert_eq!(escape("a\u{0}b\u{1b}c\u{FFFE}d\te\nf"), "abcd\te\nf");
    }

    #[test]
    fn attributes_keep_their_line_breaks() {
        let mut xml = Xml::new();
        xml.empty("a", &[("title", "x\ny\t\"z\"")]);
        assert!(
            xml.finish()
                .ends_with("<a title=\"x&#10;y&#9;&quot;z&quot;\"/>")
        );
    }
}
