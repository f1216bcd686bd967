#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real program: pipetop --demo runs in tmux at 120x36,
# keys are sent as a user would type them, and each screen is captured with its colours and
# rendered to PNG (tmux → ANSI → SVG with Python's rich → PNG with rsvg-convert).
#
# Needs: tmux, python3 with rich (pip install rich), rsvg-convert (Debian: librsvg2-bin) and a
# monospace font with CJK glyphs (Debian: fonts-noto-cjk). With nats-server (Debian's package)
# it also shoots a screen attached to the NATS stream a demo receiver publishes to.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in tmux python3 rsvg-convert; do
  command -v "$tool" >/dev/null || { echo "screenshots.sh: $tool is not installed" >&2; exit 1; }
done
python3 -c 'import rich' 2>/dev/null || { echo "screenshots.sh: python3 -m pip install rich" >&2; exit 1; }

cargo build --release --quiet
session="pipetop-screenshots-$$"
out=screenshots
work=$(mktemp -d)
pids=()
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"

tmux new-session -d -s "$session" -x 120 -y 36 \
  "env -u NO_COLOR TERM=xterm-256color target/release/pipetop --demo --no-journal --listen 127.0.0.1:0"

shot() {
  local name=$1
  sleep 0.4
  tmux capture-pane -e -p -t "$session" > "$work/$name.ansi"
  python3 scripts/ansi_to_svg.py "$work/$name.ansi" "$work/$name.svg" "pipetop — $name"
  rsvg-convert --zoom 1.5 -o "$out/$name.png" "$work/$name.svg"
  echo "wrote $out/$name.png"
}

# One key at a time: an Escape followed at once by another key reads as Alt+key.
keys() {
  for key in "$@"; do
    tmux send-keys -t "$session" "$key"
    sleep 0.2
  done
}

# Waits until the demo has run for $1 seconds, so a shot catches a build at the same point.
started=$(date +%s.%N)
at() {
  python3 -c "import time,sys; time.sleep(max(0.0, $started + $1 - time.time()))"
}
# The demo replays each pipeline's earlier builds at once, then starts live builds: at 9 s
# payment-service #88 runs after #87 failed, and every row has its history strip.
at 9
shot overview
keys 1 Enter Enter
shot failures-detail
keys Escape Escape 0
# web-frontend's e2e-firefox fails at 14.5 s, is re-run at 15.5 s and passes at 17.5 s.
keys /
tmux send-keys -t "$session" -l 'web-frontend'
keys Enter Enter j j j j Enter
at 16.3
shot retry
at 18.5
shot flaky
keys Escape Escape Escape Escape
# Failed first: the red pipelines lead.
keys S
shot failed-first
keys S S S
# n: the next failed job, opened, with what changed since its pipeline last passed.
keys n
shot next-failure
keys Escape Escape '?'
shot help
keys Escape /
tmux send-keys -t "$session" -l 'release'
shot search
keys Enter Escape
tmux resize-window -t "$session" -x 80 -y 24
keys '?'
shot help-80x24
keys Escape q

# A screen attached to the stream: a demo receiver publishes to its own nats-server (free
# port, storage in the work directory), and `pipetop attach nats://…` reads it back.
nats=$(PATH="$PATH:/usr/sbin" command -v nats-server || true)
if [ -z "$nats" ]; then
  echo "screenshots.sh: no nats-server, so no attached-nats.png" >&2
  exit 0
fi
sleep 0.5
"$nats" -js -a 127.0.0.1 -p -1 -sd "$work/nats" --ports_file_dir "$work" >"$work/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ports=$(cat "$work"/nats-server_*.ports 2>/dev/null || true)
  [ -n "$ports" ] && break
  sleep 0.1
done
url=$(sed -E 's/.*"(nats:\/\/[^"]+)".*/\1/' <<<"$ports")
target/release/pipetop --demo --headless --journal "$work/demo.jsonl" --listen 127.0.0.1:0 \
  --nats "$url" >/dev/null 2>"$work/demo.err" &
pids+=($!)
tmux new-session -d -s "$session" -x 120 -y 36 \
  "env -u NO_COLOR TERM=xterm-256color target/release/pipetop attach $url"
started=$(date +%s.%N)
at 9
shot attached-nats
keys q
