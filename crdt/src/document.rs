//! A document's in-memory state: the `yrs` document and its awareness (presence) states.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use yrs::sync::Awareness;
use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, GetString, ReadTxn, StateVector, Transact, Update, WriteTxn};

use crate::CrdtError;
use crate::protocol::{DecodeError, Reader};

/// What applying an update changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedUpdate {
    /// The part of the update the document did not have yet, as a v1 update, or `None` when it
    /// brought nothing new (a resent edit, a reconnecting client's full state). This is what
    /// is stored and relayed, so duplicates cost neither storage nor bandwidth.
    pub delta: Option<Vec<u8>>,
    /// The Yjs client ids whose items the update carries (empty when it brought nothing new),
    /// so the server can record whose edits these are.
    pub clients: Vec<u64>,
}

/// Which awareness client ids an awareness update touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwarenessChange {
    /// Client ids whose state was added or renewed: the sending connection speaks for them.
    pub present: Vec<u64>,
    /// Client ids whose state was removed.
    pub removed: Vec<u64>,
    /// The entries that changed, encoded for relaying, or `None` when nothing changed.
    /// Stock clients send back every awareness update they apply, including other clients'
    /// states; relaying only what advanced a clock stops those echoes from multiplying.
    pub relay: Option<Vec<u8>>,
}

/// A document and its awareness. Owned by exactly one room; not shared between threads.
pub struct DocState {
    awareness: Awareness,
}

impl std::fmt::Debug for DocState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocState").finish_non_exhaustive()
    }
}

impl Default for DocState {
    fn default() -> Self {
        Self::new()
    }
}

fn malformed(what: &'static str, reason: impl ToString) -> CrdtError {
    CrdtError::Malformed { what, reason: reason.to_string() }
}

/// Decodes a v1 update. A panic inside the decoder touches no document, so it is reported as
/// malformed input rather than as a poisoned document.
fn decode_update(bytes: &[u8]) -> Result<Update, CrdtError> {
    match catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(error)) => Err(malformed("update", error)),
        Err(_) => Err(malformed("update", "undecodable")),
    }
}

fn decode_state_vector(bytes: &[u8]) -> Result<StateVector, CrdtError> {
    match catch_unwind(|| StateVector::decode_v1(bytes)) {
        Ok(Ok(state_vector)) => Ok(state_vector),
        Ok(Err(error)) => Err(malformed("state vector", error)),
        Err(_) => Err(malformed("state vector", "undecodable")),
    }
}

impl DocState {
    /// An empty document.
    pub fn new() -> Self {
        Self { awareness: Awareness::new(Doc::new()) }
    }

    /// Rebuilds a document from its latest snapshot and the updates stored after it.
    /// Stored bytes were produced by this crate, so an undecodable one means corruption: it is
    /// skipped and counted rather than making the whole document unavailable.
    pub fn load<'a>(
        snapshot: Option<&'a [u8]>,
        updates: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(Self, usize), CrdtError> {
        let mut state = Self::new();
        let mut skipped = 0;
        for bytes in snapshot.into_iter().chain(updates) {
            match state.apply_update(bytes) {
                Ok(_) => {}
                Err(CrdtError::Malformed { .. }) => skipped += 1,
                Err(error) => return Err(error),
            }
        }
        Ok((state, skipped))
    }

