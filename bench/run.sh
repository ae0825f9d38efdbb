#!/usr/bin/env bash
# Runs every benchmark scenario against every server, one server at a time, prints the markdown
# tables, and after a full run writes them into BENCHMARKS.md (between its BEGIN and END
# markers). Results (one JSON object per line) go to bench/results/.
#
#   bench/run.sh            the full run (about 15 minutes after the builds)
#   bench/run.sh --quick    every scenario, tiny: a smoke test of the whole chain
#
# Options: --only "relais-sqlite hocuspocus" (servers to run), --no-y-sweet, --skip-build,
#          --label-suffix SUFFIX (appended to server names in the results, for experiments),
#          --chat-only (only the chat scenario, on relais-sqlite and relais-postgres).
# Environment: Y_SWEET_BIN (a y-sweet binary to use instead of building 0.9.1),
#              RELAIS_BIN (a relais binary to measure instead of target/release/relais),
#              DATABASE_URL_BASE (default postgres://postgres@127.0.0.1:5432/test).
#
# The server runs pinned to core 0 and the load generator to core 1 (taskset), so that they do
# not compete for a core. Only 127.0.0.1 is ever targeted; every loop and every command has a
# bound. Needs: cargo, node 20 + npm, taskset; Postgres on 127.0.0.1:5432 for relais-postgres.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
QUICK=0
SKIP_BUILD=0
WITH_Y_SWEET=1
ALL_SERVERS="relais-sqlite relais-postgres relais-2-nodes y-websocket-server hocuspocus y-sweet raw-relay"
ONLY="$ALL_SERVERS"
LABEL_SUFFIX=""
CHAT_ONLY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --no-y-sweet) WITH_Y_SWEET=0 ;;
    --only) shift; ONLY="$1" ;;
    --label-suffix) shift; LABEL_SUFFIX="$1" ;;
    --chat-only) CHAT_ONLY=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [[ $CHAT_ONLY -eq 1 ]]; then
  # Chat is Relais's own protocol: the other servers have nothing to run.
  KEPT=""
  for name in $ONLY; do [[ $name == relais-sqlite || $name == relais-postgres ]] && KEPT="$KEPT $name"; done
  ONLY="${KEPT# }"
fi

SERVER_CORE=0
LOAD_CORE=1
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR="$BENCH/results"
mkdir -p "$RESULTS_DIR"
if [[ $QUICK -eq 1 ]]; then OUT="$RESULTS_DIR/quick-$RUN_ID.jsonl"; else OUT="$RESULTS_DIR/$RUN_ID.jsonl"; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/relais-bench.XXXXXX")
PG_BASE=${DATABASE_URL_BASE:-postgres://postgres@127.0.0.1:5432/test}
PG_SCHEMA="bench_$(echo "$RUN_ID" | tr 'A-Z' 'a-z')"
PG_SCHEMA_CREATED=0
SERVER_PID=""

log() { echo "run.sh: $*" >&2; }

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $PG_SCHEMA_CREATED -eq 1 ]]; then
    psql "$PG_BASE" -q -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK/data"
  log "server logs kept in $WORK"
}
trap cleanup EXIT

# Thousands of sockets on each side: raise the descriptor limit for this script's children.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if command -v taskset >/dev/null; then
  PIN_SERVER=(taskset -c "$SERVER_CORE")
  PIN_LOAD=(taskset -c "$LOAD_CORE")
else
  log "taskset not found: server and load generator are NOT pinned to separate cores"
  PIN_SERVER=()
  PIN_LOAD=()
fi

