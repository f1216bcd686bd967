#!/usr/bin/env bash
# Measures the real TUI: pipetop runs in a detached tmux session (a real pseudo-terminal, with
# tmux drawing it as a terminal would), fed by the load generator over loopback. Each mode is
# one row of the issue-5 table in BENCHMARKS.md.
#
#   bench/tui.sh idle      # 40 pipelines on a 120×60 screen, no traffic: CPU over IDLE_SECS (60)
#   bench/tui.sh burst     # 50,000 events as fast as they come: lag of the last frame, frame spacing
#   bench/tui.sh visible   # 1,000 events/s for 20 s: POST answered → on screen, p50/p99/max
#   bench/tui.sh memory    # 1,000,000 events over 10,000 pipelines: RSS afterwards
#
# Frames are observed through PIPETOP_FRAME_LOG (one line per frame flushed to the terminal:
# `<unix micros flushed> <highest delivery id applied> <unix micros started>`) and answers through loadgen's --answers
# (`<delivery id> <unix micros the answer was read>`). Raw files stay in
# target/bench-results/<date-time>-tui-<mode>/.
#
# Knobs (environment): PORT (a free port the OS picks), IDLE_SECS (60), BURST (50000), RATE (1000),
# VISIBLE_SECS (20), EVENTS (1000000), PIPELINES (10000, memory mode).
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

MODE=${1:-}
PORT=${PORT:-$(free_port)}
IDLE_SECS=${IDLE_SECS:-60}
BURST=${BURST:-50000}
RATE=${RATE:-1000}
VISIBLE_SECS=${VISIBLE_SECS:-20}
EVENTS=${EVENTS:-1000000}
PIPELINES=${PIPELINES:-10000}
SECRET=pipetop-bench-secret
SESSION=pipetop-bench-$$
# A tmux server of its own, so nothing else using tmux on the machine can stop the run.
tmux() { command tmux -L "$SESSION" "$@"; }

say() { printf '%s\n' "$*" >&2; }
die() { say "tui.sh: $*"; exit 1; }

case $MODE in
idle | burst | visible | memory) ;;
*) die "usage: bench/tui.sh idle|burst|visible|memory" ;;
esac
command -v tmux >/dev/null || die "needs tmux"

RESULTS=$PWD/target/bench-results/$(date +%Y%m%d-%H%M%S)-tui-$MODE
mkdir -p "$RESULTS"
FRAMES=$RESULTS/frames.log
ANSWERS=$RESULTS/answers.log

say "building release binaries (cargo build --release) ..."
cargo build --release --quiet --example loadgen --bin pipetop

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_open "$PORT" && die "127.0.0.1:$PORT is already in use; set PORT"

PID=
stop() {
    tmux kill-session -t "$SESSION" 2>/dev/null || true
}
trap stop EXIT

# start COLS ROWS: pipetop's TUI in a detached tmux session of that size; sets PID.
start() {
    tmux new-session -d -s "$SESSION" -x "$1" -y "$2" \
        "exec env PIPETOP_FRAME_LOG='$FRAMES' '$PWD/target/release/pipetop' \
            --listen 127.0.0.1:$PORT --secret $SECRET --tolerance 1h --no-journal \
            2>'$RESULTS/stderr.log'"
    PID=$(tmux list-panes -t "$SESSION" -F '#{pane_pid}')
    for _ in $(seq 100); do
        port_open "$PORT" && return 0
        kill -0 "$PID" 2>/dev/null || die "pipetop exited at start: $(head -c 300 "$RESULTS/stderr.log")"
        sleep 0.1
    done
    die "pipetop did not listen on 127.0.0.1:$PORT within 10s"
}

loadgen() {
    target/release/examples/loadgen --url "http://127.0.0.1:$PORT/webhook" --secret "$SECRET" \
        --backdate 55m "$@" >"$RESULTS/loadgen.txt" || die "the load run failed: $(cat "$RESULTS/loadgen.txt")"
    cat "$RESULTS/loadgen.txt" >&2
}

# cpu_ticks: utime + stime of pipetop, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

rss() { awk -v want="$1:" '$1 == want { printf "%.1f MiB", $2 / 1024 }' "/proc/$PID/status"; }

case $MODE in
idle)
    start 120 60
    loadgen --pipelines 40 --requests 400 --rate 100 --connections 4 --warmup 0s --duration 30s
    sleep 2
    frames_before=$(wc -l <"$FRAMES")
    before=$(cpu_ticks)
    say "idle for ${IDLE_SECS}s ..."
    sleep "$IDLE_SECS"
    after=$(cpu_ticks)
    frames_after=$(wc -l <"$FRAMES")
    hz=$(getconf CLK_TCK)
    awk -v t=$((after - before)) -v hz="$hz" -v s="$IDLE_SECS" -v f=$((frames_after - frames_before)) \
        'BEGIN { printf "idle: %d ticks (%.2f s CPU) in %d s = %.3f %% of one core; %d frames drawn\n",
                 t, t / hz, s, 100 * t / hz / s, f }'
    ;;
burst)
    start 120 36
    loadgen --requests "$BURST" --connections 32 --warmup 0s --duration 60s --answers "$ANSWERS"
    sleep 2
    # The last answer, the first frame showing the last delivery, and the closest two frames:
    # by start (what the loop spaces) and by flush (which also moves with each frame's draw time).
    awk 'NR == FNR { if ($2 > last_at) last_at = $2; if ($1 > last_id) last_id = $1; next }
         { n++
           if (n > 1 && (n == 2 || $3 - prev_start < start_gap)) start_gap = $3 - prev_start
           if (n > 1 && (n == 2 || $1 - prev < gap)) gap = $1 - prev
           prev = $1; prev_start = $3
           if (!shown && $2 >= last_id) shown = $1 }
         END { printf "burst: %d answered; last answer → frame showing it: %.1f ms; %d frames, closest two started %.1f ms apart (flushed %.1f ms apart)\n",
               last_id, (shown - last_at) / 1000, n, start_gap / 1000, gap / 1000 }' "$ANSWERS" "$FRAMES"
    ;;
visible)
    start 120 36
    loadgen --rate "$RATE" --connections 32 --warmup 1s --duration "${VISIBLE_SECS}s" --answers "$ANSWERS"
    sleep 1
    # For each delivery in id order, the first frame whose highest id reaches it (frames are in
    # time order and their ids never decrease); a frame drawn before the answer was read counts
    # as 0: the delivery was on screen when its sender heard back.
    awk 'NR == FNR { t[NR] = $1; h[NR] = $2; frames = NR; next }
         { while (i < frames && h[i + 1] < $1) i++
           if (i < frames) { d = t[i + 1] - $2; print (d > 0 ? d : 0) } else missing++ }
         END { if (missing) printf "visible: %d deliveries never reached a frame\n", missing > "/dev/stderr" }' \
        "$FRAMES" "$ANSWERS" | sort -n >"$RESULTS/visible-us.txt"
    awk '{ v[NR] = $1 } END {
            printf "visible: %d deliveries at %s/s; answer → on screen p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                NR, rate, v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000, v[NR] / 1000 }' \
        rate="$RATE" "$RESULTS/visible-us.txt"
    ;;
memory)
    start 120 36
    loadgen --requests "$EVENTS" --pipelines "$PIPELINES" --connections 32 --warmup 0s --duration 4m
    sleep 1
    say "memory: TUI after $EVENTS events over $PIPELINES pipelines: VmRSS $(rss VmRSS), peak VmHWM $(rss VmHWM)"
    ;;
esac
say "raw results in $RESULTS"
