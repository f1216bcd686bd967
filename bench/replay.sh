#!/usr/bin/env bash
# Measures starting over a large journal (examples/replay.rs): writes LINES realistic journal
# lines (about 800 bytes each) to a temporary file, then for ROUNDS rounds times
#   parse  reading every line back into a delivery, alone, on as many parsing threads as
#          pipetop uses (one per core, at most four);
#   load   what pipetop does on start: open, read back on those threads, send onto the channel
#          from the replay thread in file order, and apply every delivery to a Monitor on the
#          consuming thread, until all are in; its line also gives the CPU time of the applying
#          thread and of all threads, which a shared machine disturbs less than the wall clock;
# and prints each round and the medians. The file is deleted at the end.
#
#   bench/replay.sh                    # 1,000,000 lines (800 MB in $TMPDIR), 3 rounds
#   LINES=100000 ROUNDS=5 bench/replay.sh
set -euo pipefail

cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
ROUNDS=${ROUNDS:-3}
JOURNAL=$(mktemp "${TMPDIR:-/tmp}/pipetop-replay-XXXXXX.jsonl")
trap 'rm -f "$JOURNAL"' EXIT

say() { printf '%s\n' "$*" >&2; }

say "building the replay example (cargo build --release --example replay) ..."
cargo build --release --example replay >&2
REPLAY=target/release/examples/replay

"$REPLAY" generate "$JOURNAL" "$LINES"
# Read the file once so every round reads it from the page cache, as a restart usually does.
cat "$JOURNAL" >/dev/null

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

parse=() load=()
for round in $(seq "$ROUNDS"); do
    p=$("$REPLAY" parse "$JOURNAL")
    l=$("$REPLAY" load "$JOURNAL")
    say "round $round: $p"
    say "round $round: $l"
    parse+=("$(sed -E 's/.*(read|applied) in ([0-9.]+) s.*/\2/' <<<"$p")")
    load+=("$(sed -E 's/.*(read|applied) in ([0-9.]+) s.*/\2/' <<<"$l")")
done
printf 'median over %s rounds, %s lines: parse %s s, load %s s\n' "$ROUNDS" "$LINES" \
    "$(printf '%s\n' "${parse[@]}" | median)" "$(printf '%s\n' "${load[@]}" | median)"
