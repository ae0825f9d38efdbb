//! `relais-load`: drives a y-websocket server with real Yjs edits and prints one JSON line per
//! result. See `bench/run.sh` for how each scenario is run against each server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use relais_bench::scenario::load::{self, LoadPlan};
use relais_bench::scenario::throughput::{self, ThroughputPlan};
use relais_bench::report;
use relais_bench::scenario::chat::{self, ChatPlan};
use relais_bench::scenario::{Target, cold, idle};
use relais_bench::wire::Protocol;
use serde_json::{Map, Value};

/// Load generator for y-websocket servers (Relais, y-websocket-server, Hocuspocus, y-sweet).
#[derive(Parser)]
#[command(name = "relais-load")]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args)]
struct TargetArgs {
    /// Websocket URL template; `{room}` is replaced by the room name, otherwise the name is
    /// appended (e.g. `ws://127.0.0.1:8080/yjs/`).
    #[arg(long, global = true, default_value = "ws://127.0.0.1:8080/yjs/")]
    url: String,
    /// Wire dialect of the server.
    #[arg(long, global = true, value_enum, default_value_t = Protocol::YWebsocket)]
    protocol: Protocol,
    /// Label of the server in the results.
    #[arg(long, global = true, default_value = "server")]
    server: String,
    /// Process id of the server, to read its memory and CPU time from /proc.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Prefix of room names; give a fresh one per run (default: the current Unix time).
    #[arg(long, global = true)]
    run_id: Option<String>,
}

#[derive(Subcommand)]
enum Scenario {
    /// R rooms of N clients, W writers per room typing at a fixed rate.
    Fanout {
        #[arg(long, default_value_t = 1)]
        rooms: u32,
        #[arg(long, default_value_t = 50)]
        clients: u32,
        #[arg(long, default_value_t = 5)]
        writers: u32,
        /// Edits per second of each writer.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        #[arg(long, default_value_t = 5.0)]
        duration_secs: f64,
        #[arg(long, default_value_t = 5.0)]
        drain_secs: f64,
        /// Rooms whose documents are rebuilt and compared at the end.
        #[arg(long, default_value_t = 10)]
        verify_rooms: u32,
        /// The server keeps no document (the raw relay): skip the comparison with its copy.
        #[arg(long)]
        stateless: bool,
    },
    /// Highest rate of edits one room sustains with p99 under a limit.
    Throughput {
        #[arg(long, default_value_t = 10)]
        clients: u32,
        #[arg(long, default_value_t = 1000.0)]
        start_rate: f64,
        #[arg(long, default_value_t = 256_000.0)]
        max_rate: f64,
        #[arg(long, default_value_t = 2.0)]
        step_secs: f64,
        #[arg(long, default_value_t = 2.0)]
        drain_secs: f64,
        #[arg(long, default_value_t = 1.0)]
        pause_secs: f64,
        #[arg(long, default_value_t = 2)]
        refine_steps: u32,
        #[arg(long, default_value_t = 100.0)]
        p99_limit_ms: f64,
    },
    /// Highest rate of messages one chat channel of N members sustains with p99 delivery under
    /// a limit, every member getting every message once and in order (Relais only; set up
    /// through its API as the given administrator).
    Chat {
        /// An administrator's e-mail (`relais user create --admin`).
        #[arg(long, default_value = "bench@relais.localhost")]
        admin_email: String,
        /// That administrator's password.
        #[arg(long, env = "RELAIS_BENCH_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: String,
        /// Members of the channel, senders included.
        #[arg(long, default_value_t = 50)]
        members: u32,
        #[arg(long, default_value_t = 5)]
        senders: u32,
        #[arg(long, default_value_t = 100)]
        body_bytes: usize,
        /// Messages per second, all senders together.
        #[arg(long, default_value_t = 100.0)]
        start_rate: f64,
        #[arg(long, default_value_t = 12_800.0)]
        max_rate: f64,
        #[arg(long, default_value_t = 2.0)]
        step_secs: f64,
        #[arg(long, default_value_t = 2.0)]
        drain_secs: f64,
        #[arg(long, default_value_t = 0.5)]
        pause_secs: f64,
        /// Longest wait after a step for the acks of every message sent.
        #[arg(long, default_value_t = 10.0)]
        settle_secs: f64,
        #[arg(long, default_value_t = 2)]
        refine_steps: u32,
        #[arg(long, default_value_t = 100.0)]
        p99_limit_ms: f64,
    },
    /// Server memory per idle connection and per loaded document (needs --server-pid).
    Idle {
        #[arg(long, default_value_t = 2000)]
        connections: u32,
        #[arg(long, default_value_t = 200)]
        rooms: u32,
        /// Edits written into each room's document in the last phase.
        #[arg(long, default_value_t = 200)]
        doc_edits: u32,
        #[arg(long, default_value_t = 100)]
        edit_bytes: usize,
        #[arg(long, default_value_t = 2.0)]
        settle_secs: f64,
        /// The server keeps no document (the raw relay): joiners do not receive it.
        #[arg(long)]
        stateless: bool,
        /// Scenario name in the result.
        #[arg(long, default_value = "idle")]
        label: String,
    },
    /// Writes a document of many small edits in one burst (before a restart).
    ColdWrite {
        #[arg(long)]
        room: String,
        #[arg(long, default_value_t = 20_000)]
        edits: u32,
        #[arg(long, default_value_t = 120.0)]
        timeout_secs: f64,
    },
    /// Joins a document written by cold-write (after a restart) and times its full state.
    ColdRead {
        #[arg(long)]
        room: String,
        #[arg(long, default_value_t = 20_000)]
        edits: u32,
        #[arg(long, default_value_t = 30.0)]
        timeout_secs: f64,
        /// Scenario name in the result: `cold-load` or `durability`.
        #[arg(long, default_value = "cold-load")]
        label: String,
    },
    /// Prints markdown tables from result files (JSON lines); connects to nothing.
    Report {
        files: Vec<std::path::PathBuf>,
    },
}

