//! The scenarios of issue 8. Each is bounded in count and time and returns one or more JSON
//! objects, which the binary prints one per line.

pub mod chat;
pub mod cold;
pub mod idle;
pub mod load;
pub mod throughput;

use serde_json::{Map, Value, json};

use crate::client::{ClientOptions, PayloadHook};
use crate::delivery::DeliverySummary;
use crate::wire::Protocol;

/// tungstenite's read buffer for benchmark clients: frames here are small, and thousands of
/// idle clients with the 128 KiB default would make the load generator the memory hog.
pub const CLIENT_READ_BUFFER_BYTES: usize = 16 * 1024;

/// The server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Websocket URL template: `{room}` is replaced by the room name, or the name is appended.
    pub url: String,
    pub protocol: Protocol,
    /// Label of the server in the results (`relais-sqlite`, `hocuspocus`, ...).
    pub server: String,
    /// The server's process, for its memory and CPU time.
    pub server_pid: Option<u32>,
}

impl Target {
    pub fn options(&self, keep_updates: bool, on_payload: Option<PayloadHook>) -> ClientOptions {
        ClientOptions {
            protocol: self.protocol,
            read_buffer_bytes: CLIENT_READ_BUFFER_BYTES,
            keep_updates,
            on_payload,
        }
    }

    /// The fields every result line starts with.
    pub fn result(&self, scenario: &str) -> Map<String, Value> {
        let mut line = Map::new();
        line.insert("scenario".into(), json!(scenario));
        line.insert("server".into(), json!(self.server));
        line
    }
}

/// Milliseconds rounded to the microsecond, for readable JSON.
pub fn ms(value: f64) -> Value {
    json!((value * 1000.0).round() / 1000.0)
}

/// Adds the latency and loss fields of `summary` to `line`.
pub fn add_delivery(line: &mut Map<String, Value>, summary: &DeliverySummary) {
    line.insert("updates_sent".into(), json!(summary.sent));
    line.insert("deliveries_expected".into(), json!(summary.expected_deliveries));
    line.insert("updates_lost".into(), json!(summary.incomplete));
    line.insert("deliveries_missing".into(), json!(summary.missing_deliveries));
    line.insert("duplicates".into(), json!(summary.duplicates));
    line.insert("strays".into(), json!(summary.strays));
    for (name, q) in [("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)] {
        line.insert(name.into(), summary.quantile_ms(q).map_or(Value::Null, ms));
    }
}
