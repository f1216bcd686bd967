#!/usr/bin/env bash
# Measures pipetop's receiver against the bare axum reference (examples/bare.rs) with the same
# load generator (examples/loadgen.rs), in the same run, alternating between the two for
# ROUNDS rounds, and prints each one's median accepted requests/s and the ratio. Absolute
# numbers drift on a shared machine; the ratio is what BENCHMARKS.md records.
#
#   bench/compare.sh                      # as fast as possible: throughput and ratio
#   RATE=1000 bench/compare.sh            # paced at 1,000 requests/s: latency percentiles
#   JOURNAL=1 bench/compare.sh            # pipetop with its fsync'd journal instead of --no-journal
#   PARSE=value bench/compare.sh          # the reference also builds a serde_json::Value of each
#                                         # body (PARSE=validate: only checks it is JSON)
#
# Knobs (environment): DURATION (10s), WARMUP (1s), CONNECTIONS (32), ROUNDS (3),
# LOADGEN_THREADS (1), RATE (unset), JOURNAL (unset), PARSE (unset), BARE_PORT and
# PIPETOP_PORT (free ports the OS picks).
#
# pipetop is run as
#   target/release/pipetop --headless --listen 127.0.0.1:$PIPETOP_PORT --path /webhook \
#       --secret $SECRET --tolerance 1h --no-journal        >/dev/null
# (or --journal FILE with JOURNAL=1). While the binary on this branch has no --headless, the
# script measures the bare reference alone and says so.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-3}
LOADGEN_THREADS=${LOADGEN_THREADS:-1}
RATE=${RATE:-}
JOURNAL=${JOURNAL:-}
PARSE=${PARSE:-}
BARE_PORT=${BARE_PORT:-$(free_port)}
PIPETOP_PORT=${PIPETOP_PORT:-$(free_port)}
while [[ $PIPETOP_PORT == "$BARE_PORT" ]]; do PIPETOP_PORT=$(free_port); done
SECRET=pipetop-bench-secret

RESULTS=target/bench-results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"

say() { printf '%s\n' "$*" >&2; }
die() { say "compare.sh: $*"; exit 1; }

say "building release binaries (cargo build --release) ..."
cargo build --release --quiet --example bare --example loadgen --bin pipetop

have_pipetop=
if target/release/pipetop --help 2>/dev/null | grep -q -- '--headless'; then
    have_pipetop=1
else
    say "note: target/release/pipetop has no --headless yet; measuring the bare reference only"
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

# start_server PORT LOG COMMAND...: starts a receiver, waits until its port answers.
start_server() {
    local port=$1 log=$2
    shift 2
    port_open "$port" && die "127.0.0.1:$port is already in use; set BARE_PORT/PIPETOP_PORT"
    "$@" >/dev/null 2>"$log" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        port_open "$port" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "$1 exited at start: $(head -c 300 "$log")"
        sleep 0.1
    done
    die "$1 did not listen on 127.0.0.1:$port within 10s"
}

# load PORT OUT: runs the generator against a receiver, one JSON line into OUT.
# Every request needs a timestamp of its own (the receiver accepts each signature once), and at
# tens of thousands of requests a second a 5-minute window of milliseconds runs out within
# seconds: so the receiver gets Gitee's documented 1-hour tolerance, and the generator starts
# its timestamps 55 minutes back.
load() {
    local args=(--url "http://127.0.0.1:$1/webhook" --secret "$SECRET" --backdate 55m
        --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP"
        --threads "$LOADGEN_THREADS" --json)
    [[ -n $RATE ]] && args+=(--rate "$RATE")
    target/release/examples/loadgen "${args[@]}" >"$2" || die "the load run failed: $(cat "$2")"
}

field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" "$2"; }

summary() {
    printf '%-8s round %s  %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  max %7.3f ms\n' \
        "$1" "$2" "$(field rps "$3")" "$(field p50 "$3")" "$(field p99 "$3")" \
        "$(field p99_9 "$3")" "$(field max "$3")"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

pipetop_cmd=(target/release/pipetop --headless --listen "127.0.0.1:$PIPETOP_PORT" --path /webhook
    --secret "$SECRET" --tolerance 1h)
if [[ -n $JOURNAL ]]; then
    pipetop_cmd+=(--journal "$RESULTS/journal.jsonl")
    mode=journaled
else
    pipetop_cmd+=(--no-journal)
    mode="no journal"
fi

say "reference: examples/bare${PARSE:+ --parse $PARSE}"
say "$(nproc) CPUs; $CONNECTIONS connections, $DURATION after $WARMUP warm-up, ${RATE:+paced at }${RATE:-unpaced}${RATE:+/s}, $ROUNDS rounds; results in $RESULTS"
for round in $(seq "$ROUNDS"); do
    start_server "$BARE_PORT" "$RESULTS/bare-$round.log" \
        target/release/examples/bare --listen "127.0.0.1:$BARE_PORT" --path /webhook \
        ${PARSE:+--parse "$PARSE"}
    load "$BARE_PORT" "$RESULTS/bare-$round.json"
    stop_server
    summary bare "$round" "$RESULTS/bare-$round.json"

    if [[ -n $have_pipetop ]]; then
        rm -f "$RESULTS"/journal.jsonl*
        start_server "$PIPETOP_PORT" "$RESULTS/pipetop-$round.log" "${pipetop_cmd[@]}"
        load "$PIPETOP_PORT" "$RESULTS/pipetop-$round.json"
        stop_server
        summary pipetop "$round" "$RESULTS/pipetop-$round.json"
    fi
done

# medians NAME FIELD: the median of one field over a receiver's rounds.
medians() { for f in "$RESULTS/$1"-*.json; do field "$2" "$f"; done | median; }

if [[ -n $RATE ]]; then
    # Paced runs send the same number of requests to both: latency is the result, not a ratio.
    for name in bare ${have_pipetop:+pipetop}; do
        printf '%-8s median p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms at %s req/s\n' "$name" \
            "$(medians "$name" p50)" "$(medians "$name" p99)" "$(medians "$name" p99_9)" "$RATE"
    done
    [[ -n $have_pipetop ]] || say "pipetop: pending (needs 'pipetop --headless --no-journal' on this branch)"
    exit 0
fi

bare_rps=$(medians bare rps)
printf 'bare     median %9.0f req/s\n' "$bare_rps"
if [[ -n $have_pipetop ]]; then
    pipetop_rps=$(medians pipetop rps)
    printf 'pipetop  median %9.0f req/s  (%s)\n' "$pipetop_rps" "$mode"
    awk -v p="$pipetop_rps" -v b="$bare_rps" 'BEGIN { printf "ratio    pipetop / bare = %.3f\n", p / b }'
else
    say "pipetop: pending (needs 'pipetop --headless --no-journal' on this branch)"
fi
