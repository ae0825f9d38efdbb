//! Restoring an earlier version as a new edit.
//!
//! A restore must not rewind history: clients hold the live document and merge whatever the
//! server sends, so the old content comes back as an ordinary update on top of the live
//! state, written by a client id of the server's choosing. To keep concurrent edits and undo
//! stacks of connected clients as intact as possible, only the top-level blocks that differ
//! are deleted and re-inserted; identical blocks are left alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use similar::{Algorithm, DiffOp, DiffTag, TextDiff, capture_diff_slices};
use yrs::types::text::YChange;
use yrs::types::xml::XmlIn;
use yrs::types::{Attrs, Delta};
use yrs::{
    Any, ClientID, In, Options, Out, ReadTxn, Text, TextRef, Transact, TransactionMut, WriteTxn,
    Xml, XmlElementPrelim, XmlFragment, XmlFragmentPrelim, XmlOut, XmlTextPrelim,
};

use crate::CrdtError;
use crate::content::{FRAGMENT, LEGACY_TEXT, load_doc};

/// Nesting depth up to which a version can be copied. Far beyond what an editor produces;
/// the bound keeps the recursive copy from overflowing the stack on a hostile document.
const MAX_COPY_DEPTH: usize = 256;

/// The update that turns the live document's content into the target version's, made by
/// `client_id`, or `None` when the contents are already equal.
///
/// Both states are v1 updates as stored. The result changes the `Y.XmlFragment` named
/// `default` (and the legacy root `Y.Text` named `text`, when either side has it) and nothing
/// else; it is an ordinary update, to be applied to the live room like any client's edit.
///
/// `client_id` must fit in 53 bits and must not be used concurrently by anyone else: Yjs
/// requires each writer's clock to be its own. A fresh random id per restore is the simplest.
pub fn restore_update(
    live_state: &[u8],
    target_state: &[u8],
    client_id: u64,
) -> Result<Option<Vec<u8>>, CrdtError> {
    if client_id >= 1 << 53 {
        return Err(CrdtError::Malformed {
            what: "client id",
            reason: "more than 53 bits".to_owned(),
        });
    }
    let target = load_doc(target_state, Options::default())?;
    let live = load_doc(
        live_state,
        Options {
            client_id: ClientID::new(client_id),
            ..Options::default()
        },
    )?;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let wanted = Version::read(&target.transact())?;
        let mut txn = live.transact_mut();
        restore_fragment(&mut txn, &wanted.fragment);
        if wanted.legacy.is_some() || txn.get_text(LEGACY_TEXT).is_some() {
            let text = txn.get_or_insert_text(LEGACY_TEXT);
            restore_text(
                &mut txn,
                &text,
                wanted.legacy.as_deref().unwrap_or_default(),
            );
        }
        let changed = !txn.insert_set().is_empty() || !txn.delete_set().is_empty();
        Ok(changed.then(|| txn.encode_update_v1()))
    }));
    outcome.unwrap_or(Err(CrdtError::Panicked))
}

/// An owned copy of the parts of a document a restore brings back.
struct Version {
    fragment: Vec<Node>,
    legacy: Option<Vec<Chunk>>,
}

impl Version {
    fn read<T: ReadTxn>(txn: &T) -> Result<Self, CrdtError> {
        let fragment = match txn.get_xml_fragment(FRAGMENT) {
            Some(fragment) => fragment
                .children(txn)
                .map(|child| Node::read(txn, child, 0))
                .collect::<Result<_, _>>(),
            None => Ok(Vec::new()),
        };
        let fragment = fragment.map_err(|TooDeep| CrdtError::Malformed {
            what: "document state",
            reason: format!("nested more than {MAX_COPY_DEPTH} levels deep"),
        })?;
        let legacy = txn.get_text(LEGACY_TEXT).map(|text| chunks_of(txn, &text));
        Ok(Self { fragment, legacy })
    }
}

/// A node of the XML tree, detached from any document.
#[derive(Debug, PartialEq)]
enum Node {
    Element {
        tag: String,
        attributes: BTreeMap<String, Any>,
        children: Vec<Node>,
    },
    Text {
        attributes: BTreeMap<String, Any>,
        chunks: Vec<Chunk>,
    },
    Fragment {
        children: Vec<Node>,
    },
}

/// A run of text (or an embedded value) with its formatting attributes.
#[derive(Debug, PartialEq)]
struct Chunk {
    insert: Any,
    attributes: BTreeMap<String, Any>,
}

