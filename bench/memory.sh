#!/usr/bin/env bash
# Memory of the headless receiver after EVENTS (1,000,000) accepted events from PIPELINES
# (10,000) pipelines in one process: VmRSS and the peak VmHWM from /proc. The TUI's row is
# `bench/tui.sh memory`. Raw output in target/bench-results/<date-time>-memory/.
#
#   bench/memory.sh                     # --no-journal
#   JOURNAL=1 bench/memory.sh           # with the journal (once it exists), written to the results dir
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

PORT=${PORT:-$(free_port)}
EVENTS=${EVENTS:-1000000}
PIPELINES=${PIPELINES:-10000}
JOURNAL=${JOURNAL:-}
SECRET=pipetop-bench-secret

say() { printf '%s\n' "$*" >&2; }
die() { say "memory.sh: $*"; exit 1; }

RESULTS=target/bench-results/$(date +%Y%m%d-%H%M%S)-memory
mkdir -p "$RESULTS"

say "building release binaries (cargo build --release) ..."
cargo build --release --quiet --example loadgen --bin pipetop

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_open "$PORT" && die "127.0.0.1:$PORT is already in use; set PORT"

storage=(--no-journal)
[[ -n $JOURNAL ]] && storage=(--journal "$RESULTS/journal.jsonl")
target/release/pipetop --headless --listen "127.0.0.1:$PORT" --secret "$SECRET" --tolerance 1h \
    "${storage[@]}" >/dev/null 2>"$RESULTS/stderr.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    port_open "$PORT" && break
    kill -0 "$PID" 2>/dev/null || die "pipetop exited at start: $(head -c 300 "$RESULTS/stderr.log")"
    sleep 0.1
done

target/release/examples/loadgen --url "http://127.0.0.1:$PORT/webhook" --secret "$SECRET" \
    --backdate 55m --requests "$EVENTS" --pipelines "$PIPELINES" --connections 32 \
    --warmup 0s --duration 4m | tee "$RESULTS/loadgen.txt" >&2
sleep 1
rss() { awk -v want="$1:" '$1 == want { printf "%.1f MiB", $2 / 1024 }' "/proc/$PID/status"; }
say "memory: headless (${storage[*]}) after $EVENTS events over $PIPELINES pipelines: VmRSS $(rss VmRSS), peak VmHWM $(rss VmHWM)"
