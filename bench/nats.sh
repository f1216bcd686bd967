#!/usr/bin/env bash
# Several receivers through NATS JetStream (issue 15), against the release build on 127.0.0.1:
#   ingest   journaled ingest of `serve --nats` against the same receiver without it, in the
#            same run, alternating, ROUNDS times (as fast as it goes, CONNECTIONS connections,
#            DURATION): deliveries/s of each, and the ratio of the medians; after each --nats
#            round, the stream must hold every delivery the receiver accepted;
#   catchup  an outage of OUTAGE deliveries: NATS stopped, OUTAGE deliveries posted (every one
#            must be answered 2xx; their answer latency is the outage's, and when /healthz
#            first says connected false), NATS started again on the same port with the same
#            storage, and the time until /healthz says backlog 0 and the stream holds them all,
#            from which the catch-up rate;
#   viewer   answered -> seen by `pipetop attach --headless nats://…` at VIEWER_RATE
#            deliveries/s, journaled, on a fresh stream (so the viewer's ids, stream sequences,
#            are the receiver's delivery ids); only with a pipetop whose attach takes nats://.
# The script exits 1 if the stream ever holds fewer deliveries than were answered.
#
#   bench/nats.sh [ingest|catchup|viewer|all]
#
# Knobs (environment): ROUNDS (3), CONNECTIONS (32), DURATION (10s), OUTAGE (100000),
# OUTAGE_RATE (unset: post the outage's deliveries as fast as they go; N: at N a second),
# VIEWER_RATE (1000), ASYNC (1: the ingest rounds also run `--nats --nats-async`),
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
VIEWER_RATE=${VIEWER_RATE:-1000}
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
FAILED=
ATTACH=
WATCHER=

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
trap '[ -z "$WATCHER" ] || stop_pid "$WATCHER"; stop_attach; stop_server; stop_nats; rm -rf "$WORK"' EXIT
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

# cpu PID: CPU seconds the process has used so far (user + system).
cpu() {
    awk -v tick="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / tick }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# cores BEFORE AFTER SECONDS: CPU seconds used over SECONDS of wall time, as cores.
cores() {
    python3 -c 'import sys; b, a, t = map(float, sys.argv[1:]); print(f"{(a - b) / t:.2f} cores")' "$@"
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
    local modes=(plain nats)
    [ "${ASYNC:-0}" = 1 ] && modes+=(async)
    declare -A rates=()
    for round in $(seq "$ROUNDS"); do
        for mode in "${modes[@]}"; do
            case "$mode" in
                plain) start_server ;;
                nats)
                    fresh_nats
                    start_server --nats "$NATS_URL"
                    ;;
                async)
                    fresh_nats
                    start_server --nats "$NATS_URL" --nats-async
                    ;;
            esac
            local serve_cpu nats_cpu=0 began
            serve_cpu=$(cpu "$SERVER")
            [ "$mode" = plain ] || nats_cpu=$(cpu "$NATS_PID")
            began=$(now)
            load "ingest-$round-$mode" --warmup 1s --duration "$DURATION"
            local file=$RESULTS/ingest-$round-$mode.json line took
            took=$(since "$began")
            rates[$mode]+=" $(json "$file" 'round(j["rps"])')"
            line="round $round, $mode: $(summary "$file")"
            line+="; CPU: serve $(cores "$serve_cpu" "$(cpu "$SERVER")" "$took")"
            [ "$mode" = plain ] || line+=", nats-server $(cores "$nats_cpu" "$(cpu "$NATS_PID")" "$took")"
            if [ "$mode" != plain ]; then
                local accepted stored
                wait_backlog 60 || say "round $round: backlog not 0 after 60 s: $(health)"
                accepted=$(health_field accepted)
                stored=$(stream_messages)
                line+="; stream holds $stored of $accepted accepted"
                if [ "$stored" != "$accepted" ]; then
                    line+=" (LOST)"
                    FAILED=1
                fi
                health >"$RESULTS/ingest-$round-$mode.healthz"
                stop_server
                stop_nats
            else
                stop_server
            fi
            echo "$line"
        done
    done
    python3 - "${rates[plain]}" "${rates[nats]}" "${rates[async]:-}" <<'EOF'