struct TooDeep;

/// The children of an element or a fragment, behind one object-safe signature.
trait XmlFragmentChildren<T> {
    fn children_of(&self, txn: &T) -> Vec<XmlOut>;
}

impl<T: ReadTxn, F: XmlFragment> XmlFragmentChildren<T> for F {
    fn children_of(&self, txn: &T) -> Vec<XmlOut> {
        self.children(txn).collect()
    }
}

impl Node {
    fn read<T: ReadTxn>(txn: &T, node: XmlOut, depth: usize) -> Result<Self, TooDeep> {
        if depth >= MAX_COPY_DEPTH {
            return Err(TooDeep);
        }
        let children = |parent: &dyn XmlFragmentChildren<T>| -> Result<Vec<Node>, TooDeep> {
            parent
                .children_of(txn)
                .into_iter()
                .map(|child| Node::read(txn, child, depth + 1))
                .collect()
        };
        Ok(match node {
            XmlOut::Element(element) => Node::Element {
                tag: element
                    .try_tag()
                    .map(|tag| tag.to_string())
                    .unwrap_or_default(),
                attributes: attributes(element.attributes(txn)),
                children: children(&element)?,
            },
            XmlOut::Text(text) => Node::Text {
                attributes: attributes(text.attributes(txn)),
                chunks: chunks_of(txn, &text),
            },
            XmlOut::Fragment(fragment) => Node::Fragment {
                children: children(&fragment)?,
            },
        })
    }

    /// A serialisation that is equal for two nodes exactly when they are equal, whatever the
    /// order in which attributes were stored: the key on which top-level blocks are matched.
    fn key(&self) -> String {
        let mut key = String::new();
        self.write_key(&mut key);
        key
    }

    fn write_key(&self, out: &mut String) {
        match self {
            Node::Element {
                tag,
                attributes,
                children,
            } => {
                let _ = write!(out, "<{tag:?}");
                write_attributes(attributes, out);
                out.push('>');
                for child in children {
                    child.write_key(out);
                }
                out.push_str("</>");
            }
            Node::Text { attributes, chunks } => {
                out.push_str("<#text");
                write_attributes(attributes, out);
                out.push('>');
                for chunk in chunks {
                    out.push('[');
                    write_attributes(&chunk.attributes, out);
                    out.push(']');
                    write_any(&chunk.insert, out);
                }
                out.push_str("</>");
            }
            Node::Fragment { children } => {
                out.push_str("<#fragment>");
                for child in children {
                    child.write_key(out);
                }
                out.push_str("</>");
            }
        }
    }

    /// Inserts a copy of this node into `parent` at `index`. Attributes are set one by one
    /// rather than through `XmlElementPrelim`, which only holds strings: y-prosemirror stores
    /// numbers and booleans (`level: 2`, `checked: true`) and reads them back as such.
    fn write(&self, txn: &mut TransactionMut, parent: &impl XmlFragment, index: u32) {
        match self {
            Node::Element {
                tag,
                attributes,
                children,
            } => {
                let element = parent.insert(txn, index, XmlElementPrelim::empty(tag.as_str()));
                for (name, value) in attributes {
                    element.insert_attribute(txn, name.as_str(), value.clone());
                }
                write_children(txn, &element, children);
            }
            Node::Text { attributes, chunks } => {
                let text = parent.insert(txn, index, XmlTextPrelim::new(""));
                for (name, value) in attributes {
                    text.insert_attribute(txn, name.as_str(), value.clone());
                }
                text.apply_delta(txn, chunks.iter().map(Chunk::delta));
            }
            Node::Fragment { children } => {
                let empty = XmlFragmentPrelim::new::<_, XmlIn>(Vec::new());
                if let XmlOut::Fragment(fragment) =
                    parent.insert(txn, index, XmlIn::Fragment(empty))
                {
                    write_children(txn, &fragment, children);
                }
            }
        }
    }
}

fn write_children(txn: &mut TransactionMut, parent: &impl XmlFragment, children: &[Node]) {
    for (index, child) in children.iter().enumerate() {
        child.write(txn, parent, index_u32(index));
    }
}

impl Chunk {
    fn delta(&self) -> Delta<In> {
        let attributes: Attrs = self
            .attributes
            .iter()
            .map(|(name, value)| (Arc::from(name.as_str()), value.clone()))
            .collect();
        Delta::Inserted(
            In::Any(self.insert.clone()),
            (!attributes.is_empty()).then(|| Box::new(attributes)),
        )
    }

