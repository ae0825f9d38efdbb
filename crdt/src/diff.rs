//! Comparing two versions of a document paragraph by paragraph, for the "changes since"
//! view: the client renders the whole new document with insertions and deletions marked.
//!
//! Each document is flattened into a sequence of paragraphs (headings, list item paragraphs,
//! table cell paragraphs, code blocks, action items…). The sequences are aligned on exact
//! equality; within each run of differing paragraphs, a deleted and an inserted paragraph that
//! share at least half of their words are paired as one modified paragraph with a word diff.

use std::hash::Hash;

use serde::Serialize;
use similar::{Algorithm, ChangeTag, DiffOp, TextDiff, capture_diff_slices, diff_ratio};

use crate::content::inline_text;
use crate::model::{ActionStatus, Block, Content, ListItem};

/// How a paragraph changed between the two versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Equal,
    Inserted,
    Deleted,
    Modified,
}

/// What happened to a segment of a paragraph's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SegmentOp {
    Equal,
    Insert,
    Delete,
}

/// A run of text of a paragraph, with what happened to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub op: SegmentOp,
    pub text: String,
}

/// One paragraph of the comparison, in reading order of the new version (deleted paragraphs
/// appear where they used to be).
///
/// `kind` is `headingN` (1–6), `paragraph`, `listItem`, `taskItem`, `tableCell`,
/// `tableHeader`, `quote`, `code`, `action` or `rule`; paragraphs take the kind of their
/// innermost container. For a modified paragraph it is the new kind. Segments in order
/// rebuild the old text (equal + delete) and the new text (equal + insert); empty paragraphs
/// and rules have no segment.
///
/// A change of attributes only (a heading level, a task checked, an action's assignee, due
/// date or status, a code block's language) is a modified paragraph whose segments are all
/// equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParagraphDiff {
    pub change: Change,
    pub kind: String,
    pub segments: Vec<Segment>,
}

/// Totals of a comparison, in characters (Unicode scalar values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffSummary {
    pub inserted_chars: u64,
    pub deleted_chars: u64,
    /// Paragraphs inserted, deleted or modified.
    pub paragraphs_changed: u64,
}

/// Below this share of common words, a deleted and an inserted paragraph are shown as such
/// rather than as one modified paragraph.
const MIN_SIMILARITY: f32 = 0.5;
/// How far ahead, within a run of differing paragraphs, a paragraph's counterpart is looked
/// for. Bounds the work on documents rewritten wholesale.
const PAIRING_WINDOW: usize = 8;

/// Compares two versions paragraph by paragraph.
pub fn compare(old: &Content, new: &Content) -> Vec<ParagraphDiff> {
    let old = paragraphs(old);
    let new = paragraphs(new);
    let mut diffs = Vec::with_capacity(new.len().max(old.len()));
    // Patience anchors on paragraphs that occur once on each side, which keeps a moved or
    // rewritten section from being matched against unrelated blank lines.
    for op in capture_diff_slices(Algorithm::Patience, &old, &new) {
        match op {
            DiffOp::Equal { new_index, len, .. } => {
                for paragraph in &new[new_index..new_index + len] {
                    diffs.push(whole(Change::Equal, SegmentOp::Equal, paragraph));
                }
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                for paragraph in &old[old_index..old_index + old_len] {
                    diffs.push(whole(Change::Deleted, SegmentOp::Delete, paragraph));
                }
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                for paragraph in &new[new_index..new_index + new_len] {
                    diffs.push(whole(Change::Inserted, SegmentOp::Insert, paragraph));
                }
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => pair_run(
                &old[old_index..old_index + old_len],
                &new[new_index..new_index + new_len],
                &mut diffs,
            ),
        }
    }
    diffs
}

/// Character totals of a comparison.
pub fn summarize(diffs: &[ParagraphDiff]) -> DiffSummary {
    let mut summary = DiffSummary::default();
    for diff in diffs {
        if diff.change != Change::Equal {
            summary.paragraphs_changed += 1;
        }
        for segment in &diff.segments {
            let chars = segment.text.chars().count() as u64;
            match segment.op {
                SegmentOp::Insert => summary.inserted_chars += chars,
                SegmentOp::Delete => summary.deleted_chars += chars,
                SegmentOp::Equal => {}
            }
        }
    }
    summary
}

/// A paragraph as compared: `detail` holds the attributes that matter but are not text, so
/// that changing them alone still shows as a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Paragraph {
    kind: String,
    text: String,
    detail: String,
}

