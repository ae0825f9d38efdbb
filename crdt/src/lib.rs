//! Relais' document model and the y-websocket wire format.
//!
//! This crate owns everything that understands Yjs bytes: the framing of the y-websocket
//! protocol (`protocol`), and a document's in-memory state with its awareness (`DocState`).
//! It is pure: no I/O, no async runtime, no clock other than the one `yrs` uses for awareness.
//! Every decoder here is bounded by the input slice and returns an error instead of panicking;
//! the few places where `yrs` itself can still panic on hostile input are wrapped and reported
//! as [`CrdtError::Panicked`], so that the caller can throw the in-memory document away.

pub mod attribution;
pub mod content;
pub mod diff;
mod document;
pub mod model;
pub mod protocol;
pub mod restore;

pub use document::{AppliedUpdate, AwarenessChange, DocState, UpdateContent, merge_updates, update_content};

/// Errors at the crate boundary. Each variant is something the caller acts on.
#[derive(Debug, thiserror::Error)]
pub enum CrdtError {
    /// The bytes are not a valid Yjs update, state vector or awareness update; the sender is at fault.
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// `yrs` panicked while changing the document: the in-memory state can no longer be trusted.
    #[error("the document engine failed while applying an update")]
    Panicked,
}
