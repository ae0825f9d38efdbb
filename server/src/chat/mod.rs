//! Chat: channels of a workspace, direct messages, and the discussion beside each document.
//!
//! A message is committed to the store (which assigns its per-conversation seq) before anyone
//! is told about it; then the [`hub::ChatHub`] of this node delivers it to subscribed
//! connections, in seq order and without gaps (a gap is filled from the store), and the bus
//! carries it to the other nodes' hubs. The live transport is one JSON websocket per client
//! ([`socket`]); the REST API (`api::chat`) offers the same operations for history, search
//! and attachments. Both go through [`service`], which owns the checks: access, limits,
//! idempotent posting, mentions, audit.

pub mod hub;
pub mod render;
pub mod service;
pub mod socket;