fn paragraphs(content: &Content) -> Vec<Paragraph> {
    let mut out = Vec::new();
    flatten(
        &content.blocks,
        &Context {
            kind: "paragraph",
            detail: String::new(),
        },
        &mut out,
    );
    out
}

/// What the innermost container makes of the paragraphs inside it.
struct Context {
    kind: &'static str,
    detail: String,
}

fn flatten(blocks: &[Block], context: &Context, out: &mut Vec<Paragraph>) {
    for block in blocks {
        let (kind, text, detail) = match block {
            Block::Heading { level, content } => (
                format!("heading{level}"),
                inline_text(content),
                context.detail.clone(),
            ),
            Block::Paragraph { content } => (
                context.kind.to_owned(),
                inline_text(content),
                context.detail.clone(),
            ),
            Block::BulletList { items }
            | Block::OrderedList { items, .. }
            | Block::TaskList { items } => {
                flatten_items(items, out);
                continue;
            }
            Block::Blockquote { blocks } => {
                flatten(
                    blocks,
                    &Context {
                        kind: "quote",
                        detail: String::new(),
                    },
                    out,
                );
                continue;
            }
            Block::CodeBlock { language, text } => (
                "code".to_owned(),
                text.clone(),
                language.clone().unwrap_or_default(),
            ),
            Block::Rule => ("rule".to_owned(), String::new(), String::new()),
            Block::Table { rows } => {
                for cell in rows.iter().flat_map(|row| &row.cells) {
                    let kind = if cell.header {
                        "tableHeader"
                    } else {
                        "tableCell"
                    };
                    let detail = format!("{}x{}", cell.colspan, cell.rowspan);
                    flatten(&cell.blocks, &Context { kind, detail }, out);
                }
                continue;
            }
            Block::Action(action) => {
                let status = match action.status {
                    ActionStatus::Open => "open",
                    ActionStatus::Done => "done",
                };
                let due = action.due.as_deref().unwrap_or_default();
                let detail = format!("{}\u{1f}{due}\u{1f}{status}", action.assignee);
                ("action".to_owned(), inline_text(&action.content), detail)
            }
        };
        out.push(Paragraph { kind, text, detail });
    }
}

fn flatten_items(items: &[ListItem], out: &mut Vec<Paragraph>) {
    for item in items {
        let context = match item.checked {
            Some(checked) => Context {
                kind: "taskItem",
                detail: if checked { "checked" } else { "unchecked" }.to_owned(),
            },
            None => Context {
                kind: "listItem",
                detail: String::new(),
            },
        };
        flatten(&item.blocks, &context, out);
    }
}

/// A paragraph entirely equal, inserted or deleted.
fn whole(change: Change, op: SegmentOp, paragraph: &Paragraph) -> ParagraphDiff {
    let segments = if paragraph.text.is_empty() {
        Vec::new()
    } else {
        vec![Segment {
            op,
            text: paragraph.text.clone(),
        }]
    };
    ParagraphDiff {
        change,
        kind: paragraph.kind.clone(),
        segments,
    }
}

