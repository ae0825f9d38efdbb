//! Real Yjs edits, made with `yrs` ahead of the timed part of a scenario.
//!
//! Each writer has its own `yrs` document holding only its own text, and appends one token per
//! edit to the end of it: the update it sends is exactly what a Yjs client typing at the end of
//! its text sends (an item whose left origin is its previous item). The writer never applies the
//! others' edits, so making an edit costs the same at the first and at the millionth update and
//! can be done before the clock starts; servers still integrate every writer's items into one
//! shared `Y.Text`, where they interleave.

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, Update};

use crate::token::Token;

/// Name of the shared `Y.Text` every benchmark client edits.
pub const TEXT_NAME: &str = "text";

/// One simulated person typing.
pub struct EditWriter {
    id: u32,
    doc: Doc,
    text: TextRef,
    next_seq: u32,
    /// Appended after each token to make edits of a chosen size.
    filler: String,
}

impl EditWriter {
    /// A writer whose edits are a token followed by `filler_bytes` ASCII letters.
    pub fn new(id: u32, filler_bytes: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(id <= 0xffff, "writer id {id} does not fit in a token");
        // Yjs (JavaScript) clients pick random 32-bit client ids, yrs up to 53 bits; servers
        // built on older yrs (y-sweet 0.9 uses yrs 0.19) truncate ids above 32 bits and then
        // hold items the writer never made. Mimic the JavaScript clients.
        let random_id = Doc::new().client_id().get() & 0xffff_ffff;
        let doc = Doc::with_client_id(random_id.max(1));
        let text = doc.get_or_insert_text(TEXT_NAME);
        Ok(Self { id, doc, text, next_seq: 0, filler: "x".repeat(filler_bytes) })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// Number of edits made so far.
    pub fn edits_made(&self) -> u32 {
        self.next_seq
    }

    /// Appends the next token and returns the v1 update of that edit.
    pub fn next_update(&mut self) -> Vec<u8> {
        let token = Token { writer: self.id, seq: self.next_seq };
        self.next_seq += 1;
        let mut chunk = token.text();
        chunk.push_str(&self.filler);
        let mut txn = self.doc.transact_mut();
        let end = self.text.len(&txn);
        self.text.insert(&mut txn, end, &chunk);
        txn.encode_update_v1()
    }

    /// The writer's whole document as one update (what it would send in a sync step 2).
    pub fn state(&self) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(&StateVector::default())
    }
}

/// Applies v1 updates to a fresh document and returns its text, or an error naming the first
/// update that does not decode or apply.
pub fn text_of<'a>(updates: impl IntoIterator<Item = &'a [u8]>) -> anyhow::Result<String> {
    let doc = Doc::new();
    let text = doc.get_or_insert_text(TEXT_NAME);
    {
        let mut txn = doc.transact_mut();
        for (index, bytes) in updates.into_iter().enumerate() {
            let update = Update::decode_v1(bytes).map_err(|error| anyhow::anyhow!("update {index} does not decode: {error}"))?;
            txn.apply_update(update).map_err(|error| anyhow::anyhow!("update {index} does not apply: {error}"))?;
        }
    }
    let string = text.get_string(&doc.transact());
    Ok(string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token;

    #[test]
    fn interleaved_writers_converge_and_tokens_stay_whole() {
        let mut first = EditWriter::new(1, 3).unwrap();
        let mut second = EditWriter::new(2, 0).unwrap();
        let mut updates = Vec::new();
        for _ in 0..5 {
            updates.push(first.next_update());
            updates.push(second.next_update());
        }
        let forward = text_of(updates.iter().map(Vec::as_slice)).unwrap();
        let backward = text_of(updates.iter().rev().map(Vec::as_slice));
        // Out of order, an edit whose left origin is missing cannot apply: yrs keeps it pending
        // and the text is shorter. In order, every token is there exactly once.
        assert!(backward.is_ok());
        let mut found = Vec::new();
        token::scan(forward.as_bytes(), |token| found.push(token));
        assert_eq!(found.len(), 10);
        for update in &updates {
            let mut in_update = 0;
            token::scan(update, |_| in_update += 1);
            assert_eq!(in_update, 1);
        }
        assert_eq!(text_of([first.state().as_slice(), second.state().as_slice()]).unwrap().len(), forward.len());
    }
}