fn secs(value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("invalid duration {value}"))
}

fn print(line: Map<String, Value>) {
    println!("{}", Value::Object(line));
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let run_id = match cli.target.run_id {
        Some(run_id) => run_id,
        None => SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0).to_string(),
    };
    let target = Target {
        url: cli.target.url,
        protocol: cli.target.protocol,
        server: cli.target.server,
        server_pid: cli.target.server_pid,
    };
    match cli.scenario {
        Scenario::Fanout { rooms, clients, writers, rate, duration_secs, drain_secs, verify_rooms, stateless } => {
            let plan = LoadPlan {
                room_prefix: format!("fanout-{run_id}-{rooms}x{clients}"),
                rooms,
                clients_per_room: clients,
                writers_per_room: writers,
                rate_per_writer: rate,
                edits_per_writer: (rate * duration_secs).ceil() as u32,
                filler_bytes: 0,
                drain: secs(drain_secs)?,
                verify_rooms,
                server_keeps_state: !stateless,
                connect_parallel: 32,
            };
            let outcome = load::run(&target, &plan).await?;
            print(load::fanout_result(&target, &plan, &outcome));
        }
        Scenario::Throughput {
            clients,
            start_rate,
            max_rate,
            step_secs,
            drain_secs,
            pause_secs,
            refine_steps,
            p99_limit_ms,
        } => {
            let plan = ThroughputPlan {
                room_prefix: format!("throughput-{run_id}"),
                clients,
                start_rate,
                max_rate,
                step: secs(step_secs)?,
                drain: secs(drain_secs)?,
                pause: secs(pause_secs)?,
                refine_steps,
                p99_limit_ms,
                filler_bytes: 0,
            };
            for line in throughput::run(&target, &plan).await? {
                print(line);
            }
        }
        Scenario::Chat {
            admin_email,
            admin_password,
            members,
            senders,
            body_bytes,
            start_rate,
            max_rate,
            step_secs,
            drain_secs,
            pause_secs,
            settle_secs,
            refine_steps,
            p99_limit_ms,
        } => {
            let plan = ChatPlan {
                run_id: run_id.clone(),
                admin_email,
                admin_password,
                members,
                senders,
                body_bytes,
                start_rate,
                max_rate,
                step: secs(step_secs)?,
                drain: secs(drain_secs)?,
                pause: secs(pause_secs)?,
                settle: secs(settle_secs)?,
                refine_steps,
                p99_limit_ms,
                setup_parallel: 4,
            };
            for line in chat::run(&target, &plan).await? {
                print(line);
            }
        }
        Scenario::Idle { connections, rooms, doc_edits, edit_bytes, settle_secs, stateless, label } => {
            let plan = idle::IdlePlan {
                room_prefix: format!("idle-{run_id}"),
                connections,
                rooms,
                doc_edits,
                edit_bytes,
                settle: secs(settle_secs)?,
                connect_parallel: 64,
                stateless,
                label,
            };
            print(idle::run(&target, &plan).await?);
        }
        Scenario::ColdWrite { room, edits, timeout_secs } => {
            print(cold::write(&target, &room, edits, secs(timeout_secs)?).await?);
        }
        Scenario::ColdRead { room, edits, timeout_secs, label } => {
            print(cold::read(&target, &room, edits, secs(timeout_secs)?, &label).await?);
        }
        Scenario::Report { files } => {
            let mut lines = Vec::new();
            for file in files {
                let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
                    let value: Value = serde_json::from_str(line)
                        .with_context(|| format!("{}:{}: not JSON", file.display(), number + 1))?;
                    lines.push(value);
                }
            }
            print!("{}", report::render(&lines));
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // One thread: the load generator is pinned to one core, and its clients share nothing that
    // would gain from more.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("relais-load: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relais-load: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