/// Pairs the paragraphs of a run where the two versions differ. Walking both sides in order,
/// a paragraph similar to its counterpart is modified; otherwise the side whose counterpart
/// appears soonest within the window is taken as inserted (or deleted) up to it, so that a
/// paragraph added before an edited one does not hide the edit.
fn pair_run(old: &[Paragraph], new: &[Paragraph], out: &mut Vec<ParagraphDiff>) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        if similar_enough(&old[i], &new[j]) {
            out.push(modified(&old[i], &new[j]));
            i += 1;
            j += 1;
            continue;
        }
        let new_ahead = (j + 1..new.len().min(j + 1 + PAIRING_WINDOW))
            .find(|&k| similar_enough(&old[i], &new[k]));
        let old_ahead = (i + 1..old.len().min(i + 1 + PAIRING_WINDOW))
            .find(|&k| similar_enough(&old[k], &new[j]));
        match (new_ahead, old_ahead) {
            (Some(k), Some(l)) if k - j <= l - i => {
                push_inserted(&new[j..k], out);
                j = k;
            }
            (Some(k), None) => {
                push_inserted(&new[j..k], out);
                j = k;
            }
            (_, Some(l)) => {
                push_deleted(&old[i..l], out);
                i = l;
            }
            (None, None) => {
                push_deleted(&old[i..=i], out);
                push_inserted(&new[j..=j], out);
                i += 1;
                j += 1;
            }
        }
    }
    push_deleted(&old[i..], out);
    push_inserted(&new[j..], out);
}

fn push_inserted(paragraphs: &[Paragraph], out: &mut Vec<ParagraphDiff>) {
    out.extend(
        paragraphs
            .iter()
            .map(|p| whole(Change::Inserted, SegmentOp::Insert, p)),
    );
}

fn push_deleted(paragraphs: &[Paragraph], out: &mut Vec<ParagraphDiff>) {
    out.extend(
        paragraphs
            .iter()
            .map(|p| whole(Change::Deleted, SegmentOp::Delete, p)),
    );
}

/// Whether two paragraphs are versions of one another: at least half of their words in
/// common, in order. Whitespace-separated words rather than characters, since any two
/// sentences in the same language share most of their letters.
fn similar_enough(old: &Paragraph, new: &Paragraph) -> bool {
    let old_words: Vec<&str> = old.text.split_whitespace().collect();
    let new_words: Vec<&str> = new.text.split_whitespace().collect();
    if old_words.is_empty() || new_words.is_empty() {
        // Text emptied or filled in: the same paragraph only if nothing else changed.
        return old_words.is_empty() && new_words.is_empty() && old.kind == new.kind;
    }
    // The ratio is 2·common/(old+new), so it cannot reach the threshold when one side is
    // more than three times longer: skip the diff then.
    let (shorter, longer) = (
        old_words.len().min(new_words.len()),
        old_words.len().max(new_words.len()),
    );
    if (2 * shorter) as f32 / ((shorter + longer) as f32) < MIN_SIMILARITY {
        return false;
    }
    let ops = capture_diff_slices(Algorithm::Myers, &old_words, &new_words);
    diff_ratio(&ops, old_words.len(), new_words.len()) >= MIN_SIMILARITY
}

