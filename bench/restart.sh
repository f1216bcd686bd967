#!/usr/bin/env bash
# Start over a journal (issue 5's last row; needs the journal from the durable-history issue):
# how long until the restarted receiver answers GET /healthz, and until the TUI has drawn a frame
# showing the journal's last delivery.
#
#   JOURNAL=1 EVENTS=1000000 bench/memory.sh         # writes target/bench-results/<…>-memory/journal.jsonl
#   bench/restart.sh target/bench-results/<…>-memory/journal.jsonl
#
# The last delivery id is taken as the journal's line count unless LAST_ID is set. Frames are
# observed through PIPETOP_FRAME_LOG, as in bench/tui.sh.
set -euo pipefail

cd "$(dirname "$0")/.."

JOURNAL_FILE=${1:?usage: bench/restart.sh JOURNAL_FILE}
PORT=${PORT:-18792}
LAST_ID=${LAST_ID:-$(wc -l <"$JOURNAL_FILE")}
SESSION=pipetop-replay-$$
tmux() { command tmux -L "$SESSION" "$@"; }
RESULTS=$PWD/target/bench-results/$(date +%Y%m%d-%H%M%S)-replay
mkdir -p "$RESULTS"
FRAMES=$RESULTS/frames.log
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true' EXIT

cargo build --release --quiet --bin pipetop
now_us() { date +%s%6N; }
start=$(now_us)
tmux new-session -d -s "$SESSION" -x 120 -y 36 \
    "exec env PIPETOP_FRAME_LOG='$FRAMES' '$PWD/target/release/pipetop' --listen 127.0.0.1:$PORT \
        --secret pipetop-bench-secret --journal '$JOURNAL_FILE' 2>'$RESULTS/stderr.log'"
until curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.005; done
answering=$(now_us)
until [[ -s $FRAMES ]] && awk -v id="$LAST_ID" '$2 >= id { found = 1 } END { exit !found }' "$FRAMES"; do
    sleep 0.02
done
shown=$(awk -v id="$LAST_ID" '$2 >= id { print $1; exit }' "$FRAMES")
awk -v s="$start" -v a="$answering" -v f="$shown" -v n="$LAST_ID" 'BEGIN {
    printf "replay of %d deliveries: /healthz answered after %.1f ms; delivery %d on screen after %.1f ms\n",
        n, (a - s) / 1000, n, (f - s) / 1000 }'