# --- Builds -----------------------------------------------------------------------------------
if [[ $SKIP_BUILD -eq 0 ]]; then
  log "building release binaries"
  (cd "$ROOT" && cargo build --release --quiet -p relais-server -p relais-bench)
  if [[ ! -d "$BENCH/peers/node_modules" || "$BENCH/peers/package-lock.json" -nt "$BENCH/peers/node_modules/.package-lock.json" ]]; then
    log "installing the Node peers from bench/peers/package-lock.json"
    (cd "$BENCH/peers" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
fi
RELAIS="${RELAIS_BIN:-$ROOT/target/release/relais}"
RAW_RELAY="$ROOT/target/release/raw-relay"
LOAD="$ROOT/target/release/relais-load"

skip() { # server reason
  printf '{"scenario":"skipped","server":"%s","reason":"%s"}\n' "$1" "$2" | tee -a "$OUT" >&2
}

# y-sweet: pinned version, built in its own target directory under target/ (never committed).
Y_SWEET=${Y_SWEET_BIN:-}
Y_SWEET_REASON=""
if [[ " $ONLY " == *" y-sweet "* ]]; then
  if [[ $WITH_Y_SWEET -eq 0 ]]; then
    Y_SWEET_REASON="not requested (--no-y-sweet)"
  elif [[ -z "$Y_SWEET" ]]; then
    Y_SWEET="$ROOT/target/bench-peers/bin/y-sweet"
    if [[ ! -x "$Y_SWEET" ]]; then
      log "building y-sweet 0.9.1 from crates.io (at most 15 minutes)"
      if ! CARGO_TARGET_DIR="$ROOT/target/bench-peers/build" timeout 900 \
          cargo install y-sweet --version 0.9.1 --locked --quiet --root "$ROOT/target/bench-peers" >"$WORK/y-sweet-build.log" 2>&1; then
        Y_SWEET_REASON="cargo install y-sweet 0.9.1 failed: $(tail -1 "$WORK/y-sweet-build.log" | tr -d '"\\' | cut -c1-120)"
      fi
    fi
  fi
  if [[ -z "$Y_SWEET_REASON" && ! -x "$Y_SWEET" ]]; then Y_SWEET_REASON="no y-sweet binary at $Y_SWEET"; fi
fi

# --- Servers ----------------------------------------------------------------------------------
# start_server NAME: starts NAME pinned to the server core, waits for its address, and sets
# SERVER_PID, URL (websocket URL template) and PROTOCOL. Data persists in $WORK/data/NAME across
# restarts within the run.
STARTS=0
# relais_token ARGS...: an editor token on every document for a relais store (the hub refuses
# anonymous clients); the load generator passes it as ?token=, as any application would.
relais_token() {
  "$RELAIS" token create --document '*' --role editor --expires 2d "$@"
}
# Sign-in is rate-limited per address and chat posting per user: the chat scenario signs every
# member in from 127.0.0.1 and posts faster than people type. A Relais build from before chat
# (RELAIS_BIN) knows neither flag nor the scenario: it runs the others only.
RELAIS_CHAT_LIMITS=(--auth-rate-per-minute 100000 --chat-messages-per-minute 100000)
RELAIS_HAS_CHAT=1
if ! timeout 10 "$RELAIS" serve --help 2>/dev/null | grep -q -- --chat-messages-per-minute; then
  log "$RELAIS has no chat: the chat scenario is not run"
  RELAIS_HAS_CHAT=0
  RELAIS_CHAT_LIMITS=()
fi
# relais_admin MARKER ARGS...: once per store (MARKER records it), the administrator the chat
# scenario sets itself up as; its password reaches relais-load through the environment.
BENCH_ADMIN_EMAIL=bench@relais.localhost
RELAIS_BENCH_ADMIN_PASSWORD="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export RELAIS_BENCH_ADMIN_PASSWORD
relais_admin() {
  local marker=$1
  shift
  [[ $RELAIS_HAS_CHAT -eq 0 || -e "$marker" ]] && return 0
  if "$RELAIS" user create --email "$BENCH_ADMIN_EMAIL" --name Bench --admin --organisation Bench --password-stdin "$@" \
      <<< "$RELAIS_BENCH_ADMIN_PASSWORD" >/dev/null; then
    touch "$marker"
  else
    log "cannot create the benchmark administrator ($*): the chat scenario will fail"
  fi
}
start_server() {
  # Fresh log files per start: an old address line must never be taken for the new one.
  STARTS=$((STARTS + 1))
  local name=$1 data="$WORK/data/$1" out="$WORK/$1.$STARTS.out" err="$WORK/$1.$STARTS.err"
  mkdir -p "$data"
  PROTOCOL=y-websocket
  local path="/yjs/"
  case "$name" in
    relais-sqlite)
      path="/yjs/{room}?token=$(relais_token --data-dir "$data")"
      relais_admin "$WORK/$1.admin" --data-dir "$data"
      "${PIN_SERVER[@]}" "$RELAIS" serve --listen 127.0.0.1:0 --data-dir "$data" "${RELAIS_CHAT_LIMITS[@]}" >>"$out" 2>>"$err" & ;;
    relais-postgres)
      path="/yjs/{room}?token=$(relais_token --data-dir "$data" --database-url "$PG_BASE?options=-c%20search_path%3D$PG_SCHEMA")"
      relais_admin "$WORK/$1.admin" --data-dir "$data" --database-url "$PG_BASE?options=-c%20search_path%3D$PG_SCHEMA"
      "${PIN_SERVER[@]}" "$RELAIS" serve --listen 127.0.0.1:0 --data-dir "$data" "${RELAIS_CHAT_LIMITS[@]}" \
        --database-url "$PG_BASE?options=-c%20search_path%3D$PG_SCHEMA" >>"$out" 2>>"$err" & ;;
    raw-relay) "${PIN_SERVER[@]}" "$RAW_RELAY" --listen 127.0.0.1:0 >>"$out" 2>>"$err" & ;;
    y-websocket-server)
      "${PIN_SERVER[@]}" env YPERSISTENCE="$data/leveldb" node "$BENCH/peers/y-websocket-server.mjs" >>"$out" 2>>"$err" & ;;
    hocuspocus)
      PROTOCOL=hocuspocus
      "${PIN_SERVER[@]}" env HOCUSPOCUS_DB="$data/hocuspocus.sqlite" node "$BENCH/peers/hocuspocus.mjs" >>"$out" 2>>"$err" & ;;
    y-sweet)
      path="/d/{room}/ws/{room}"
      "${PIN_SERVER[@]}" "$Y_SWEET" serve "$data" --host 127.0.0.1 --port 0 >>"$out" 2>>"$err" & ;;
    *) log "unknown server $name"; return 1 ;;
  esac
  SERVER_PID=$!
  local address="" tries=0
  while [[ -z "$address" && $tries -lt 300 ]]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$name exited at startup; see $err"
      SERVER_PID=""
      return 1
    fi
    sleep 0.1
    tries=$((tries + 1))
    address=$(cat "$out" "$err" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' \
      | grep -Eo '(listening on http|Listening on ws)://127\.0\.0\.1:[0-9]+' | tail -1 | sed -E 's#.*://##' || true)
  done
  if [[ -z "$address" ]]; then
    log "$name printed no address within 30 s; see $err"
    stop_server kill
    return 1
  fi
  URL="ws://$address$path"
  log "$name (pid $SERVER_PID) on $(sed "s/token=[^|]*/token=…/g" <<< "$URL")"
}

