#!/usr/bin/env bash
# Several receivers through NATS JetStream (issue 15), against the release build on 127.0.0.1:
#   ingest   journaled ingest of `serve --nats` against the same receiver without it, in the
#            same run, alternating, ROUNDS times (as fast as it goes, CONNECTIONS connections,
#            DURATION): deliveries/s of each, and the ratio of the medians; after each --nats
#            round, the stream must hold every delivery the receiver accepted;
#   catchup  an outage of OUTAGE deliveries: NATS stopped, OUTAGE deliveries posted (every one
#            must be answered 2xx; their answer latency is the outage's), NATS started again on
#            the same port with the same storage, and the time until /healthz says backlog 0
#            and the stream holds them all, from which the catch-up rate;
#   viewer   answered -> seen by `pipetop attach --headless nats://…` at 1,000 deliveries/s,
#            journaled (only with a pipetop whose attach takes nats:// URLs).
#
#   bench/nats.sh [ingest|catchup|viewer|all]
#
# Knobs (environment): ROUNDS (3), CONNECTIONS (32), DURATION (10s), OUTAGE (100000),
# OUTAGE_RATE (unset: post the outage's deliveries as fast as they go; N: at N a second),
# NATS_SERVER (nats-server on the PATH, or Debian's /usr/sbin/nats-server).
#
# Each part starts its own `nats-server -js` on a free loopback port (-p -1 -m -1, read back
# from its ports file) with its storage in a scratch directory; the catch-up restarts it with
# `-p PORT -m PORT` on the same storage. Every server this script starts is stopped by its pid,
# and the scratch directory (journals, NATS storage) removed, when it ends. Loadgen runs are
# bounded in time (and the outage in count); every wait is bounded. Raw output (loadgen's JSON,
# /healthz, the servers' logs) goes to target/bench-results/<date-time>-nats/.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

WHAT=${1:-all}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
OUTAGE=${OUTAGE:-100000}
OUTAGE_RATE=${OUTAGE_RATE:-}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
BIN=target/release/pipetop
LOAD=target/release/examples/loadgen
SECRET=bench-secret

say() { printf '%s\n' "$*" >&2; }
die() {
    say "nats.sh: $*"
    exit 1
}
case "$WHAT" in
    ingest | catchup | viewer | all) ;;
    *) die "usage: bench/nats.sh [ingest|catchup|viewer|all]" ;;
esac
[ -x "$NATS_SERVER" ] || die "no nats-server (apt-get install nats-server, or set NATS_SERVER)"

