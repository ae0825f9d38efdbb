//! Markdown tables from the JSON lines of a run: one table per scenario with every server side
//! by side, then each Relais backend as a ratio of every other server.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// One row of a scenario table: a label and how to read the value from a result line.
struct Metric {
    label: String,
    scenario: &'static str,
    /// Extra equality conditions on the line (e.g. the fan-out shape).
    filter: Vec<(&'static str, i64)>,
    field: &'static str,
    /// Ratio direction: true when a larger value is better (throughput).
    higher_is_better: bool,
    /// Whether a ratio means anything (not for counts that should be 0).
    ratio: bool,
}

fn metric(label: &str, scenario: &'static str, field: &'static str) -> Metric {
    Metric { label: label.to_owned(), scenario, filter: Vec::new(), field, higher_is_better: false, ratio: true }
}

/// The fan-out shapes (rooms, clients per room) present, in order of first appearance.
fn fanout_shapes(lines: &[Value]) -> Vec<(i64, i64)> {
    let mut shapes = Vec::new();
    for line in lines.iter().filter(|line| line["scenario"] == "fanout") {
        if let (Some(rooms), Some(clients)) = (line["rooms"].as_i64(), line["clients_per_room"].as_i64())
            && !shapes.contains(&(rooms, clients))
        {
            shapes.push((rooms, clients));
        }
    }
    shapes
}

/// A table: title, rows, and whether its columns are only the servers with a result in it
/// (chat exists in Relais only).
struct Table {
    title: String,
    metrics: Vec<Metric>,
    only_present: bool,
}

fn tables(lines: &[Value]) -> Vec<Table> {
    let mut fanout = Vec::new();
    for (rooms, clients) in fanout_shapes(lines) {
        for (name, field, ratio) in [
            ("p50", "p50_ms", true),
            ("p99", "p99_ms", true),
            ("max", "max_ms", true),
            ("updates lost", "updates_lost", false),
            ("documents identical", "docs_identical", false),
        ] {
            fanout.push(Metric {
                label: format!("{rooms}×{clients} {name}"),
                filter: vec![("rooms", rooms), ("clients_per_room", clients)],
                ratio,
                ..metric("", "fanout", field)
            });
        }
    }
    let edits = lines
        .iter()
        .find(|line| line["scenario"] == "burst")
        .and_then(|line| line["edits"].as_i64())
        .map_or_else(|| "N".to_owned(), |edits| edits.to_string());
    let chat_shape = lines
        .iter()
        .find(|line| line["scenario"] == "chat")
        .map_or_else(|| "N members, K senders".to_owned(), |line| format!("{} members, {} senders", cell(&line["members"]), cell(&line["senders"])));
    let tables = vec![
        ("Fan-out: latency from a writer's send to the last receiver (ms; lower is better)".to_owned(), fanout),
        (
            "Throughput: one room of 10 writers, highest rate with p99 ≤ 100 ms (higher is better)".to_owned(),
            vec![
                Metric { higher_is_better: true, ..metric("updates/s", "throughput", "updates_per_sec") },
                Metric { ratio: false, ..metric("p99 at that rate (ms)", "throughput", "p99_ms_at_best") },
                Metric { ratio: false, ..metric("server CPU at that rate (% of a core)", "throughput", "server_cpu_pct_at_best") },
                Metric { ratio: false, ..metric("load generator CPU (% of a core)", "throughput", "client_cpu_pct_at_best") },
                Metric { ratio: false, ..metric("what stopped it", "throughput", "limited_by") },
            ],
        ),
        (
            "Idle memory: server RSS (lower is better)".to_owned(),
            vec![
                metric("bytes per idle connection", "idle", "bytes_per_connection"),
                metric("bytes per loaded document", "idle", "bytes_per_document"),
                Metric { ratio: false, ..metric("document RSS ÷ encoded state", "idle", "document_to_state_ratio") },
                Metric { ratio: false, ..metric("RSS with every client connected (bytes)", "idle", "rss_connected_bytes") },
                Metric { ratio: false, ..metric("10,000 idle connections: disconnects", "idle-10k", "disconnects") },
                Metric { ratio: false, ..metric("10,000 idle connections: RSS (bytes)", "idle-10k", "rss_connected_bytes") },
            ],
        ),
        (
            format!("Burst: {edits} edits sent at once, watched by a second client (lower is better)"),
            vec![
                metric("time until all relayed (s)", "burst", "relay_secs"),
                Metric { ratio: false, ..metric("longest relay pause (ms)", "burst", "max_relay_gap_ms") },
                Metric { ratio: false, ..metric("updates lost", "burst", "updates_lost") },
            ],
        ),
        (
            format!("Cold load after a graceful restart: the {edits}-edit document (lower is better)"),
            vec![
                metric("full state after socket open (ms)", "cold-load", "full_state_ms"),
                Metric { ratio: false, ..metric("edits in the first sync step 2", "cold-load", "first_step2_edits") },
                Metric { ratio: false, ..metric("edits missing", "cold-load", "edits_lost") },
            ],
        ),
        (
            format!("Durability: SIGKILL right after a {edits}-edit burst was relayed, then restart"),
            vec![
                Metric { ratio: false, ..metric("edits lost", "durability", "edits_lost") },
                Metric { ratio: false, ..metric("full state after socket open (ms)", "durability", "full_state_ms") },
            ],
        ),
    ];
    let mut tables: Vec<Table> = tables.into_iter().map(|(title, metrics)| Table { title, metrics, only_present: false }).collect();
    tables.push(Table {
        title: format!("Chat: one channel of {chat_shape}, highest rate with p99 delivery ≤ 100 ms (higher is better)"),
        metrics: vec![
            Metric { higher_is_better: true, ..metric("messages/s", "chat", "messages_per_sec") },
            Metric { ratio: false, ..metric("p50 send to last member at that rate (ms)", "chat", "p50_ms_at_best") },
            Metric { ratio: false, ..metric("p99 send to last member at that rate (ms)", "chat", "p99_ms_at_best") },
            Metric { ratio: false, ..metric("p99 send to ack at that rate (ms)", "chat", "ack_p99_ms_at_best") },
            Metric { ratio: false, ..metric("server CPU at that rate (% of a core)", "chat", "server_cpu_pct_at_best") },
            Metric { ratio: false, ..metric("load generator CPU (% of a core)", "chat", "client_cpu_pct_at_best") },
            Metric { ratio: false, ..metric("messages lost, all steps", "chat", "messages_lost") },
            Metric { ratio: false, ..metric("what stopped it", "chat", "limited_by") },
        ],
        only_present: true,
    });
    tables
}

fn matches(line: &Value, metric: &Metric, server: &str) -> bool {
    line["scenario"] == metric.scenario
        && line["server"] == server
        && metric.filter.iter().all(|(key, value)| line[*key].as_i64() == Some(*value))
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "–".to_owned(),
        Value::Bool(flag) => if *flag { "yes" } else { "**no**" }.to_owned(),
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => integer.to_string(),
            (None, Some(float)) if float.fract() == 0.0 => format!("{float:.0}"),
            (None, Some(float)) => format!("{float:.2}"),
            (None, None) => number.to_string(),
        },
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Renders the markdown for `lines` (JSON objects, one per result).
pub fn render(lines: &[Value]) -> String {
    let mut servers: Vec<String> = Vec::new();
    for line in lines {
        if let Some(server) = line["server"].as_str()
            && !servers.iter().any(|known| known == server)
        {
            servers.push(server.to_owned());
        }
    }
    let skipped: BTreeMap<&str, &str> = lines
        .iter()
        .filter(|line| line["scenario"] == "skipped")
        .filter_map(|line| Some((line["server"].as_str()?, line["reason"].as_str().unwrap_or("skipped"))))
        .collect();

    let mut out = String::new();
    for Table { title, metrics, only_present } in tables(lines) {
        // A table no result line belongs to is left out (e.g. a chat-only run).
        let scenarios: Vec<&str> = metrics.iter().map(|metric| metric.scenario).collect();
        let in_table = |line: &Value| scenarios.iter().any(|scenario| line["scenario"] == *scenario);
        if !lines.iter().any(in_table) {
            continue;
        }
        let servers: Vec<String> = if only_present {
            servers.iter().filter(|server| lines.iter().any(|line| line["server"] == server.as_str() && in_table(line))).cloned().collect()
        } else {
            servers.clone()
        };
        let relais: Vec<&String> = servers.iter().filter(|server| server.starts_with("relais")).collect();
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(out, "| | {} |", servers.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(servers.len()));
        for metric in &metrics {
            let cells: Vec<String> = servers
                .iter()
                .map(|server| {
                    if let Some(reason) = skipped.get(server.as_str()) {
                        return format!("n/a ({reason})");
                    }
                    let found = lines.iter().rev().find(|line| matches(line, metric, server));
                    match found {
                        Some(line) if line.get("error").is_some() => "error".to_owned(),
                        Some(line) => cell(&line[metric.field]),
                        None => match lines.iter().rev().find(|line| {
                            line["scenario"] == metric.scenario && line["server"] == server.as_str() && line.get("error").is_some()
                        }) {
                            Some(_) => "error".to_owned(),
                            None => "–".to_owned(),
                        },
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} | {} |", metric.label, cells.join(" | "));
        }
        let ratio_metrics: Vec<&Metric> = metrics.iter().filter(|metric| metric.ratio).collect();
        if !ratio_metrics.is_empty() && !relais.is_empty() {
            let _ = writeln!(out, "\nRelais as a ratio of each server (Relais ÷ server; {}):\n", if ratio_metrics.iter().any(|m| m.higher_is_better) { "above 1 means Relais is faster" } else { "below 1 means Relais is better" });
            let _ = writeln!(out, "| | {} |", servers.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(servers.len()));
            for backend in &relais {
                for metric in &ratio_metrics {
                    let value_of = |server: &str| {
                        lines.iter().rev().find(|line| matches(line, metric, server)).and_then(|line| line[metric.field].as_f64())
                    };
                    let own = value_of(backend);
                    let cells: Vec<String> = servers
                        .iter()
                        .map(|server| match (own, value_of(server)) {
                            (Some(own), Some(other)) if other > 0.0 => format!("{:.2}", own / other),
                            _ => "–".to_owned(),
                        })
                        .collect();
                    let _ = writeln!(out, "| {backend}: {} | {} |", metric.label, cells.join(" | "));
                }
            }
        }
        out.push('\n');
    }
    if !skipped.is_empty() {
        let _ = writeln!(out, "Not run:\n");
        for (server, reason) in &skipped {
            let _ = writeln!(out, "- {server}: {reason}");
        }
        out.push('\n');
    }
    let errors: Vec<&Value> = lines.iter().filter(|line| line.get("error").is_some()).collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "Errors:\n");
        for line in errors {
            let _ = writeln!(out, "- {} / {}: {}", cell(&line["server"]), cell(&line["scenario"]), cell(&line["error"]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_servers_side_by_side_with_ratios() {
        let lines = vec![
            json!({"scenario": "throughput", "server": "relais-sqlite", "updates_per_sec": 20000.0}),
            json!({"scenario": "throughput", "server": "hocuspocus", "updates_per_sec": 10000.0}),
            json!({"scenario": "fanout", "server": "hocuspocus", "rooms": 1, "clients_per_room": 50, "p99_ms": 4.5}),
            json!({"scenario": "fanout", "server": "relais-sqlite", "error": "boom"}),
            json!({"scenario": "skipped", "server": "y-sweet", "reason": "did not build"}),
        ];
        let markdown = render(&lines);
        assert!(markdown.contains("| updates/s | 20000 | 10000 | n/a (did not build) |"), "{markdown}");
        assert!(markdown.contains("| relais-sqlite: updates/s | 1.00 | 2.00 | – |"), "{markdown}");
        assert!(markdown.contains("| 1×50 p99 | error | 4.50 |"), "{markdown}");
        assert!(markdown.contains("- y-sweet: did not build"));
        assert!(!markdown.contains("### Chat"), "no chat table without chat results: {markdown}");
    }

    #[test]
    fn chat_table_has_only_the_servers_that_ran_it() {
        let lines = vec![
            json!({"scenario": "throughput", "server": "hocuspocus", "updates_per_sec": 10000.0}),
            json!({"scenario": "chat", "server": "relais-sqlite", "members": 50, "senders": 5, "messages_per_sec": 800.0, "p99_ms_at_best": 12.5, "messages_lost": 0, "limited_by": "p99"}),
            json!({"scenario": "chat", "server": "relais-postgres", "members": 50, "senders": 5, "messages_per_sec": 400.0, "messages_lost": 0}),
        ];
        let markdown = render(&lines);
        assert!(markdown.contains("### Chat: one channel of 50 members, 5 senders"), "{markdown}");
        assert!(markdown.contains("| messages/s | 800 | 400 |"), "{markdown}");
        assert!(markdown.contains("| messages lost, all steps | 0 | 0 |"), "{markdown}");
        assert!(markdown.contains("| relais-sqlite: messages/s | 1.00 | 2.00 |"), "{markdown}");
        assert!(!markdown.contains("### Idle memory"), "tables without results are left out: {markdown}");
    }
}
