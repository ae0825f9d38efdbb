//! Micro-benchmarks of what a room does per message: decoding frames, applying updates,
//! merging a pending batch, and encoding a whole document for a snapshot or a cold join.
//!
//! Run with `cargo bench -p relais-crdt --bench codec`. Updates are real Yjs updates made with
//! `yrs`: small ones are one keystroke-sized insert each, written by several interleaved writers
//! so that the document has as many items as updates (the costly case for a snapshot).

use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use relais_crdt::protocol::{decode_frame, encode_update};
use relais_crdt::{DocState, merge_updates};
use yrs::updates::decoder::Decode;
use yrs::{Doc, Text, Transact};

fn main() {
    divan::main();
}

/// `count` small updates from `writers` clients appending in turn to a shared text, each client
/// applying the others' updates as a live editor would.
fn typing_updates(count: usize, writers: usize) -> Vec<Vec<u8>> {
    let docs: Vec<Doc> = (0..writers).map(|_| Doc::new()).collect();
    let mut updates = Vec::with_capacity(count);
    for index in 0..count {
        let doc = &docs[index % writers];
        let text = doc.get_or_insert_text("text");
        let update = {
            let mut txn = doc.transact_mut();
            let end = text.len(&txn);
            text.insert(&mut txn, end, "a");
            txn.encode_update_v1()
        };
        for (other_index, other) in docs.iter().enumerate() {
            if other_index != index % writers {
                let decoded = yrs::Update::decode_v1(&update).expect("yrs decodes its own update");
                other.transact_mut().apply_update(decoded).expect("yrs applies its own update");
            }
        }
        updates.push(update);
    }
    updates
}

/// One update inserting `bytes` characters at once (a large paste).
fn paste_update(bytes: usize) -> Vec<u8> {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("text");
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, &"x".repeat(bytes));
    txn.encode_update_v1()
}

#[divan::bench]
fn decode_frame_typical(bencher: Bencher) {
    let frame = encode_update(&typing_updates(1, 1)[0]);
    bencher.counter(BytesCount::new(frame.len())).bench(|| decode_frame(black_box(&frame)).map(|messages| messages.len()));
}

#[divan::bench]
fn decode_frame_1_mib(bencher: Bencher) {
    let frame = encode_update(&paste_update(1 << 20));
    bencher.counter(BytesCount::new(frame.len())).bench(|| decode_frame(black_box(&frame)).map(|messages| messages.len()));
}

/// Applying 1,000 keystroke updates in order to a fresh document (what a room does per edit,
/// including computing the delta it stores and relays).
#[divan::bench]
fn apply_update_small(bencher: Bencher) {
    let updates = typing_updates(1000, 4);
    bencher.counter(ItemsCount::new(updates.len())).with_inputs(DocState::new).bench_local_values(|mut state| {
        for update in &updates {
            let applied = state.apply_update(update).expect("valid update");
            black_box(applied);
        }
        state
    });
}

/// Merging a full batch of 256 small updates (what a room does when its store is slow).
#[divan::bench]
fn merge_256_small_updates(bencher: Bencher) {
    let updates = typing_updates(256, 4);
    bencher.counter(ItemsCount::new(updates.len())).bench(|| merge_updates(black_box(&updates)).map(|merged| merged.len()));
}

/// Encoding a 20,000-update document as one update (a snapshot, or a cold join's sync step 2).
#[divan::bench(sample_count = 20)]
fn encode_state_20000_updates(bencher: Bencher) {
    let updates = typing_updates(20_000, 4);
    let (state, skipped) = DocState::load(None, updates.iter().map(Vec::as_slice)).expect("valid updates");
    assert_eq!(skipped, 0);
    let encoded_len = state.encode_state().map(|encoded| encoded.len()).unwrap_or(0);
    bencher.counter(BytesCount::new(encoded_len)).bench_local(|| state.encode_state().map(|encoded| encoded.len()));
}

/// Loading a 20,000-update document from its log, as a room does when no snapshot covers it.
#[divan::bench(sample_count = 10)]
fn load_20000_updates(bencher: Bencher) {
    let updates = typing_updates(20_000, 4);
    bencher.counter(ItemsCount::new(updates.len())).bench_local(|| {
        DocState::load(None, updates.iter().map(Vec::as_slice)).map(|(state, skipped)| (state.state_vector().len(), skipped))
    });
}