    /// Applies a v1 update and returns what it added.
    ///
    /// Updates whose dependencies are missing are not kept pending: a pending set built from
    /// hostile input makes every later encode panic, and a well-behaved client resends what
    /// the server lacks on its next sync.
    pub fn apply_update(&mut self, bytes: &[u8]) -> Result<AppliedUpdate, CrdtError> {
        let update = decode_update(bytes)?;
        let doc = self.awareness.doc();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // Usually one client: the editing tab.
            let clients: Vec<u64> = update.state_vector().iter().map(|(client, _)| client.get()).collect();
            let mut txn = doc.transact_mut();
            let applied = txn.apply_update(update);
            if txn.has_missing_updates() {
                txn.prune_pending();
            }
            let changed =
                txn.before_state() != txn.after_state() || !txn.delete_set().is_empty();
            // The encoder reserves 1 KiB; a typing delta is tens of bytes and is kept while
            // pending, in flight and queued for every client.
            let delta = changed.then(|| {
                let mut delta = txn.encode_update_v1();
                delta.shrink_to_fit();
                delta
            });
            drop(txn);
            let clients = if delta.is_some() { clients } else { Vec::new() };
            applied.map(|()| (delta, clients))
        }));
        match outcome {
            Ok(Ok((delta, clients))) => Ok(AppliedUpdate { delta, clients }),
            Ok(Err(error)) => Err(malformed("update", error)),
            Err(_) => Err(CrdtError::Panicked),
        }
    }

    /// The document's state vector, v1-encoded (payload of a sync step 1).
    pub fn state_vector(&self) -> Vec<u8> {
        self.awareness.doc().transact().state_vector().encode_v1()
    }

    /// Everything the holder of `state_vector` lacks (payload of a sync step 2).
    pub fn diff(&self, state_vector: &[u8]) -> Result<Vec<u8>, CrdtError> {
        let state_vector = decode_state_vector(state_vector)?;
        let doc = self.awareness.doc();
        catch_unwind(AssertUnwindSafe(|| doc.transact().encode_diff_v1(&state_vector)))
            .map_err(|_| CrdtError::Panicked)
    }

    /// The whole document as one update, for snapshots.
    pub fn encode_state(&self) -> Result<Vec<u8>, CrdtError> {
        let doc = self.awareness.doc();
        catch_unwind(AssertUnwindSafe(|| {
            doc.transact().encode_state_as_update_v1(&StateVector::default())
        }))
        .map_err(|_| CrdtError::Panicked)
    }

    /// The text of the root `Y.Text` named `name` (empty when absent). For tests and tools.
    pub fn text(&self, name: &str) -> String {
        let doc = self.awareness.doc();
        let text = doc.get_or_insert_text(name);
        text.get_string(&doc.transact())
    }

    /// Applies an awareness update after checking it completely: client ids within 53 bits,
    /// clocks within 32 bits, and states that are valid JSON, since every other client will
    /// `JSON.parse` what is relayed to it.
    pub fn apply_awareness(&mut self, bytes: &[u8]) -> Result<AwarenessChange, CrdtError> {
        let update = parse_awareness_update(bytes).map_err(|e| malformed("awareness update", e))?;
        match self.awareness.apply_update_summary(update) {
            Ok(Some(summary)) => {
                let changed = summary.all_changes();
                let relay = self.awareness.update_with_clients(changed).ok().map(|update| update.encode_v1());
                Ok(AwarenessChange {
                    present: summary.added.iter().chain(summary.updated.iter()).map(ClientID::get).collect(),
                    removed: summary.removed.iter().map(ClientID::get).collect(),
                    relay,
                })
            }
            Ok(None) => Ok(AwarenessChange::default()),
            Err(error) => Err(malformed("awareness update", error)),
        }
    }

    /// Removes the awareness states of `client_ids` (a connection that left) and returns the
    /// awareness update announcing it, or `None` if none of them had a state.
    pub fn remove_awareness(&mut self, client_ids: &[u64]) -> Option<Vec<u8>> {
        let mut removed = Vec::new();
        for &id in client_ids {
            let client = ClientID::new(id);
            if self.awareness.meta(client).is_some() {
                self.awareness.remove_state(client);
                removed.push(client);
            }
        }
        if removed.is_empty() {
            return None;
        }
        self.awareness.update_with_clients(removed).ok().map(|update| update.encode_v1())
    }

    /// Every present awareness state as one update, or `None` when nobody is present.
    pub fn awareness_state(&self) -> Option<Vec<u8>> {
        let update = self.awareness.update().ok()?;
        (!update.clients.is_empty()).then(|| update.encode_v1())
    }

    /// Number of present awareness states.
    pub fn awareness_count(&self) -> usize {
        self.awareness.iter().filter(|(_, state)| state.data.is_some()).count()
    }
}