    fn is_plain(&self) -> bool {
        self.attributes.is_empty() && matches!(self.insert, Any::String(_))
    }
}

/// Attributes with plain values. Shared types as attribute values are not something
/// y-prosemirror writes; they are left out rather than copied.
fn attributes<'a>(entries: impl Iterator<Item = (&'a str, Out)>) -> BTreeMap<String, Any> {
    entries
        .filter_map(|(name, value)| match value {
            Out::Any(any) => Some((name.to_owned(), any)),
            _ => None,
        })
        .collect()
}

/// The formatted chunks of a text, adjacent chunks with the same formatting joined so that
/// equal texts give equal chunks however their items were split. Shared types embedded in
/// text are not something y-prosemirror writes; they are left out.
fn chunks_of<T: ReadTxn>(txn: &T, text: &impl Text) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    for diff in text.diff(txn, YChange::identity) {
        let Out::Any(insert) = diff.insert else {
            continue;
        };
        let attributes: BTreeMap<String, Any> = diff
            .attributes
            .map(|attributes| {
                attributes
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if let (Some(last), Any::String(next)) = (chunks.last_mut(), &insert)
            && let Any::String(previous) = &last.insert
            && last.attributes == attributes
        {
            last.insert = Any::from(format!("{previous}{next}"));
            continue;
        }
        chunks.push(Chunk { insert, attributes });
    }
    chunks
}

fn write_attributes(attributes: &BTreeMap<String, Any>, out: &mut String) {
    for (name, value) in attributes {
        let _ = write!(out, " {name:?}=");
        write_any(value, out);
    }
}

/// A canonical form of a value: map keys sorted, integral floats written as integers (Yjs
/// encodes a JavaScript number as an integer or a float depending on its value, not its
/// type).
fn write_any(value: &Any, out: &mut String) {
    let _ = match value {
        Any::Null => write!(out, "null"),
        Any::Undefined => write!(out, "undefined"),
        Any::Bool(value) => write!(out, "{value}"),
        Any::Number(number) => match number.as_i64() {
            Some(int) => write!(out, "{int}"),
            None => write!(out, "{number}"),
        },
        Any::String(string) => write!(out, "{string:?}"),
        Any::Buffer(bytes) => write!(out, "b{bytes:?}"),
        Any::Array(items) => {
            out.push('[');
            for item in items.iter() {
                write_any(item, out);
                out.push(',');
            }
            write!(out, "]")
        }
        Any::Map(map) => {
            out.push('{');
            let sorted: BTreeMap<&String, &Any> = map.iter().collect();
            for (key, item) in sorted {
                let _ = write!(out, "{key:?}:");
                write_any(item, out);
                out.push(',');
            }
            write!(out, "}}")
        }
    };
}

fn index_u32(index: usize) -> u32 {
    // Indices come from lengths yrs reported as u32.
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Makes the live fragment's children equal to `wanted`, deleting and inserting only the
/// top-level blocks that differ.
fn restore_fragment(txn: &mut TransactionMut, wanted: &[Node]) {
    let fragment = txn.get_or_insert_xml_fragment(FRAGMENT);
    let live: Vec<XmlOut> = fragment.children(txn).collect();
    // The children iterator stops at the first value that is not an XML node, which no editor
    // writes; if that happened, positions would not match indices, so everything is replaced.
    let ops = if index_u32(live.len()) == fragment.len(txn) {
        // A block too deep to read gets a key nothing else has: it is replaced.
        let live_keys: Vec<String> = live
            .into_iter()
            .enumerate()
            .map(|(index, child)| match Node::read(txn, child, 0) {
                Ok(node) => node.key(),
                Err(TooDeep) => format!("\u{0}unreadable {index}"),
            })
            .collect();
        let wanted_keys: Vec<String> = wanted.iter().map(Node::key).collect();
        capture_diff_slices(Algorithm::Myers, &live_keys, &wanted_keys)
    } else {
        let old_len = fragment.len(txn) as usize;
        vec![DiffOp::Replace {
            old_index: 0,
            old_len,
            new_index: 0,
            new_len: wanted.len(),
        }]
    };
    // Ops are in order, and once an op is applied the fragment's prefix equals the wanted
    // prefix: the position of every op is its index in the wanted sequence.
    for op in ops {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        let position = index_u32(new_range.start);
        if !old_range.is_empty() {
            fragment.remove_range(txn, position, index_u32(old_range.len()));
        }
        for (offset, node) in wanted[new_range].iter().enumerate() {
            node.write(txn, &fragment, position + index_u32(offset));
        }
    }
}

/// Makes the legacy plain text equal to `wanted`. That text was written by a plain-text
/// client, without formatting: it is diffed by lines and only the lines that differ are
/// replaced. Should either side carry formatting or embeds, the whole text is rewritten.
fn restore_text(txn: &mut TransactionMut, text: &TextRef, wanted: &[Chunk]) {
    let live = chunks_of(txn, text);
    if live == wanted {
        return;
    }
    if !(live.iter().all(Chunk::is_plain) && wanted.iter().all(Chunk::is_plain)) {
        let len = text.len(txn);
        text.remove_range(txn, 0, len);
        text.apply_delta(txn, wanted.iter().map(Chunk::delta));
        return;
    }
    let as_string = |chunks: &[Chunk]| -> String {
        chunks
            .iter()
            .filter_map(|chunk| {
                if let Any::String(s) = &chunk.insert {
                    Some(s.as_ref())
                } else {
                    None
                }
            })
            .collect()
    };
    let (old, new) = (as_string(&live), as_string(wanted));
    let diff = TextDiff::from_lines(old.as_str(), new.as_str());
    // Byte offsets of each line start (the document counts offsets in bytes, its default).
    let starts = |lines: Vec<&str>| -> Vec<usize> {
        let mut starts = Vec::with_capacity(lines.len() + 1);
        let mut offset = 0;
        starts.push(0);
        for line in lines {
            offset += line.len();
            starts.push(offset);
        }
        starts
    };
    let old_starts = starts(diff.iter_old_slices().collect());
    let new_starts = starts(diff.iter_new_slices().collect());
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        let position = new_starts[new_range.start];
        let removed = old_starts[old_range.end] - old_starts[old_range.start];
        if removed > 0 {
            text.remove_range(txn, index_u32(position), index_u32(removed));
        }
        let inserted = &new[position..new_starts[new_range.end]];
        text.insert(txn, index_u32(position), inserted);
    }
}

#[cfg(test)]
mod tests {
    use yrs::types::Attrs;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, Update};

    use super::*;
    use crate::content::extract;
    use crate::content::test_docs::{bold, element, link, state, text, textblock};

    fn apply(doc: &Doc, update: &[u8]) {
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
    }

    fn copy(doc: &Doc, client_id: u64) -> Doc {
        let copy = Doc::with_client_id(client_id);
        apply(&copy, &state(doc));
        copy
    }

    /// The canonical form of a whole document, for comparisons independent of attribute order.
    fn canonical(doc: &Doc) -> String {
        let version = Version::read(&doc.transact()).unwrap();
        let mut out: String = version.fragment.iter().map(Node::key).collect();
        if let Some(legacy) = version.legacy {
            out.push_str(
                &Node::Text {
                    attributes: BTreeMap::new(),
                    chunks: legacy,
                }
                .key(),
            );
        }
        out
    }

    /// `get_string` of each top-level block. yrs writes attributes in hash map order, which
    /// differs between documents, so blocks with several attributes are left out.
    fn block_xml(doc: &Doc) -> Vec<String> {
        let txn = doc.transact();
        let Some(fragment) = txn.get_xml_fragment(FRAGMENT) else {
            return Vec::new();
        };
        fragment
            .children(&txn)
            .filter_map(|child| match child {
                XmlOut::Element(element) if element.attributes(&txn).count() > 1 => None,
                XmlOut::Element(element) => Some(element.get_string(&txn)),
                XmlOut::Text(text) => Some(text.get_string(&txn)),
                XmlOut::Fragment(fragment) => Some(fragment.get_string(&txn)),
            })
            .collect()
    }

    /// A minutes document: title, a paragraph with marks, a list, an action item.
    fn minutes() -> Doc {
        let doc = Doc::with_client_id(1);
        {
            let mut txn = doc.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let heading = element(&mut txn, &root, "heading", &[("level", Any::from(1))]);
            text(&mut txn, &heading, &[("Conseil du 3 mars", Attrs::new())]);
            let paragraph = element(&mut txn, &root, "paragraph", &[]);
            text(
                &mut txn,
                &paragraph,
                &[
                    ("Ordre du jour ", Attrs::new()),
                    ("validé", bold()),
                    (" (", Attrs::new()),
                ],
            );
            text(
                &mut txn,
                &paragraph,
                &[("annexe", link("https://example.fr/annexe"))],
            );
            element(&mut txn, &paragraph, "hardBreak", &[]);
            let list = element(&mut txn, &root, "bulletList", &[]);
            for item in ["Budget", "Voirie"] {
                let list_item = element(&mut txn, &list, "listItem", &[]);
                textblock(&mut txn, &list_item, "paragraph", item);
            }
            let attributes = [
                ("assignee", Any::from("Ana")),
                ("due", Any::from("2026-04-01")),
                ("status", Any::from("open")),
            ];
            let action = element(&mut txn, &root, "actionItem", &attributes);
            text(&mut txn, &action, &[("Envoyer le courrier", Attrs::new())]);
        }
        doc
    }

    /// Edits made after the version was taken: a block removed, one edited, one added.
    fn edit_after_version(doc: &Doc) {
        let mut txn = doc.transact_mut();
        let root = txn.get_or_insert_xml_fragment(FRAGMENT);
        root.remove_range(&mut txn, 1, 1);
        let heading = root
            .get(&txn, 0)
            .and_then(XmlOut::into_xml_element)
            .unwrap();
        let title = heading
            .get(&txn, 0)
            .and_then(XmlOut::into_xml_text)
            .unwrap();
        title.insert(&mut txn, 0, "Brouillon : ");
        heading.insert_attribute(&mut txn, "level", Any::from(2));
        textblock(&mut txn, &root, "paragraph", "Ajouté après coup");
    }

    #[test]
    fn restores_the_target_content() {
        let doc = minutes();
        let version = state(&doc);
        edit_after_version(&doc);
        let live = state(&doc);
        assert_ne!(extract(&live).unwrap(), extract(&version).unwrap());

        let update = restore_update(&live, &version, 99)
            .unwrap()
            .expect("contents differ");
        apply(&doc, &update);
        let target = copy(&Doc::new(), 3);
        apply(&target, &version);
        assert_eq!(extract(&state(&doc)).unwrap(), extract(&version).unwrap());
        assert_eq!(canonical(&doc), canonical(&target));
        assert_eq!(block_xml(&doc), block_xml(&target));
        assert_eq!(block_xml(&doc).len(), 3);

        // Restoring again changes nothing.
        assert_eq!(restore_update(&state(&doc), &version, 99).unwrap(), None);
    }

    #[test]
    fn only_differing_blocks_are_rewritten() {
        let doc = minutes();
        let version = state(&doc);
        edit_after_version(&doc);
        let live = state(&doc);
        let update = restore_update(&live, &version, 99).unwrap().unwrap();
        let update = Update::decode_v1(&update).unwrap();
        // The untouched list and action item are not re-inserted: the update brings back the
        // heading and the paragraph, and deletes the edited heading and the added paragraph.
        let probe = Doc::with_client_id(5);
        apply(&probe, &live);
        let before = probe.transact().state_vector();
        probe.transact_mut().apply_update(update).unwrap();
        let txn = probe.transact();
        let root = txn.get_xml_fragment(FRAGMENT).unwrap();
        let list = root
            .get(&txn, 2)
            .and_then(XmlOut::into_xml_element)
            .unwrap();
        assert_eq!(list.tag().as_ref(), "bulletList");
        // The list kept its original identity (client 1), the heading is a new copy (client 99).
        let heading = root
            .get(&txn, 0)
            .and_then(XmlOut::into_xml_element)
            .unwrap();
        assert_eq!(list_item_client(&list), 1);
        assert_eq!(list_item_client(&heading), 99);
        assert!(txn.state_vector().get(&ClientID::new(99)) > before.get(&ClientID::new(99)));
    }

    fn list_item_client(element: &yrs::XmlElementRef) -> u64 {
        use yrs::branch::BranchID;
        match AsRef::<yrs::branch::Branch>::as_ref(element).id() {
            BranchID::Nested(id) => id.client.get(),
            BranchID::Root(_) => 0,
        }
    }

    #[test]
    fn converges_with_a_concurrent_edit() {
        let doc = minutes();
        let version = state(&doc);
        edit_after_version(&doc);
        let live = state(&doc);
        let restore = restore_update(&live, &version, 99).unwrap().unwrap();

        // Meanwhile a client types into the added paragraph (which the restore deletes) and
        // into the list (which the restore keeps).
        let client = copy(&doc, 7);
        let concurrent = {
            let mut txn = client.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let added = root
                .get(&txn, 3)
                .and_then(XmlOut::into_xml_element)
                .unwrap();
            let added_text = added.get(&txn, 0).and_then(XmlOut::into_xml_text).unwrap();
            added_text.insert(&mut txn, 0, "Encore ");
            let list = root
                .get(&txn, 1)
                .and_then(XmlOut::into_xml_element)
                .unwrap();
            let item = list
                .get(&txn, 0)
                .and_then(XmlOut::into_xml_element)
                .unwrap();
            let paragraph = item
                .get(&txn, 0)
                .and_then(XmlOut::into_xml_element)
                .unwrap();
            let item_text = paragraph
                .get(&txn, 0)
                .and_then(XmlOut::into_xml_text)
                .unwrap();
            let end = item_text.len(&txn);
            item_text.insert(&mut txn, end, " 2027");
            txn.encode_update_v1()
        };

        let first = copy(&doc, 11);
        apply(&first, &restore);
        apply(&first, &concurrent);
        let second = copy(&doc, 12);
        apply(&second, &concurrent);
        apply(&second, &restore);
        assert_eq!(canonical(&first), canonical(&second));
        let content = extract(&state(&first)).unwrap();
        assert_eq!(content, extract(&state(&second)).unwrap());
        let text = crate::content::plain_text(&content);
        assert!(text.contains("Budget 2027"), "{text}");
        assert!(!text.contains("Ajouté"), "{text}");
    }

    #[test]
    fn legacy_text_is_restored_by_lines() {
        let doc = Doc::with_client_id(1);
        let legacy = doc.get_or_insert_text(LEGACY_TEXT);
        legacy.insert(
            &mut doc.transact_mut(),
            0,
            "Première ligne\nDeuxième ligne\nTroisième ★\n",
        );
        let version = state(&doc);
        {
            let mut txn = doc.transact_mut();
            legacy.remove_range(&mut txn, 0, "Première ligne\n".len() as u32);
            let end = legacy.len(&txn);
            legacy.insert(&mut txn, end, "Quatrième\n");
        }
        let live = state(&doc);
        let update = restore_update(&live, &version, 99).unwrap().unwrap();
        apply(&doc, &update);
        assert_eq!(
            legacy.get_string(&doc.transact()),
            "Première ligne\nDeuxième ligne\nTroisième ★\n"
        );
        // Unchanged lines were kept: the update holds only the first line.
        let decoded = Update::decode_v1(&update).unwrap();
        let reinserted = Doc::new();
        apply(&reinserted, &live);
        let before = reinserted.transact().state_vector();
        reinserted.transact_mut().apply_update(decoded).unwrap();
        let added = reinserted.transact().state_vector().get(&ClientID::new(99))
            - before.get(&ClientID::new(99));
        assert_eq!(added as usize, "Première ligne\n".encode_utf16().count());
    }

    #[test]
    fn restoring_an_empty_version_empties_the_document() {
        let empty = state(&Doc::new());
        let doc = minutes();
        let update = restore_update(&state(&doc), &empty, 42).unwrap().unwrap();
        apply(&doc, &update);
        assert_eq!(
            extract(&state(&doc)).unwrap(),
            crate::model::Content::default()
        );
        assert_eq!(restore_update(&empty, &empty, 42).unwrap(), None);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let live = state(&minutes());
        assert!(restore_update(&live, &[0xff, 0x01], 1).is_err());
        assert!(restore_update(&[0xff, 0x01], &live, 1).is_err());
        assert!(matches!(
            restore_update(&live, &live, 1 << 53),
            Err(CrdtError::Malformed { .. })
        ));
    }

    /// Mutated states go through every reader of this crate: errors are fine, escaping panics
    /// and aborts are not.
    #[test]
    fn mutated_states_never_panic() {
        let doc = minutes();
        let valid = state(&doc);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut mutated = valid.clone();
            let index = (seed as usize) % mutated.len();
            mutated[index] = (seed >> 32) as u8;
            let _ = extract(&mutated);
            let _ = crate::attribution::insertions_by_client(Some(&valid), &mutated);
            let _ = crate::attribution::insertions_by_client(Some(&mutated), &valid);
            let _ = restore_update(&valid, &mutated, 99);
            let _ = restore_update(&mutated, &valid, 99);
        }
    }
}
