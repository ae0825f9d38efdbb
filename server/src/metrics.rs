//! Prometheus metrics, served at `/metrics` in the text exposition format.
//! Rates (updates or messages per second) are `rate()` of the counters.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Every metric of the process. One instance, shared through the hub.
pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub open_rooms: Gauge,
    pub frames_received: Counter,
    pub updates_refused: Counter,
    pub updates_committed: Counter,
    pub commit_seconds: Histogram,
    pub commit_batch_updates: Histogram,
    /// From the room receiving an update to relaying it: includes the commit.
    pub relay_delay_seconds: Histogram,
    pub closes: Family<Labels, Counter>,
    pub snapshots_written: Counter,
    pub versions_created: Counter,
    pub snapshot_failures: Counter,
    pub pending_updates: Gauge,
    pub bus_events_received: Counter,
    pub bus_catch_ups: Counter,
    /// From a commit on another node to its application here.
    pub bus_lag_seconds: Histogram,
    pub bus_dropped: Gauge,
    pub chat_connections: Gauge,
    pub chat_messages: Counter,
    /// From a message's commit to its delivery to the connections of this node.
    pub chat_delivery_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let latency = || Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        let metrics = Self {
            registry: Registry::with_prefix("relais"),
            connections: Gauge::default(),
            open_rooms: Gauge::default(),
            frames_received: Counter::default(),
            updates_refused: Counter::default(),
            updates_committed: Counter::default(),
            commit_seconds: latency(),
            commit_batch_updates: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            relay_delay_seconds: latency(),
            closes: Family::default(),
            snapshots_written: Counter::default(),
            versions_created: Counter::default(),
            snapshot_failures: Counter::default(),
            pending_updates: Gauge::default(),
            bus_events_received: Counter::default(),
            bus_catch_ups: Counter::default(),
            bus_lag_seconds: latency(),
            bus_dropped: Gauge::default(),
            chat_connections: Gauge::default(),
            chat_messages: Counter::default(),
            chat_delivery_seconds: latency(),
        };
        let mut metrics = metrics;
        let registry = &mut metrics.registry;
        registry.register("connections", "Open websocket connections", metrics.connections.clone());
        registry.register("open_rooms", "Documents loaded in memory", metrics.open_rooms.clone());
        registry.register("frames_received", "Websocket frames received from clients", metrics.frames_received.clone());
        registry.register("updates_refused", "Document updates refused from read-only connections", metrics.updates_refused.clone());
        registry.register("updates_committed", "Document updates committed to the store by this node", metrics.updates_committed.clone());
        registry.register("commit_duration_seconds", "Time to commit one batch of updates", metrics.commit_seconds.clone());
        registry.register("commit_batch_updates", "Updates per committed batch", metrics.commit_batch_updates.clone());
        registry.register("relay_delay_seconds", "From receiving an update to relaying it (commit included)", metrics.relay_delay_seconds.clone());
        registry.register("closes", "Websocket closes by close code", metrics.closes.clone());
        registry.register("snapshots_written", "Snapshots written", metrics.snapshots_written.clone());
        registry.register("versions_created", "Document versions taken (automatic, named, restore, submitted)", metrics.versions_created.clone());
        registry.register("snapshot_failures", "Snapshots that failed (updates stay in the log)", metrics.snapshot_failures.clone());
        registry.register("pending_updates", "Updates accepted and waiting for a commit, all rooms", metrics.pending_updates.clone());
        registry.register("bus_events_received", "Events received from other nodes", metrics.bus_events_received.clone());
        registry.register("bus_catch_ups", "Gaps filled from the store", metrics.bus_catch_ups.clone());
        registry.register("bus_lag_seconds", "From a commit on another node to its application here", metrics.bus_lag_seconds.clone());
        registry.register("chat_connections", "Open chat websockets", metrics.chat_connections.clone());
        registry.register("chat_messages", "Chat messages committed by this node", metrics.chat_messages.clone());
        registry.register("chat_delivery_seconds", "From a chat message's commit to its delivery on this node", metrics.chat_delivery_seconds.clone());
        registry.register("bus_dropped", "Events not published because the bus queue was full", metrics.bus_dropped.clone());
        metrics
    }

    /// Counts a websocket close with `code` (0 when the client vanished without one).
    pub fn count_close(&self, code: u16) {
        self.closes.get_or_create(&vec![("code", code.to_string())]).inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_the_prefix() {
        let metrics = Metrics::new();
        metrics.count_close(1013);
        metrics.commit_seconds.observe(0.002);
        let text = metrics.render();
        assert!(text.contains("relais_closes_total{code=\"1013\"} 1"), "{text}");
        assert!(text.contains("relais_commit_duration_seconds_bucket"), "{text}");
        assert!(text.contains("relais_connections 0"), "{text}");
    }
}