fn parse_awareness_update(bytes: &[u8]) -> Result<AwarenessUpdate, DecodeError> {
    let mut reader = Reader::new(bytes);
    let count = reader.read_varint()?;
    // Each entry takes at least three bytes, so a count beyond that is a lie.
    if count > bytes.len() as u64 / 3 {
        return Err(DecodeError::LengthBeyondFrame);
    }
    let mut clients = HashMap::with_capacity(count as usize);
    for _ in 0..count {
        let client_id = reader.read_varint()?;
        let clock = u32::try_from(reader.read_varint()?).map_err(|_| DecodeError::VarintOverflow)?;
        let json = reader.read_string()?;
        if serde_json::from_str::<serde_json::Value>(json).is_err() {
            return Err(DecodeError::InvalidJson);
        }
        clients.insert(ClientID::new(client_id), AwarenessUpdateEntry { clock, json: Arc::from(json) });
    }
    if !reader.is_empty() {
        return Err(DecodeError::LengthBeyondFrame);
    }
    Ok(AwarenessUpdate { clients })
}

/// What a v1 update would bring to a document, judged from the update alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateContent {
    /// No new items and no deletions, e.g. the sync step 2 of a client with nothing to add.
    Empty,
    /// Only deletions. Stock clients send their whole delete set in every sync step 2, so a
    /// read-only client's reply to sync step 1 often looks like this without any edit.
    DeletionsOnly,
    /// New items (and maybe deletions).
    Items,
}

/// Classifies an update without applying it (for read-only connections).
pub fn update_content(bytes: &[u8]) -> Result<UpdateContent, CrdtError> {
    let update = decode_update(bytes)?;
    let has_items = catch_unwind(AssertUnwindSafe(|| !update.state_vector().is_empty()))
        .map_err(|_| malformed("update", "undecodable"))?;
    Ok(if has_items {
        UpdateContent::Items
    } else if update.is_empty() {
        UpdateContent::Empty
    } else {
        UpdateContent::DeletionsOnly
    })
}

