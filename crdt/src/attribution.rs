//! Who wrote what between two versions.
//!
//! Every Yjs item carries the id of the client that inserted it and that client's clock, so
//! the text inserted since an earlier version is the visible text whose ids the earlier
//! version's state vector does not cover. Client ids are per editor session, not per person:
//! mapping them to users is the caller's business (the server knows which connection spoke for
//! which client id).

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use yrs::types::text::{ChangeKind, YChange};
use yrs::{
    Any, IdSet, Options, Out, ReadTxn, Snapshot, StateVector, Text, Transact, TransactionMut,
    XmlFragment, XmlOut,
};

use crate::CrdtError;
use crate::content::{FRAGMENT, LEGACY_TEXT, decode_update, load_doc};

/// The text one client inserted between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInsertions {
    pub client_id: u64,
    /// Characters (Unicode scalar values) inserted and still present.
    pub inserted_chars: u64,
    /// Up to [`MAX_EXCERPTS`] of the longest inserted runs, in reading order, each cut to
    /// [`MAX_EXCERPT_CHARS`] characters (an ellipsis marks a cut).
    pub excerpts: Vec<String>,
}

/// Excerpts kept per client: enough to recognise a contribution, not a copy of it.
pub const MAX_EXCERPTS: usize = 5;
/// Characters kept per excerpt.
pub const MAX_EXCERPT_CHARS: usize = 120;

/// The text inserted since `previous_state` (or since the beginning when `None`) that is still
/// present in `state`, grouped by client id, most prolific first. Both are v1 updates as
/// stored. Formatting changes, deletions and structure (new empty paragraphs) are not counted.
pub fn insertions_by_client(
    previous_state: Option<&[u8]>,
    state: &[u8],
) -> Result<Vec<ClientInsertions>, CrdtError> {
    let previous = match previous_state {
        // The state vector an update covers is read from the update itself: no need to
        // integrate a whole second document.
        Some(bytes) => {
            let update = decode_update(bytes)?;
            catch_unwind(AssertUnwindSafe(|| update.state_vector())).map_err(|_| {
                CrdtError::Malformed {
                    what: "document state",
                    reason: "undecodable".to_owned(),
                }
            })?
        }
        None => StateVector::default(),
    };
    let doc = load_doc(state, Options::default())?;
    catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        collect(&mut txn, previous)
    }))
    .map_err(|_| CrdtError::Panicked)
}

/// One text of the document: a paragraph's `XmlText` or the legacy root text.
enum TextNode {
    Xml(yrs::XmlTextRef),
    Legacy(yrs::TextRef),
}

#[derive(Default)]
struct Tally {
    inserted_chars: u64,
    /// Every run, in reading order; the excerpts are chosen once all are known.
    runs: Vec<String>,
}

