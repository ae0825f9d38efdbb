//! Delivery tracking: when each edit was sent, who received it, when the last receiver did.
//!
//! One slot per (writer, sequence number), preallocated, so that recording a receipt is a few
//! uncontended atomic operations and no allocation. A bit per receiver of the room makes a
//! duplicate delivery visible instead of letting it hide a missing one.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use crate::token::Token;

/// Where a writer lives and how many clients must receive each of its edits.
#[derive(Debug, Clone, Copy)]
pub struct WriterPlace {
    pub room: u32,
    /// The other clients of its room.
    pub receivers: u32,
}

struct WriterSlots {
    place: WriterPlace,
    sent_us: Box<[AtomicU64]>,
    last_received_us: Box<[AtomicU64]>,
    receipts: Box<[AtomicU32]>,
    /// `mask_words` words per slot: one bit per client of the room.
    masks: Box<[AtomicU64]>,
}

/// Delivery state of one scenario run.
pub struct Tracker {
    start: Instant,
    per_writer: usize,
    mask_words: usize,
    writers: Vec<WriterSlots>,
    sent: AtomicU64,
    completed: AtomicU64,
    duplicates: AtomicU64,
    strays: AtomicU64,
}

fn zeroed<T: Default>(length: usize) -> Box<[T]> {
    (0..length).map(|_| T::default()).collect()
}

impl Tracker {
    /// Room for `per_writer` edits of each writer, in rooms of at most `room_clients` clients.
    pub fn new(places: &[WriterPlace], per_writer: usize, room_clients: usize) -> Self {
        let mask_words = room_clients.div_ceil(64).max(1);
        let writers = places
            .iter()
            .map(|&place| WriterSlots {
                place,
                sent_us: zeroed(per_writer),
                last_received_us: zeroed(per_writer),
                receipts: zeroed(per_writer),
                masks: zeroed(per_writer * mask_words),
            })
            .collect();
        Self {
            start: Instant::now(),
            per_writer,
            mask_words,
            writers,
            sent: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            strays: AtomicU64::new(0),
        }
    }

    /// Microseconds since the tracker was made; never 0, which marks "not yet".
    pub fn now_us(&self) -> u64 {
        (self.start.elapsed().as_micros() as u64).max(1)
    }

    fn slot(&self, token: Token) -> Option<(&WriterSlots, usize)> {
        let writer = self.writers.get(token.writer as usize)?;
        let index = token.seq as usize;
        (index < self.per_writer).then_some((writer, index))
    }