# stop_server graceful|kill: SIGTERM and up to 15 s to exit (then SIGKILL), or SIGKILL at once.
stop_server() {
  local mode=$1 tries=0
  [[ -z "$SERVER_PID" ]] && return 0
  if [[ $mode == graceful ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    while kill -0 "$SERVER_PID" 2>/dev/null && [[ $tries -lt 150 ]]; do sleep 0.1; tries=$((tries + 1)); done
  fi
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# load SCENARIO ARGS...: runs the load generator pinned to its core, bounded in time; a failure
# is recorded as a result line with an error and the run goes on.
load() {
  local scenario=$1 err="$WORK/load.err"
  shift
  local status=0
  "${PIN_LOAD[@]}" timeout "$LOAD_TIMEOUT" "$LOAD" --url "$URL" --protocol "$PROTOCOL" --server "$NAME$LABEL_SUFFIX" \
    --server-pid "$SERVER_PID" --run-id "$RUN_ID" "$scenario" "$@" >"$WORK/load.out" 2>"$err" || status=$?
  cat "$WORK/load.out" | tee -a "$OUT" >&2
  if [[ $status -ne 0 ]]; then
    local message
    message=$(tail -1 "$err" | tr -d '"\\' | cut -c1-300)
    [[ $status -eq 124 ]] && message="timed out after $LOAD_TIMEOUT"
    printf '{"scenario":"%s","server":"%s","error":"%s"}\n' "$scenario" "$NAME$LABEL_SUFFIX" "$message" | tee -a "$OUT" >&2
  fi
}

if [[ $QUICK -eq 1 ]]; then
  LOAD_TIMEOUT=60
  FANOUT=(--duration-secs 1 --drain-secs 1 --rate 10)
  FANOUT_SHAPES=("--rooms 1 --clients 10 --writers 2" "--rooms 1 --clients 20 --writers 2" "--rooms 10 --clients 3 --writers 1 --verify-rooms 3")
  THROUGHPUT=(--start-rate 500 --max-rate 1000 --step-secs 0.5 --drain-secs 1 --pause-secs 0.2 --refine-steps 0)
  IDLE=(--connections 100 --rooms 10 --doc-edits 20 --settle-secs 0.2)
  IDLE_LARGE=(--connections 500 --rooms 50 --doc-edits 5 --settle-secs 0.2 --label idle-10k)
  COLD_EDITS=2000
  BURST_TIMEOUT=2
  READ_TIMEOUT=2
  PERSIST_WAIT=0.5
  CHAT=(--members 10 --senders 2 --start-rate 50 --max-rate 100 --step-secs 0.5 --drain-secs 1 --pause-secs 0.2 --refine-steps 0)
else
  LOAD_TIMEOUT=300
  FANOUT=(--duration-secs 5 --drain-secs 3 --rate 10)
  FANOUT_SHAPES=("--rooms 1 --clients 50 --writers 5" "--rooms 1 --clients 200 --writers 5" "--rooms 100 --clients 5 --writers 1 --verify-rooms 10")
  THROUGHPUT=(--start-rate 1000 --max-rate 256000 --step-secs 2 --drain-secs 2 --pause-secs 0.5 --refine-steps 2)
  IDLE=(--connections 2000 --rooms 200 --doc-edits 200 --edit-bytes 100 --settle-secs 2)
  IDLE_LARGE=(--connections 10000 --rooms 1000 --doc-edits 20 --settle-secs 2 --label idle-10k)
  COLD_EDITS=20000
  BURST_TIMEOUT=30
  READ_TIMEOUT=15
  # Longer than Hocuspocus' store debounce (2 s, at most 10 s) and y-sweet's checkpoint period
  # (10 s): the cold load measures loading, not what a prompt stop loses (durability does that).
  PERSIST_WAIT=11
  # One channel of 50 members, 5 of them sending; the total rate doubles from 100/s in 2-second
  # steps up to 12,800/s, then two bisection steps (under a minute, setup included).
  CHAT=(--members 50 --senders 5 --start-rate 100 --max-rate 12800 --step-secs 2 --drain-secs 2 --pause-secs 0.5 --refine-steps 2)
fi

# Every scenario against one server. Idle memory goes first, on a fresh process; the other
# scenarios run on a second fresh process.
bench_server() {
  NAME=$1
  if [[ $CHAT_ONLY -eq 1 ]]; then
    bench_chat
    return 0
  fi
  local stateless=()
  [[ $NAME == raw-relay ]] && stateless=(--stateless)
  start_server "$NAME" || { skip "$NAME" "did not start (see its log in $WORK)"; return 0; }
  load idle "${IDLE[@]}" "${stateless[@]}"
  load idle "${IDLE_LARGE[@]}" "${stateless[@]}"
  # The idle rooms close (and some servers snapshot them) a few seconds after their clients
  # leave: restart so that this burst of work does not land in the latency scenarios.
  stop_server graceful
  start_server "$NAME" || { skip "$NAME" "did not restart after the idle scenarios"; return 0; }
  for shape in "${FANOUT_SHAPES[@]}"; do
    # shellcheck disable=SC2086 # the shape is a list of flags
    load fanout $shape "${FANOUT[@]}" "${stateless[@]}"
  done
  # Let the fan-out rooms close and be stored first (Hocuspocus stores and unloads documents
  # seconds after their last client leaves): a step that overlaps that is not about the rate.
  sleep "$PERSIST_WAIT"
  load throughput "${THROUGHPUT[@]}"
  if [[ $NAME == raw-relay ]]; then
    load cold-write --room "burst-$RUN_ID" --edits "$COLD_EDITS" --timeout-secs "$BURST_TIMEOUT"
    stop_server graceful
    return 0
  fi
  load cold-write --room "cold-$RUN_ID" --edits "$COLD_EDITS" --timeout-secs "$BURST_TIMEOUT"
  sleep "$PERSIST_WAIT"
  stop_server graceful
  start_server "$NAME" || { skip "$NAME" "did not restart"; return 0; }
  load cold-read --room "cold-$RUN_ID" --edits "$COLD_EDITS" --timeout-secs "$READ_TIMEOUT" --label cold-load
  # Durability: SIGKILL as soon as the burst has been relayed to the watching client.
  load cold-write --room "durable-$RUN_ID" --edits "$COLD_EDITS" --timeout-secs "$BURST_TIMEOUT"
  stop_server kill
  start_server "$NAME" || { skip "$NAME" "did not restart after SIGKILL"; return 0; }
  load cold-read --room "durable-$RUN_ID" --edits "$COLD_EDITS" --timeout-secs "$READ_TIMEOUT" --label durability
  stop_server graceful
  [[ $NAME == relais-* ]] && bench_chat
  return 0
}

# Chat (Relais only), on a fresh process: the administrator made at the store's first start
# sets up a workspace, the members and their sessions through the API, then one channel per step.
bench_chat() {
  [[ $RELAIS_HAS_CHAT -eq 1 ]] || return 0
  start_server "$NAME" || { skip "$NAME" "did not start for chat"; return 0; }
  load chat --admin-email "$BENCH_ADMIN_EMAIL" "${CHAT[@]}"
  stop_server graceful
}

{
  echo "run.sh: run $RUN_ID$([[ $QUICK -eq 1 ]] && echo ' (quick)')"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)' || true
  grep MemTotal /proc/meminfo || true
} >&2

for NAME in $ONLY; do
  case "$NAME" in
    relais-postgres)
      if ! psql "$PG_BASE" -q -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null 2>"$WORK/psql.err"; then
        skip relais-postgres "Postgres at $PG_BASE unreachable: $(head -1 "$WORK/psql.err" | tr -d '"\\' | cut -c1-100)"
        continue
      fi
      PG_SCHEMA_CREATED=1 ;;
    y-sweet)
      if [[ -n "$Y_SWEET_REASON" ]]; then skip y-sweet "$Y_SWEET_REASON"; continue; fi ;;
    relais-2-nodes) continue ;; # its own section below
  esac
  log "=== $NAME ==="
  bench_server "$NAME"