fn collect(txn: &mut TransactionMut, previous: StateVector) -> Vec<ClientInsertions> {
    let mut texts = Vec::new();
    if let Some(fragment) = txn.get_xml_fragment(FRAGMENT) {
        // `successors` walks the tree iteratively, so depth is no concern here.
        texts.extend(
            fragment
                .successors(txn)
                .filter_map(XmlOut::into_xml_text)
                .map(TextNode::Xml),
        );
    }
    if let Some(text) = txn.get_text(LEGACY_TEXT) {
        texts.push(TextNode::Legacy(text));
    }

    // `diff_range` marks a chunk `Added` when it is visible in `current` but not in
    // `previous`. Only the state vector matters for the previous side: text deleted since is
    // not visible now either way.
    let current = txn.snapshot();
    let previous = Snapshot::new(previous, IdSet::default());
    let mut tallies: HashMap<u64, Tally> = HashMap::new();
    for text in texts {
        let chunks = match &text {
            TextNode::Xml(text) => {
                text.diff_range(txn, Some(&current), Some(&previous), YChange::identity)
            }
            TextNode::Legacy(text) => {
                text.diff_range(txn, Some(&current), Some(&previous), YChange::identity)
            }
        };
        // Consecutive chunks of the same client form one run; anything else ends it.
        let mut run: Option<(u64, String)> = None;
        for chunk in chunks {
            let added_by = match chunk.ychange {
                Some(YChange {
                    kind: ChangeKind::Added,
                    id,
                }) => Some(id.client.get()),
                _ => None,
            };
            match (added_by, &chunk.insert) {
                (Some(client), Out::Any(Any::String(string))) => match &mut run {
                    Some((run_client, run_text)) if *run_client == client => {
                        run_text.push_str(string)
                    }
                    _ => {
                        finish_run(run.take(), &mut tallies);
                        run = Some((client, string.to_string()));
                    }
                },
                _ => finish_run(run.take(), &mut tallies),
            }
        }
        finish_run(run, &mut tallies);
    }

    let mut insertions: Vec<ClientInsertions> = tallies
        .into_iter()
        .map(|(client_id, tally)| ClientInsertions {
            client_id,
            inserted_chars: tally.inserted_chars,
            excerpts: excerpts(tally.runs),
        })
        .collect();
    insertions.sort_by(|a, b| {
        b.inserted_chars
            .cmp(&a.inserted_chars)
            .then(a.client_id.cmp(&b.client_id))
    });
    insertions
}

fn finish_run(run: Option<(u64, String)>, tallies: &mut HashMap<u64, Tally>) {
    if let Some((client, text)) = run {
        let tally = tallies.entry(client).or_default();
        tally.inserted_chars += text.chars().count() as u64;
        tally.runs.push(text);
    }
}

