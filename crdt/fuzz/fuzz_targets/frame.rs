//! Any bytes a client may send: decode them as a frame, then feed every payload to a document
//! the way a room does. Nothing may panic out of `relais-crdt` (yrs panics are caught and
//! reported as `CrdtError::Panicked`), and a document that accepted input must still encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relais_crdt::protocol::{Message, decode_frame};
use relais_crdt::{CrdtError, DocState};

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = decode_frame(data) else { return };
    let mut doc = DocState::new();
    for message in messages {
        let outcome = match message {
            Message::SyncStep1(state_vector) => doc.diff(state_vector).map(drop),
            Message::SyncStep2(update) | Message::Update(update) => doc.apply_update(update).map(drop),
            Message::Awareness(update) => doc.apply_awareness(update).map(drop),
            Message::PermissionDenied(_) | Message::QueryAwareness => Ok(()),
        };
        if let Err(CrdtError::Panicked) = outcome {
            // The room throws such a document away; so do we.
            return;
        }
    }
    let _ = doc.encode_state();
});