done

# --- One room split across two nodes (issue 9) ------------------------------------------------
# Two relais processes on one Postgres schema and the NATS bus on 127.0.0.1:4222, both pinned to
# the server core; clients alternate between the nodes, so every update crosses the bus for half
# of its receivers. Compare with relais-postgres above. CPU and memory figures are node A's only.
bench_cluster() {
  NAME=relais-2-nodes
  local schema="${PG_SCHEMA}_cluster" bus=${NATS_URL:-nats://127.0.0.1:4222}
  if ! psql "$PG_BASE" -q -c "CREATE SCHEMA $schema" >/dev/null 2>"$WORK/psql.err"; then
    skip "$NAME" "Postgres at $PG_BASE unreachable"; return 0
  fi
  local urls=() pids=() node token
  token=$(relais_token --data-dir "$WORK/data/cluster-a" --object-store "file://$WORK/data/cluster-objects" \
    --database-url "$PG_BASE?options=-c%20search_path%3D$schema")
  for node in a b; do
    local out="$WORK/cluster-$node.out" err="$WORK/cluster-$node.err" address="" tries=0
    "${PIN_SERVER[@]}" "$RELAIS" serve --listen 127.0.0.1:0 --data-dir "$WORK/data/cluster-$node" \
      --object-store "file://$WORK/data/cluster-objects" --bus-url "$bus" \
      --database-url "$PG_BASE?options=-c%20search_path%3D$schema" >>"$out" 2>>"$err" &
    pids+=($!)
    while [[ -z "$address" && $tries -lt 300 ]]; do
      sleep 0.1; tries=$((tries + 1))
      address=$(grep -Eo 'listening on http://127\.0\.0\.1:[0-9]+' "$out" 2>/dev/null | tail -1 | sed -E 's#.*://##' || true)
    done
    if [[ -z "$address" ]]; then
      skip "$NAME" "node $node did not start (bus at $bus?)"; kill -KILL "${pids[@]}" 2>/dev/null || true; return 0
    fi
    urls+=("ws://$address/yjs/{room}?token=$token")
  done
  SERVER_PID=${pids[0]}
  URL="${urls[0]}|${urls[1]}"
  PROTOCOL=y-websocket
  log "$NAME on $(sed "s/token=[^|]*/token=…/g" <<< "$URL")"
  for shape in "${FANOUT_SHAPES[@]:0:2}"; do
    # shellcheck disable=SC2086 # the shape is a list of flags
    load fanout $shape "${FANOUT[@]}"
  done
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  SERVER_PID=""
  psql "$PG_BASE" -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
}
if [[ " $ONLY " == *" relais-2-nodes "* ]]; then
  log "=== relais-2-nodes ==="
  bench_cluster
fi

cp "$OUT" "$RESULTS_DIR/latest$([[ $QUICK -eq 1 ]] && echo -quick).jsonl"
log "results: $OUT"
"$LOAD" report "$OUT" | tee "$WORK/report.md"

# A full run (every server, not --quick) rewrites the results part of BENCHMARKS.md between its
# BEGIN and END markers; the prose around it (summary, findings) is written by people.
if [[ $QUICK -eq 0 && "$ONLY" == "$ALL_SERVERS" && $CHAT_ONLY -eq 0 ]]; then
  RUN_ID=$(basename "$OUT" .jsonl)
  python3 - "$ROOT/BENCHMARKS.md" "$WORK/report.md" "$RUN_ID" "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" <<'PY'
import sys
path, report, run_id, cpu = sys.argv[1:5]
text = open(path, encoding="utf-8").read()
begin = text.index("<!-- BEGIN results written by bench/run.sh")
begin = text.index("\n", begin) + 1
end = text.index("<!-- END results written by bench/run.sh -->")
tables = open(report, encoding="utf-8").read().strip()
head = (f"Run `{run_id}` on {cpu}, printed by `target/release/relais-load report bench/results/{run_id}.jsonl`.\n"
        "`relais-2-nodes`: two Relais processes on one Postgres schema and NATS, clients alternating\n"
        "between them; only the 1×50 and 1×200 fan-out shapes are run for it, and its CPU and memory\n"
        "are node A's. The server is pinned to core 0 and the load generator to core 1 (`taskset`).\n\n")
open(path, "w", encoding="utf-8").write(text[:begin] + head + tables + "\n" + text[end:])
PY
  log "BENCHMARKS.md: results of $RUN_ID written"
fi
