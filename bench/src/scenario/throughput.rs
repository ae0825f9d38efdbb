//! Throughput: the highest rate of edits one room of clients sustains before p99 latency passes
//! a limit.
//!
//! Every client of the room types. The rate doubles from `start_rate` until a step fails (p99
//! over the limit, an edit lost, a client disconnected), then a few bisection steps narrow the
//! gap between the last passing and the first failing rate. Each step uses a fresh room, so
//! that a failed step's backlog or a long document does not weigh on the next one, and a pause
//! between steps lets the server drain what it still holds.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Target;
use super::load::{self, LoadOutcome, LoadPlan, add_outcome};

#[derive(Debug, Clone)]
pub struct ThroughputPlan {
    pub room_prefix: String,
    pub clients: u32,
    /// Edits per second, all writers together.
    pub start_rate: f64,
    pub max_rate: f64,
    pub step: Duration,
    pub drain: Duration,
    pub pause: Duration,
    pub refine_steps: u32,
    pub p99_limit_ms: f64,
    pub filler_bytes: usize,
}

/// At or above this share of one core, the load generator itself may be what limits the rate.
const CLIENT_SATURATED_PERCENT: f64 = 90.0;

/// Why a step failed, or `None` if it passed.
fn verdict(outcome: &LoadOutcome, p99_limit_ms: f64) -> Option<&'static str> {
    if outcome.disconnects > 0 {
        Some("disconnect")
    } else if outcome.summary.incomplete > 0 {
        Some("loss")
    } else if outcome.summary.quantile_ms(0.99).is_none_or(|p99| p99 > p99_limit_ms) {
        Some("p99")
    } else {
        None
    }
}

/// Runs the steps; returns one line per step and the summary line last.
pub async fn run(target: &Target, plan: &ThroughputPlan) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut lines = Vec::new();
    let mut best: Option<(f64, LoadOutcome)> = None;
    let mut failed: Option<(f64, &'static str, bool)> = None;
    let mut rate = plan.start_rate;
    let mut step_index = 0u32;
    let mut refinements = 0u32;
    loop {
        let step_plan = LoadPlan {
            room_prefix: format!("{}-step{step_index:02}", plan.room_prefix),
            rooms: 1,
            clients_per_room: plan.clients,
            writers_per_room: plan.clients,
            rate_per_writer: rate / f64::from(plan.clients),
            edits_per_writer: ((rate / f64::from(plan.clients)) * plan.step.as_secs_f64()).ceil() as u32,
            filler_bytes: plan.filler_bytes,
            drain: plan.drain,
            verify_rooms: 0,
            server_keeps_state: false,
            connect_parallel: 16,
        };
        let outcome = load::run(target, &step_plan).await?;
        let failure = verdict(&outcome, plan.p99_limit_ms);
        let client_saturated = outcome.client_cpu_percent >= CLIENT_SATURATED_PERCENT;
        let mut line = target.result("throughput-step");
        line.insert("rate".into(), json!(rate.round()));
        line.insert("clients".into(), json!(plan.clients));
        line.insert("pass".into(), json!(failure.is_none()));
        line.insert("failure".into(), failure.map_or(Value::Null, |reason| json!(reason)));
        line.insert("client_saturated".into(), json!(client_saturated));
        add_outcome(&mut line, &outcome);
        lines.push(line);
        step_index += 1;

        match failure {
            None => best = Some((rate, outcome)),
            Some(reason) => failed = Some((rate, reason, client_saturated)),
        }
        let next = match (&best, &failed) {
            (Some((passed, _)), None) => {
                let doubled = passed * 2.0;
                (doubled <= plan.max_rate).then_some(doubled)
            }
            (Some((passed, _)), Some((failing, _, _))) if refinements < plan.refine_steps => {
                refinements += 1;
                Some((passed + failing) / 2.0)
            }
            _ => None,
        };
        match next {
            Some(next) => rate = next,
            None => break,
        }
        tokio::time::sleep(plan.pause).await;
    }

    let mut summary = target.result("throughput");
    summary.insert("clients".into(), json!(plan.clients));
    summary.insert("p99_limit_ms".into(), json!(plan.p99_limit_ms));
    summary.insert("updates_per_sec".into(), json!(best.as_ref().map_or(0.0, |(rate, _)| rate.round())));
    if let Some((_, outcome)) = &best {
        summary.insert("p99_ms_at_best".into(), outcome.summary.quantile_ms(0.99).map_or(Value::Null, super::ms));
        summary.insert("server_cpu_pct_at_best".into(), outcome.server_cpu_percent.map_or(Value::Null, |p| json!(p.round())));
        summary.insert("client_cpu_pct_at_best".into(), json!(outcome.client_cpu_percent.round()));
    }
    let limited_by = match failed {
        Some((rate, reason, saturated)) => {
            summary.insert("first_failing_rate".into(), json!(rate.round()));
            // A failure while the load generator used its whole core may be its own limit.
            if saturated { format!("{reason} (load generator saturated)") } else { reason.to_owned() }
        }
        None => "max_rate".to_owned(),
    };
    summary.insert("limited_by".into(), json!(limited_by));
    lines.push(summary);
    Ok(lines)
}