/// Merges v1 updates into one, for compacting a pending batch.
pub fn merge_updates<B: AsRef<[u8]>>(updates: &[B]) -> Result<Vec<u8>, CrdtError> {
    let decoded = updates.iter().map(|u| decode_update(u.as_ref())).collect::<Result<Vec<_>, _>>()?;
    catch_unwind(AssertUnwindSafe(|| Update::merge_updates(decoded).encode_v1()))
        .map_err(|_| CrdtError::Panicked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Text, TextRef};

    fn edit(doc: &Doc, text: &TextRef, index: u32, chunk: &str) -> Vec<u8> {
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, index, chunk);
        txn.encode_update_v1()
    }

    #[test]
    fn classifies_updates_without_applying_them() {
        let client = Doc::new();
        let text = client.get_or_insert_text("text");
        let insert = edit(&client, &text, 0, "bonjour");
        assert_eq!(update_content(&insert).unwrap(), UpdateContent::Items);
        let empty = client.transact().encode_diff_v1(&client.transact().state_vector());
        assert_eq!(update_content(&empty).unwrap(), UpdateContent::Empty);
        let before = client.transact().state_vector();
        {
            let mut txn = client.transact_mut();
            text.remove_range(&mut txn, 0, 3);
        }
        let deletion = client.transact().encode_diff_v1(&before);
        assert_eq!(update_content(&deletion).unwrap(), UpdateContent::DeletionsOnly);
        assert!(update_content(&[0xff, 0xff]).is_err());
    }

    #[test]
    fn deltas_skip_known_content() {
        let client = Doc::new();
        let text = client.get_or_insert_text("text");
        let update = edit(&client, &text, 0, "bonjour");
        let mut server = DocState::new();
        assert!(server.apply_update(&update).unwrap().delta.is_some());
        // The same update again brings nothing: nothing to store or relay.
        assert_eq!(server.apply_update(&update).unwrap().delta, None);
        assert_eq!(server.text("text"), "bonjour");
    }

    #[test]
    fn sync_exchange_converges() {
        let mut server = DocState::new();
        let client = Doc::new();
        let text = client.get_or_insert_text("text");
        server.apply_update(&edit(&client, &text, 0, "abc")).unwrap();
        let other = Doc::new();
        let other_text = other.get_or_insert_text("text");
        let other_update = edit(&other, &other_text, 0, "xyz");
        server.apply_update(&other_update).unwrap();
        let sv = client.transact().state_vector().encode_v1();
        let diff = server.diff(&sv).unwrap();
        client.transact_mut().apply_update(Update::decode_v1(&diff).unwrap()).unwrap();
        assert_eq!(text.get_string(&client.transact()), server.text("text"));
        let (reloaded, skipped) = DocState::load(Some(&server.encode_state().unwrap()), []).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(reloaded.text("text"), server.text("text"));
    }

    #[test]
    fn hostile_update_leaves_no_pending_state() {
        // A mutated update that yrs accepts into its pending set; without pruning, every later
        // encode of the document panics.
        let hostile = [1u8, 2, 118, 51, 4, 1, 0, 1, 1, 1, 116, 6, 132, 1, 5, 0];
        let mut server = DocState::new();
        let _ = server.apply_update(&hostile);
        server.encode_state().unwrap();
        server.diff(&[0]).unwrap();
    }

    #[test]
    fn merged_updates_equal_their_parts() {
        let client = Doc::new();
        let text = client.get_or_insert_text("text");
        let parts = vec![edit(&client, &text, 0, "a"), edit(&client, &text, 1, "b")];
        let merged = merge_updates(&parts).unwrap();
        let mut server = DocState::new();
        server.apply_update(&merged).unwrap();
        assert_eq!(server.text("text"), "ab");
    }

    fn awareness_bytes(entries: &[(u64, u32, &str)]) -> Vec<u8> {
        let clients = entries
            .iter()
            .map(|&(id, clock, json)| (ClientID::new(id), AwarenessUpdateEntry { clock, json: json.into() }))
            .collect();
        AwarenessUpdate { clients }.encode_v1()
    }

    #[test]
    fn awareness_appears_and_is_removed() {
        let mut server = DocState::new();
        let change = server.apply_awareness(&awareness_bytes(&[(7, 1, r#"{"user":{"name":"Ana"}}"#)])).unwrap();
        assert_eq!(change.present, vec![7]);
        assert_eq!(server.awareness_count(), 1);
        assert!(server.awareness_state().is_some());
        let removal = server.remove_awareness(&[7]).unwrap();
        assert_eq!(server.awareness_count(), 0);
        // The removal is an ordinary awareness update: state `null` with a higher clock.
        let mut observer = DocState::new();
        observer.apply_awareness(&awareness_bytes(&[(7, 1, "{}")])).unwrap();
        assert_eq!(observer.apply_awareness(&removal).unwrap().removed, vec![7]);
        assert_eq!(server.remove_awareness(&[8]), None);
    }

    #[test]
    fn echoed_awareness_is_not_relayed_again() {
        let mut server = DocState::new();
        let state = awareness_bytes(&[(7, 3, r#"{"user":{"name":"Ana"}}"#)]);
        assert!(server.apply_awareness(&state).unwrap().relay.is_some());
        // Another client sends the same entry back with the same clock: nothing to relay.
        assert_eq!(server.apply_awareness(&state).unwrap(), AwarenessChange::default());
        // A renewal (higher clock, same content) is relayed: it keeps the state from expiring.
        let renewal = awareness_bytes(&[(7, 4, r#"{"user":{"name":"Ana"}}"#)]);
        assert!(server.apply_awareness(&renewal).unwrap().relay.is_some());
    }

    #[test]
    fn bad_awareness_is_refused() {
        let mut server = DocState::new();
        assert!(server.apply_awareness(&awareness_bytes(&[(7, 1, "{not json")])).is_err());
        assert!(server.apply_awareness(&[5, 1]).is_err());
        // A client id beyond 53 bits: yrs asserts on it, so it must never reach yrs.
        let mut bytes = vec![1];
        bytes.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, b'{', b'}']);
        assert!(server.apply_awareness(&bytes).is_err());
        assert_eq!(server.awareness_count(), 0);
    }

    #[test]
    fn garbage_updates_never_panic() {
        let client = Doc::new();
        let text = client.get_or_insert_text("text");
        let update = edit(&client, &text, 0, "bonjour le monde");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut mutated = update.clone();
            let index = (seed as usize) % mutated.len();
            mutated[index] = (seed >> 32) as u8;
            let mut server = DocState::new();
            match server.apply_update(&mutated) {
                Err(CrdtError::Panicked) => continue,
                _ => {
                    server.encode_state().unwrap();
                }
            }
        }
    }
}
