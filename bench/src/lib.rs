//! Relais benchmarks: a y-websocket load generator (`relais-load`) and a minimal relay with no
//! CRDT and no storage (`raw-relay`), the physical limit the servers are compared with.
//!
//! The load generator drives any server that speaks the y-websocket protocol (and Hocuspocus'
//! variant of it) with real Yjs updates made by `yrs` over real websockets. Every edit inserts a
//! token naming its writer and sequence number, so receivers find what they got by scanning the
//! update bytes, cheaply, and each edit's latency is measured from its send to its last receiver.
//! The chat scenario drives Relais's `/chat` JSON websocket instead, set up through its HTTP API.
//! `bench/run.sh` runs every scenario against every server; BENCHMARKS.md has the results.
//!
//! This crate must never be a dependency of the server crates, and never targets anything but
//! the loopback addresses it is given.

pub mod client;
pub mod delivery;
pub mod edits;
pub mod http;
pub mod procfs;
pub mod report;
pub mod scenario;
pub mod token;
pub mod wire;
