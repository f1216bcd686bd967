#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real program: pipetop --demo runs in tmux at 120x36,
# keys are sent as a user would type them, and each screen is captured with its colours and
# rendered to PNG (tmux → ANSI → SVG with Python's rich → PNG with rsvg-convert).
#
# Needs: tmux, python3 with rich (pip install rich), rsvg-convert (Debian: librsvg2-bin) and a
# monospace font with CJK glyphs (Debian: fonts-noto-cjk).
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
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
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

# The demo replays one finished build per pipeline at once, then starts live builds.
sleep 9
shot overview

keys 1 Enter Enter
shot failures-detail

keys Escape Escape 0 '?'
shot help

keys Escape /
tmux send-keys -t "$session" -l 'release'
shot search

keys Enter q