import statistics, sys
names = {"nats": "--nats", "async": "--nats --nats-async"}
plain = [float(x) for x in sys.argv[1].split()]
p = statistics.median(plain)
print(f"median: journaled {p:.0f} deliveries/s")
for name, arg in zip(("nats", "async"), sys.argv[2:]):
    rates = [float(x) for x in arg.split()]
    if not rates:
        continue
    n = statistics.median(rates)
    ratios = [r / q for q, r in zip(plain, rates)]
    print(f"median: journaled {names[name]} {n:.0f} deliveries/s, ratio {n / p:.2f}"
          f" (rounds: {min(ratios):.2f}-{max(ratios):.2f})")
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

    local stopped
    stopped=$(now)
    stop_nats
    # Until the publisher finds NATS gone (an ack that does not come), answers wait for the
    # ack up to --nats-timeout; when it says so, /healthz says connected false.
    (
        for _ in $(seq 1200); do
            if [[ $(health || true) == *'"connected":false'* ]]; then
                since "$stopped" >"$WORK/down"
                break
            fi
            sleep 0.05
        done
    ) &
    WATCHER=$!
    local rate_args=() how="as fast as they go"
    if [ -n "$OUTAGE_RATE" ]; then
        rate_args=(--rate "$OUTAGE_RATE")
        how="at $OUTAGE_RATE/s"
    fi
    load catchup-outage --warmup 0s --duration 280s --requests "$OUTAGE" "${rate_args[@]}"
    local file=$RESULTS/catchup-outage.json
    echo "NATS down, posted $how: $(summary "$file")"
    wait "$WATCHER" || true
    WATCHER=
    echo "the receiver said NATS down (/healthz connected false) $(cat "$WORK/down" 2>/dev/null || echo '?') s after NATS stopped"
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
    # when its backlog is 0; then, for at most 10 s more, until the stream holds every delivery.
    local deadline=$((SECONDS + 300)) settled=
    while [ "$SECONDS" -lt "$deadline" ]; do
        local text
        text=$(health || true)
        if [ -z "$connected" ] && [[ $text == *'"connected":true'* ]]; then
            connected=$(since "$start")
        fi
        if [ -z "$drained" ] && [[ $text == *'"backlog":0,'* || $text == *'"backlog":0}'* ]]; then
            drained=$(since "$start")
            settled=$((SECONDS + 10))
        fi
        if [ -n "$drained" ]; then
            stored=$(stream_messages || true)
            if [ "$stored" = "$target" ] || [ "$SECONDS" -ge "$settled" ]; then
                break
            fi
        fi
        sleep 0.1
    done
    local all
    all=$(since "$start")
    health >"$RESULTS/catchup-after.healthz"
    [ -n "$drained" ] || die "backlog not 0 after 5 minutes: $(health)"
    echo "NATS started again: ready after ${up} s, receiver connected after ${connected:-?} s, backlog 0 after ${drained} s, stream holds ${stored} of ${target} after ${all} s"
    if [ "$stored" != "$target" ]; then
        echo "LOST: /healthz says backlog 0, but the stream holds $stored of the $target deliveries answered"
        FAILED=1
    fi
    python3 - "$backlog" "$up" "${connected:-$up}" "$drained" <<'EOF'
import sys
backlog = int(sys.argv[1])
up, connected, drained = (float(x) for x in sys.argv[2:])
print(f"catch-up: {backlog} deliveries in {drained:.2f} s from the restart: {backlog / drained:.0f}/s;"
      f" {backlog / (drained - up):.0f}/s from when NATS was ready,"
      f" {backlog / max(drained - connected, 0.01):.0f}/s from when the receiver said it connected")
EOF
    grep -h "pipetop:" "$WORK/serve.err" | grep -i nats >"$RESULTS/catchup-serve.err" || true
    stop_server
    stop_nats
}

# Reads `attach --headless` lines on stdin and writes `<id> <unix micros>` for each as it
# arrives.
STAMP='
import re, sys, time
id_of = re.compile(rb"\"id\":(\d+)")
for line in sys.stdin.buffer:
    now = time.time_ns() // 1000
    found = id_of.search(line)
    if found:
        sys.stdout.write(f"{found.group(1).decode()} {now}\n")
sys.stdout.flush()
'

viewer() {
    if ! "$BIN" attach --help 2>/dev/null | grep -q 'nats://'; then
        echo "viewer: skipped, this pipetop's attach takes no nats:// URL"
        return
    fi
    viewer_run nats
    [ "${ASYNC:-0}" = 1 ] && viewer_run async
    return 0
}

# viewer_run nats|async: one viewer run, answers waiting for the ack or not (--nats-async).
viewer_run() {
    local mode=$1 extra=()
    [ "$mode" = async ] && extra=(--nats-async)
    # A fresh stream and a fresh journal: the viewer's ids (stream sequences) are then the
    # receiver's delivery ids, which loadgen's --answers file has.
    fresh_nats
    start_server --nats "$NATS_URL" "${extra[@]}"
    rm -f "$WORK/attach.fifo"
    mkfifo "$WORK/attach.fifo"
    python3 -c "$STAMP" <"$WORK/attach.fifo" >"$RESULTS/viewer-$mode-arrivals" &
    local stamp=$!
    "$BIN" attach --headless "$NATS_URL" >"$WORK/attach.fifo" 2>"$RESULTS/viewer-$mode-attach.err" &
    ATTACH=$!
    sleep 2
    load "viewer-$mode" --rate "$VIEWER_RATE" --warmup 1s --duration 12s --answers "$RESULTS/viewer-$mode-answers"
    echo "viewer ($mode), posts at $VIEWER_RATE/s: $(summary "$RESULTS/viewer-$mode.json")"
    local accepted
    accepted=$(health_field accepted)
    for _ in $(seq 150); do
        [ "$(wc -l <"$RESULTS/viewer-$mode-arrivals")" -ge "$accepted" ] && break
        sleep 0.1
    done
    stop_attach
    wait "$stamp" || true
    python3 - "$RESULTS/viewer-$mode-answers" "$RESULTS/viewer-$mode-arrivals" <<'EOF' || FAILED=1
import sys
answers = {}
for line in open(sys.argv[1]):
    key, micros = line.split()
    answers[int(key)] = int(micros)
arrived, order = {}, []
for line in open(sys.argv[2]):
    key, micros = line.split()
    order.append(int(key))
    arrived.setdefault(int(key), int(micros))
late = sorted((arrived[key] - answers[key]) / 1000 for key in answers if key in arrived)
missing = sum(1 for key in answers if key not in arrived)
out_of_order = sum(1 for a, b in zip(order, order[1:]) if b != a + 1)
def q(share):
    return late[min(len(late) - 1, int(share * len(late)))]
print(f"answered -> seen by attach --headless nats://: p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms,"
      f" max {late[-1]:.2f} ms, min {late[0]:.2f} ms over {len(late)} deliveries"
      f" ({sum(1 for x in late if x < 0)} seen before loadgen had read their answer);"
      f" missing {missing}, repeats {len(order) - len(arrived)}, gaps or reorderings {out_of_order}")
sys.exit(1 if missing or not late else 0)
EOF
    stop_server
    stop_nats
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
[ -z "$FAILED" ]
