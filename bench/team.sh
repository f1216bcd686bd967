#!/usr/bin/env bash
# Team mode (issue 14), against the release build on 127.0.0.1:
#   1. answer -> arrival in each of 100 attached viewers, at 1,000 deliveries/s, journaled;
#   2. --no-journal ingest, as fast as it goes, with 100 viewers attached and with none,
#      alternating, ROUNDS times;
#   3. RSS of `serve` with 100 viewers after 1,000,000 journaled deliveries.
# PIN=1 (ingest) runs serve and loadgen on CPU 0 and the viewers on CPU 1, in both halves of
# each round: the viewers' own reading then takes nothing from the receiver, as when they are
# on other machines, and what is left is what the fan-out costs the receiver itself.
# Every run is bounded in time and count; servers are stopped by their pid.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-3}
WHAT=${1:-all}
BIN=target/release/pipetop
LOAD=target/release/examples/loadgen
VIEW=target/release/examples/viewers
cargo build --release --quiet --bin pipetop --example loadgen --example viewers
SECRET=bench-secret
TOKEN=bench-viewer-token
WORK=$(mktemp -d)
SERVER=
ON_SERVER=()
ON_VIEWERS=()
if [ "${PIN:-0}" = 1 ]; then
    ON_SERVER=(taskset -c 0)
    ON_VIEWERS=(taskset -c 1)
fi

stop_server() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

# start_server ARGS...: `serve` on a free port; sets SERVER (pid) and BASE.
start_server() {
    local port
    port=$(free_port)
    rm -f "$WORK/journal.jsonl" "$WORK/journal.jsonl.1"
    "${ON_SERVER[@]}" "$BIN" serve --listen "127.0.0.1:$port" --secret "$SECRET" --viewer-token "$TOKEN" "$@" \
        >/dev/null 2>"$WORK/serve.err" &
    SERVER=$!
    BASE="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        grep -q "listening on" "$WORK/serve.err" 2>/dev/null && return
        sleep 0.05
    done
    echo "serve did not start" >&2
    cat "$WORK/serve.err" >&2
    exit 1
}

latency() {
    start_server --journal "$WORK/journal.jsonl"
    "$VIEW" --url "$BASE" --token "$TOKEN" --viewers 100 --duration 20s --answers "$WORK/answers" &
    local viewers=$!
    sleep 3
    "$LOAD" --url "$BASE/webhook" --secret "$SECRET" --connections 32 --rate 1000 \
        --warmup 1s --duration 12s --answers "$WORK/answers" | tail -n 3
    wait "$viewers"
    stop_server
}

ingest() {
    for round in $(seq "$ROUNDS"); do
        for viewers in 0 100; do
            start_server --no-journal
            local holder=
            if [ "$viewers" -gt 0 ]; then
                "${ON_VIEWERS[@]}" "$VIEW" --url "$BASE" --token "$TOKEN" --viewers "$viewers" --duration 16s \
                    >"$WORK/view.out" &
                holder=$!
                sleep 2
            fi
            local rate
            rate=$("${ON_SERVER[@]}" "$LOAD" --url "$BASE/webhook" --secret "$SECRET" --connections 32 \
                --warmup 1s --duration 10s --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rps"]))')
            echo "round $round, $viewers viewers: $rate req/s"
            if [ -n "$holder" ]; then
                wait "$holder"
                cat "$WORK/view.out"
            fi
            stop_server
        done
    done
}

memory() {
    # A million distinct timestamps need a window wider than the default tolerance.
    start_server --journal "$WORK/journal.jsonl" --tolerance 40m
    "$VIEW" --url "$BASE" --token "$TOKEN" --viewers 100 --duration 295s >"$WORK/view.out" &
    local viewers=$!
    sleep 3
    "$LOAD" --url "$BASE/webhook" --secret "$SECRET" --connections 32 --warmup 0s \
        --backdate 30m --duration 285s --requests 1000000 | tail -n 3 || true
    curl -s "$BASE/healthz"
    echo
    grep -E "VmRSS|VmHWM" "/proc/$SERVER/status"
    kill "$viewers" 2>/dev/null || true
    wait "$viewers" 2>/dev/null || true
    stop_server
}

case "$WHAT" in
    latency) latency ;;
    ingest) ingest ;;
    memory) memory ;;
    all) latency; ingest; memory ;;
esac