cargo build --release --quiet --bin pipetop --example loadgen
RESULTS=$PWD/target/bench-results/$(date +%Y%m%d-%H%M%S)-nats
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
JOURNAL=$WORK/journal.jsonl
SERVER=
NATS_PID=
ATTACH=

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
stop_server() {
    if [ -n "$SERVER" ]; then
        stop_pid "$SERVER"
        SERVER=
    fi
}
stop_nats() {
    if [ -n "$NATS_PID" ]; then
        stop_pid "$NATS_PID"
        NATS_PID=
    fi
}
stop_attach() {
    if [ -n "$ATTACH" ]; then
        stop_pid "$ATTACH"
        ATTACH=
    fi
}
trap 'stop_attach; stop_server; stop_nats; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.2f}")' "$1" "$(now)"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# json FILE EXPR: a value from a JSON file, EXPR applied to it as `j` in Python.
json() { python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# summary FILE: loadgen's JSON in one line.
summary() {
    python3 - "$1" <<'EOF2'
import json, sys
j = json.load(open(sys.argv[1]))
l = j["latency_ms"]
print(f'{j["accepted"]} accepted in {j["elapsed_s"]:.1f} s, {j["rps"]:.0f} deliveries/s, latency p50 {l["p50"]} ms,'
      f' p99 {l["p99"]} ms, p99.9 {l["p99_9"]} ms, max {l["max"]} ms, non-2xx {j["non_2xx"]}, errors {j["errors"]}')
EOF2
}

# start_nats [PORT MONITOR_PORT]: nats-server -js on 127.0.0.1 with its storage in
# $WORK/nats/store, on free ports unless given; sets NATS_PID, NATS_URL, NATS_PORT, NATS_MON.
start_nats() {
    local port=${1:--1} monitor=${2:--1}
    mkdir -p "$WORK/nats"
    "$NATS_SERVER" -js -a 127.0.0.1 -p "$port" -m "$monitor" -sd "$WORK/nats/store" \
        --ports_file_dir "$WORK/nats" >>"$RESULTS/nats-server.log" 2>&1 &
    NATS_PID=$!
    local ports=$WORK/nats/nats-server_$NATS_PID.ports
    for _ in $(seq 300); do
        [ -s "$ports" ] && break
        kill -0 "$NATS_PID" 2>/dev/null || die "nats-server exited at start: $(tail -n 5 "$RESULTS/nats-server.log")"
        sleep 0.05
    done
    [ -s "$ports" ] || die "nats-server wrote no ports file within 15 s"
    NATS_URL=$(json "$ports" 'j["nats"][0]')
    NATS_MON=$(json "$ports" 'j["monitoring"][0]')
    NATS_PORT=${NATS_URL##*:}
}

# A fresh NATS (empty storage) for the next measurement.
fresh_nats() {
    stop_nats
    rm -rf "$WORK/nats"
    start_nats
}

# Messages in the stream(s) of the NATS server, from its monitoring port.
stream_messages() {
    curl -s --max-time 2 "$NATS_MON/jsz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])'
}

# start_server ARGS...: `serve` journaled on a free port, on a fresh journal; sets SERVER, BASE.
# --tolerance 1h with loadgen's --backdate 55m: enough distinct timestamps for 10 s flat out.
start_server() {
    local port
    port=$(free_port)
    rm -f "$JOURNAL" "$JOURNAL".*
    "$BIN" serve --listen "127.0.0.1:$port" --secret "$SECRET" --journal "$JOURNAL" --tolerance 1h "$@" \
        >/dev/null 2>"$WORK/serve.err" &
    SERVER=$!
    BASE="http://127.0.0.1:$port"
    for _ in $(seq 200); do
        if grep -q "listening on" "$WORK/serve.err" 2>/dev/null; then
            return
        fi
        sleep 0.05
    done
    cat "$WORK/serve.err" >&2
    die "serve did not start"
}

health() { curl -s --max-time 2 "$BASE/healthz"; }
# health_field NAME: a number or boolean from /healthz ("backlog", "connected", "accepted", ...).
health_field() {
    local text
    text=$(health) || return 1
    [[ $text =~ \"$1\":([a-z0-9]+) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}

# wait_backlog SECONDS: until /healthz says backlog 0 with NATS connected; false past SECONDS.
wait_backlog() {
    local tries=$(($1 * 10))
    for _ in $(seq "$tries"); do
        [ "$(health_field backlog || true)" = 0 ] && [ "$(health_field connected || true)" = true ] && return 0
        sleep 0.1
    done
    return 1
}

# load NAME ARGS...: loadgen against the receiver, its JSON kept as $RESULTS/NAME.json; a run
# with any non-2xx or error is said, not hidden.
load() {
    local name=$1
    shift
    if ! "$LOAD" --url "$BASE/webhook" --secret "$SECRET" --connections "$CONNECTIONS" --backdate 55m --json "$@" \
        >"$RESULTS/$name.json" 2>"$RESULTS/$name.err"; then
        say "loadgen ($name): $(cat "$RESULTS/$name.err")"
    fi
}

ingest() {
    local plain=() nats=()
    for round in $(seq "$ROUNDS"); do
        for mode in plain nats; do
            if [ "$mode" = nats ]; then
                fresh_nats
                start_server --nats "$NATS_URL"
            else
                start_server
            fi
            load "ingest-$round-$mode" --warmup 1s --duration "$DURATION"
            local file=$RESULTS/ingest-$round-$mode.json rate
            rate=$(json "$file" 'round(j["rps"])')
            local line
            line="round $round, $mode: $(summary "$file")"
            if [ "$mode" = nats ]; then
                nats+=("$rate")
                local accepted stored
                wait_backlog 60 || say "round $round: backlog not 0 after 60 s: $(health)"
                accepted=$(health_field accepted)
                stored=$(stream_messages)
                line+="; stream holds $stored of $accepted accepted"
                health >"$RESULTS/ingest-$round-$mode.healthz"
                stop_server
                stop_nats
            else
                plain+=("$rate")
                stop_server
            fi
            echo "$line"
        done
    done
    python3 - "${plain[*]}" "${nats[*]}" <<'EOF'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
nats = [float(x) for x in sys.argv[2].split()]
p, n = statistics.median(plain), statistics.median(nats)
print(f"median: journaled {p:.0f} deliveries/s, journaled + --nats {n:.0f} deliveries/s, ratio {n / p:.2f}"
      f" (rounds: {min(n_ / p_ for p_, n_ in zip(plain, nats)):.2f}-{max(n_ / p_ for p_, n_ in zip(plain, nats)):.2f})")
EOF
}

catchup() {
    fresh_nats
    local port=$NATS_PORT monitor=${NATS_MON##*:}
    start_server --nats "$NATS_URL"
    # A few deliveries through a live NATS first: the publisher is connected and has acked.
    load catchup-before --warmup 0s --duration 2s --rate 200
    wait_backlog 30 || die "backlog not 0 before the outage: $(health)"
    local before
    before=$(stream_messages)
    echo "before the outage: stream holds $before, /healthz $(health)"

    stop_nats
    local rate_args=() how="as fast as they go"
    if [ -n "$OUTAGE_RATE" ]; then
        rate_args=(--rate "$OUTAGE_RATE")
        how="at $OUTAGE_RATE/s"
    fi
    load catchup-outage --warmup 0s --duration 280s --requests "$OUTAGE" "${rate_args[@]}"
    local file=$RESULTS/catchup-outage.json
    echo "NATS down, posted $how: $(summary "$file")"
    echo "after the outage: /healthz $(health)"
    local files=("$JOURNAL")
    [ -e "$JOURNAL.1" ] && files+=("$JOURNAL.1")
    echo "journal: $(du -ch "${files[@]}" | tail -n 1 | cut -f 1) in ${#files[@]} file(s) (journal.jsonl and its rotated .1)"
    local backlog target
    backlog=$(health_field backlog)
    target=$((before + backlog))

    port_open "$port" && die "127.0.0.1:$port was taken during the outage"
    local start up connected='' drained='' stored=
    start=$(now)
    start_nats "$port" "$monitor"
    up=$(since "$start")
    # Polled every 0.1 s for at most 5 minutes: when NATS is ready, when the receiver sees it,
    # when its backlog is 0, when the stream holds every delivery.
    for _ in $(seq 3000); do
        local text
        text=$(health || true)
        if [ -z "$connected" ] && [[ $text == *'"connected":true'* ]]; then
            connected=$(since "$start")
        fi
        if [ -z "$drained" ] && [[ $text == *'"backlog":0,'* || $text == *'"backlog":0}'* ]]; then
            drained=$(since "$start")
        fi
        if [ -n "$drained" ]; then
            stored=$(stream_messages || true)
            [ "$stored" = "$target" ] && break
        fi
        sleep 0.1
    done
    local all
    all=$(since "$start")
    health >"$RESULTS/catchup-after.healthz"
    [ -n "$drained" ] || die "backlog not 0 after 5 minutes: $(health)"
    echo "NATS started again: ready after ${up} s, receiver connected after ${connected:-?} s, backlog 0 after ${drained} s, stream holds ${stored} of ${target} after ${all} s"
    python3 - "$backlog" "$up" "$drained" <<'EOF'
import sys
backlog, up, drained = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"catch-up: {backlog} deliveries in {drained:.2f} s from the restart: {backlog / drained:.0f}/s"
      f" ({backlog / (drained - up):.0f}/s from when NATS was ready)")
EOF
    grep -h "pipetop:" "$WORK/serve.err" | grep -i nats >"$RESULTS/catchup-serve.err" || true
    stop_server
    stop_nats
}

viewer() {
    if ! "$BIN" attach --help 2>/dev/null | grep -qi 'nats://'; then
        echo "viewer: skipped, this pipetop's attach takes no nats:// URL"
        return
    fi
    echo "viewer: not measured yet by this script"
}

case "$WHAT" in
    ingest) ingest ;;
    catchup) catchup ;;
    viewer) viewer ;;
    all)
        ingest
        catchup
        viewer
        ;;
esac
echo "raw output: $RESULTS"