/// A word diff of two versions of a paragraph. Unicode word boundaries keep punctuation and
/// spaces as their own tokens, so "voté." → "voté !" changes only the punctuation.
fn modified(old: &Paragraph, new: &Paragraph) -> ParagraphDiff {
    let mut segments: Vec<Segment> = Vec::new();
    let diff = TextDiff::from_unicode_words(old.text.as_str(), new.text.as_str());
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => SegmentOp::Equal,
            ChangeTag::Insert => SegmentOp::Insert,
            ChangeTag::Delete => SegmentOp::Delete,
        };
        match segments.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => segments.push(Segment {
                op,
                text: change.value().to_owned(),
            }),
        }
    }
    ParagraphDiff {
        change: Change::Modified,
        kind: new.kind.clone(),
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ActionItem, Inline, Marks, TableCell, TableRow};

    fn inline(text: &str) -> Vec<Inline> {
        vec![Inline::Text {
            text: text.to_owned(),
            marks: Marks::default(),
        }]
    }

    fn paragraph(text: &str) -> Block {
        Block::Paragraph {
            content: inline(text),
        }
    }

    fn doc(blocks: Vec<Block>) -> Content {
        Content { blocks }
    }

    fn joined(diff: &ParagraphDiff, keep: SegmentOp) -> String {
        diff.segments
            .iter()
            .filter(|s| s.op == keep)
            .map(|s| s.text.as_str())
            .collect()
    }

    /// Old text is equal + delete segments, new text is equal + insert segments.
    fn rebuild(diffs: &[ParagraphDiff], side: SegmentOp) -> Vec<String> {
        diffs
            .iter()
            .filter(|d| match side {
                SegmentOp::Delete => d.change != Change::Inserted,
                _ => d.change != Change::Deleted,
            })
            .map(|d| {
                d.segments
                    .iter()
                    .filter(|s| s.op == SegmentOp::Equal || s.op == side)
                    .map(|s| s.text.as_str())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn an_inserted_word_is_the_only_insertion() {
        let old = doc(vec![paragraph("Le conseil a voté.")]);
        let new = doc(vec![paragraph("Le conseil municipal a voté.")]);
        let diffs = compare(&old, &new);
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].change, Change::Modified);
        assert_eq!(diffs[0].kind, "paragraph");
        let inserted = joined(&diffs[0], SegmentOp::Insert);
        assert!(
            inserted == "municipal " || inserted == " municipal",
            "{inserted:?}"
        );
        assert_eq!(joined(&diffs[0], SegmentOp::Delete), "");
        let summary = summarize(&diffs);
        assert_eq!(
            summary,
            DiffSummary {
                inserted_chars: 10,
                deleted_chars: 0,
                paragraphs_changed: 1
            }
        );
    }

    #[test]
    fn whole_paragraphs_inserted_deleted_and_kept() {
        let old = doc(vec![
            Block::Heading {
                level: 1,
                content: inline("Compte rendu"),
            },
            paragraph("Présents : Ana, Léo."),
            paragraph("Séance levée à midi."),
        ]);
        let new = doc(vec![
            Block::Heading {
                level: 1,
                content: inline("Compte rendu"),
            },
            paragraph("Présents : Ana, Léo, Zoé."),
            Block::BulletList {
                items: vec![ListItem {
                    checked: None,
                    blocks: vec![paragraph("Voirie : rien à signaler")],
                }],
            },
            Block::Rule,
        ]);
        let diffs = compare(&old, &new);
        let shape: Vec<(Change, &str)> =
            diffs.iter().map(|d| (d.change, d.kind.as_str())).collect();
        assert_eq!(
            shape,
            vec![
                (Change::Equal, "heading1"),
                (Change::Modified, "paragraph"),
                (Change::Deleted, "paragraph"),
                (Change::Inserted, "listItem"),
                (Change::Inserted, "rule"),
            ]
        );
        assert_eq!(
            diffs[0].segments,
            vec![Segment {
                op: SegmentOp::Equal,
                text: "Compte rendu".to_owned()
            }]
        );
        assert_eq!(joined(&diffs[1], SegmentOp::Insert), ", Zoé");
        assert_eq!(joined(&diffs[2], SegmentOp::Delete), "Séance levée à midi.");
        assert!(diffs[4].segments.is_empty());
        let summary = summarize(&diffs);
        assert_eq!(summary.paragraphs_changed, 4);
        assert_eq!(
            summary.deleted_chars,
            "Séance levée à midi.".chars().count() as u64
        );
        assert_eq!(
            summary.inserted_chars,
            (", Zoé".chars().count() + "Voirie : rien à signaler".chars().count()) as u64
        );
    }

    #[test]
    fn segments_rebuild_both_versions() {
        let old = doc(vec![
            paragraph("Un"),
            paragraph("Le budget est adopté à l'unanimité."),
            paragraph("Trois quatre cinq six."),
            paragraph("Sans rapport du tout"),
        ]);
        let new = doc(vec![
            paragraph("Un"),
            paragraph("Ajout avant"),
            paragraph("Le budget révisé est adopté à la majorité."),
            paragraph("Quelque chose de nouveau"),
            paragraph("Trois quatre cinq sept."),
        ]);
        let diffs = compare(&old, &new);
        let old_texts: Vec<String> = rebuild(&diffs, SegmentOp::Delete);
        let new_texts: Vec<String> = rebuild(&diffs, SegmentOp::Insert);
        let texts = |c: &Content| {
            paragraphs(c)
                .into_iter()
                .map(|p| p.text)
                .collect::<Vec<_>>()
        };
        let mut sorted_old = old_texts.clone();
        sorted_old.sort();
        let mut expected_old = texts(&old);
        expected_old.sort();
        assert_eq!(sorted_old, expected_old);
        // New paragraphs come in the new document's order.
        assert_eq!(new_texts, texts(&new));
        let changes: Vec<Change> = diffs.iter().map(|d| d.change).collect();
        assert_eq!(
            changes,
            vec![
                Change::Equal,
                Change::Inserted,
                Change::Modified,
                Change::Inserted,
                Change::Modified,
                Change::Deleted,
            ]
        );
    }

    #[test]
    fn attribute_changes_are_modifications() {
        let action = |status| {
            Block::Action(ActionItem {
                assignee: "Ana".to_owned(),
                due: None,
                status,
                content: inline("Envoyer le courrier"),
            })
        };
        let task = |checked| Block::TaskList {
            items: vec![ListItem {
                checked: Some(checked),
                blocks: vec![paragraph("Relire")],
            }],
        };
        let old = doc(vec![
            Block::Heading {
                level: 2,
                content: inline("Titre"),
            },
            action(ActionStatus::Open),
            task(false),
        ]);
        let new = doc(vec![
            Block::Heading {
                level: 3,
                content: inline("Titre"),
            },
            action(ActionStatus::Done),
            task(true),
        ]);
        let diffs = compare(&old, &new);
        let shape: Vec<(Change, &str)> =
            diffs.iter().map(|d| (d.change, d.kind.as_str())).collect();
        assert_eq!(
            shape,
            vec![
                (Change::Modified, "heading3"),
                (Change::Modified, "action"),
                (Change::Modified, "taskItem")
            ]
        );
        assert!(
            diffs
                .iter()
                .all(|d| d.segments.iter().all(|s| s.op == SegmentOp::Equal))
        );
        assert_eq!(
            summarize(&diffs),
            DiffSummary {
                inserted_chars: 0,
                deleted_chars: 0,
                paragraphs_changed: 3
            }
        );
    }

    #[test]
    fn table_cells_and_quotes_have_their_kinds() {
        let cell = |header, text: &str| TableCell {
            header,
            colspan: 1,
            rowspan: 1,
            blocks: vec![paragraph(text)],
        };
        let content = doc(vec![
            Block::Table {
                rows: vec![TableRow {
                    cells: vec![cell(true, "Nom"), cell(false, "Ana")],
                }],
            },
            Block::Blockquote {
                blocks: vec![paragraph("Cité")],
            },
            Block::CodeBlock {
                language: None,
                text: "x = 1".to_owned(),
            },
        ]);
        let kinds: Vec<String> = paragraphs(&content).into_iter().map(|p| p.kind).collect();
        assert_eq!(kinds, vec!["tableHeader", "tableCell", "quote", "code"]);
        let diffs = compare(&content, &content);
        assert!(diffs.iter().all(|d| d.change == Change::Equal));
        assert_eq!(summarize(&diffs), DiffSummary::default());
    }

    #[test]
    fn serialises_in_camel_case() {
        let diffs = compare(&doc(vec![paragraph("a")]), &doc(vec![paragraph("a b")]));
        let json = serde_json::to_value(&diffs).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"change": "modified", "kind": "paragraph", "segments": [
                {"op": "equal", "text": "a"}, {"op": "insert", "text": " b"}
            ]}])
        );
        let summary = serde_json::to_value(summarize(&diffs)).unwrap();
        assert_eq!(
            summary,
            serde_json::json!({"insertedChars": 2, "deletedChars": 0, "paragraphsChanged": 1})
        );
    }
}