/// The longest runs, kept in reading order, trimmed and cut.
fn excerpts(runs: Vec<String>) -> Vec<String> {
    let mut runs: Vec<(usize, String)> = runs
        .into_iter()
        .map(|run| run.trim().to_owned())
        .filter(|run| !run.is_empty())
        .enumerate()
        .collect();
    // Stable: among runs of equal length, the earlier wins.
    runs.sort_by_key(|(_, run)| std::cmp::Reverse(run.chars().count()));
    runs.truncate(MAX_EXCERPTS);
    runs.sort_by_key(|(position, _)| *position);
    runs.into_iter().map(|(_, run)| cut(&run)).collect()
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use yrs::types::Attrs;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, Update, WriteTxn, XmlTextRef};

    use super::*;
    use crate::content::test_docs::{bold, element, state, text, textblock};

    fn sync(from: &Doc, to: &Doc) {
        let update = from
            .transact()
            .encode_diff_v1(&to.transact().state_vector());
        to.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
    }

    fn first_text(txn: &yrs::Transaction) -> XmlTextRef {
        let root = txn.get_xml_fragment(FRAGMENT).unwrap();
        let paragraph = root.get(txn, 0).and_then(XmlOut::into_xml_element).unwrap();
        paragraph
            .get(txn, 0)
            .and_then(XmlOut::into_xml_text)
            .unwrap()
    }

    #[test]
    fn counts_what_each_client_inserted_since_a_version() {
        let ana = Doc::with_client_id(1);
        {
            let mut txn = ana.transact_mut();
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            textblock(&mut txn, &root, "paragraph", "Bonjour");
        }
        let version = state(&ana);
        let leo = Doc::with_client_id(2);
        sync(&ana, &leo);

        // Concurrent edits: Léo appends to the paragraph and adds one; Ana adds "!!" and
        // deletes part of her own older text, which is not an insertion.
        {
            let paragraph_text = first_text(&leo.transact());
            let mut txn = leo.transact_mut();
            let end = paragraph_text.len(&txn);
            paragraph_text.insert(&mut txn, end, " le monde");
            let root = txn.get_or_insert_xml_fragment(FRAGMENT);
            let paragraph = element(&mut txn, &root, "paragraph", &[]);
            text(
                &mut txn,
                &paragraph,
                &[("Deuxième ", Attrs::new()), ("paragraphe", bold())],
            );
        }
        {
            let paragraph_text = first_text(&ana.transact());
            let mut txn = ana.transact_mut();
            paragraph_text.remove_range(&mut txn, 0, 3);
            paragraph_text.insert(&mut txn, 0, "!!");
        }
        sync(&ana, &leo);
        sync(&leo, &ana);

        let insertions = insertions_by_client(Some(&version), &state(&leo)).unwrap();
        assert_eq!(
            insertions,
            vec![
                ClientInsertions {
                    client_id: 2,
                    inserted_chars: (" le monde".chars().count()
                        + "Deuxième paragraphe".chars().count())
                        as u64,
                    excerpts: vec!["le monde".to_owned(), "Deuxième paragraphe".to_owned()],
                },
                ClientInsertions {
                    client_id: 1,
                    inserted_chars: 2,
                    excerpts: vec!["!!".to_owned()]
                },
            ]
        );

        // Since the beginning, Ana's surviving "jour" counts too.
        let all = insertions_by_client(None, &state(&ana)).unwrap();
        let ana_total = all.iter().find(|c| c.client_id == 1).unwrap();
        assert_eq!(ana_total.inserted_chars, ("!!".len() + "jour".len()) as u64);
        assert_eq!(ana_total.excerpts, vec!["!!jour".to_owned()]);

        // Nothing inserted since the latest state.
        assert_eq!(
            insertions_by_client(Some(&state(&ana)), &state(&ana)).unwrap(),
            vec![]
        );
    }

    #[test]
    fn legacy_text_and_excerpt_limits() {
        let first = Doc::with_client_id(9);
        let legacy = first.get_or_insert_text(LEGACY_TEXT);
        legacy.insert(&mut first.transact_mut(), 0, &"a".repeat(300));
        let version = state(&first);
        let second = Doc::with_client_id(10);
        sync(&first, &second);
        let words = ["un", "deux", "trois", "quatre", "cinq", "six", "sept"];
        {
            let legacy = second.get_or_insert_text(LEGACY_TEXT);
            let mut txn = second.transact_mut();
            // From the end, so that each position is one in the original text.
            for (index, word) in words.iter().enumerate().rev() {
                legacy.insert(&mut txn, 10 * (index as u32 + 1), word);
            }
        }
        // The first client appends to its own text: yrs merges that into the same item when
        // loading, and the version boundary must split it again.
        {
            let mut txn = first.transact_mut();
            legacy.insert(&mut txn, 300, " fin");
        }
        sync(&first, &second);
        let since = insertions_by_client(Some(&version), &state(&second)).unwrap();
        let total: usize = words.iter().map(|w| w.len()).sum();
        assert_eq!(
            since,
            vec![
                ClientInsertions {
                    client_id: 10,
                    inserted_chars: total as u64,
                    // The five longest, in reading order.
                    excerpts: ["deux", "trois", "quatre", "cinq", "sept"]
                        .map(String::from)
                        .to_vec(),
                },
                ClientInsertions {
                    client_id: 9,
                    inserted_chars: 4,
                    excerpts: vec!["fin".to_owned()],
                },
            ]
        );

        let all = insertions_by_client(None, &state(&second)).unwrap();
        assert_eq!(all[0].client_id, 9);
        assert_eq!(all[0].inserted_chars, 304);
        // The first ten-character run, the next three, then the long tail cut.
        let mut expected = vec!["a".repeat(10); 4];
        expected.push(format!("{}…", "a".repeat(MAX_EXCERPT_CHARS)));
        assert_eq!(all[0].excerpts, expected);
        assert_eq!(all[1].client_id, 10);
    }

    #[test]
    fn bad_states_are_errors() {
        assert!(insertions_by_client(None, &[0xff]).is_err());
        assert!(insertions_by_client(Some(&[0xff, 0xff]), &state(&Doc::new())).is_err());
        assert_eq!(
            insertions_by_client(None, &state(&Doc::new())).unwrap(),
            vec![]
        );
    }
}