    /// Records that `token` is being sent now.
    pub fn mark_sent(&self, token: Token) {
        if let Some((writer, index)) = self.slot(token) {
            writer.sent_us[index].store(self.now_us(), Ordering::Relaxed);
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records that the client at `position` of `room` received `token`, unless it is its own.
    pub fn mark_received(&self, room: u32, position: u32, own_writer: Option<u32>, token: Token) {
        if own_writer == Some(token.writer) {
            return;
        }
        let Some((writer, index)) = self.slot(token) else {
            self.strays.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if writer.place.room != room {
            // An edit leaked into another document: count it, it must stay 0.
            self.strays.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let word = index * self.mask_words + position as usize / 64;
        let bit = 1u64 << (position % 64);
        let Some(mask) = writer.masks.get(word) else {
            self.strays.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if mask.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let receipts = writer.receipts[index].fetch_add(1, Ordering::Relaxed) + 1;
        if receipts == writer.place.receivers {
            writer.last_received_us[index].store(self.now_us(), Ordering::Relaxed);
            self.completed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Edits sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Edits every receiver has.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Summary of deliveries: latencies from send to the last receiver of each completed edit.
    pub fn summary(&self) -> DeliverySummary {
        let mut latencies_us = Vec::with_capacity(self.completed() as usize);
        let mut receipt_times_us = Vec::with_capacity(self.completed() as usize);
        let mut incomplete = 0u64;
        let mut missing_deliveries = 0u64;
        let mut expected_deliveries = 0u64;
        for writer in &self.writers {
            for index in 0..self.per_writer {
                let sent = writer.sent_us[index].load(Ordering::Relaxed);
                if sent == 0 {
                    continue;
                }
                expected_deliveries += u64::from(writer.place.receivers);
                let done = writer.last_received_us[index].load(Ordering::Relaxed);
                if done == 0 {
                    incomplete += 1;
                    let receipts = writer.receipts[index].load(Ordering::Relaxed);
                    missing_deliveries += u64::from(writer.place.receivers.saturating_sub(receipts));
                } else {
                    latencies_us.push(done.saturating_sub(sent));
                    receipt_times_us.push(done);
                }
            }
        }
        latencies_us.sort_unstable();
        receipt_times_us.sort_unstable();
        let max_gap_us = receipt_times_us.windows(2).map(|pair| pair[1] - pair[0]).max().unwrap_or(0);
        DeliverySummary {
            sent: self.sent(),
            expected_deliveries,
            incomplete,
            missing_deliveries,
            duplicates: self.duplicates.load(Ordering::Relaxed),
            strays: self.strays.load(Ordering::Relaxed),
            latencies_us,
            max_gap_us,
        }
    }
}

/// What happened to the edits of a run.
#[derive(Debug, Clone)]
pub struct DeliverySummary {
    pub sent: u64,
    /// Sum over sent edits of the number of clients that should receive them.
    pub expected_deliveries: u64,
    /// Edits that some receiver never got (within the drain time).
    pub incomplete: u64,
    /// Receipts missing over all incomplete edits.
    pub missing_deliveries: u64,
    /// Edits a client received more than once.
    pub duplicates: u64,
    /// Tokens received from an unknown writer or from another room.
    pub strays: u64,
    /// Send-to-last-receiver latencies of complete edits, sorted.
    pub latencies_us: Vec<u64>,
    /// Longest time between two consecutive "last receipts": a relay pause.
    pub max_gap_us: u64,
}

impl DeliverySummary {
    /// The `q` quantile (0..=1) of latencies, in milliseconds; `None` if nothing completed.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.latencies_us, q)
    }
}

/// The `q` quantile of sorted microsecond values, in milliseconds (nearest rank).
pub fn quantile_ms(sorted_us: &[u64], q: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    Some(sorted_us[rank - 1] as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_completions_duplicates_and_strays() {
        let places = [WriterPlace { room: 0, receivers: 2 }, WriterPlace { room: 1, receivers: 1 }];
        let tracker = Tracker::new(&places, 4, 3);
        let token = Token { writer: 0, seq: 1 };
        tracker.mark_sent(token);
        tracker.mark_received(0, 0, Some(0), token); // its own writer: ignored
        tracker.mark_received(0, 1, None, token);
        tracker.mark_received(0, 1, None, token); // duplicate
        assert_eq!(tracker.completed(), 0);
        tracker.mark_received(0, 2, None, token);
        assert_eq!(tracker.completed(), 1);
        tracker.mark_received(1, 0, None, token); // another room
        tracker.mark_received(0, 1, None, Token { writer: 9, seq: 0 }); // unknown writer
        tracker.mark_sent(Token { writer: 1, seq: 0 });
        let summary = tracker.summary();
        assert_eq!(summary.sent, 2);
        assert_eq!(summary.expected_deliveries, 3);
        assert_eq!(summary.incomplete, 1);
        assert_eq!(summary.missing_deliveries, 1);
        assert_eq!(summary.duplicates, 1);
        assert_eq!(summary.strays, 2);
        assert_eq!(summary.latencies_us.len(), 1);
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let values: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(quantile_ms(&values, 0.5), Some(50.0));
        assert_eq!(quantile_ms(&values, 0.99), Some(99.0));
        assert_eq!(quantile_ms(&values, 1.0), Some(100.0));
        assert_eq!(quantile_ms(&[], 0.5), None);
    }
}
