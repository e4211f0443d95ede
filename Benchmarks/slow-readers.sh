#!/usr/bin/env bash
# Issue 21 (2), measured at its size: readers that log in and never read, beside senders of
# 60 KB broadcasts at the allowed rate (10 messages/s each), with and without the global
# budget for queued bytes. Prints, for each run, the measured clients' latency and the
# server's RSS at the end and at its peak (SECURITY.md quotes the figures).
#
#   Benchmarks/slow-readers.sh [STALLED] [BUDGET_BYTES] [SECONDS] [ROUNDS] [RESULTS_DIR]
#
# Defaults: 1,000 stalled readers, a budget of 256 MiB, 20 s measured, 2 rounds. Each round
# runs, side by side: no stalled readers (the baseline), the stalled readers with the budget,
# and 200 stalled readers (the issue's figure) with a budget too large to matter (64 GiB: only
# the per-connection cap of 8 MiB applies, as before the budget existed; 1,000 of them would
# take 10 GB). No warm-up: the window opens with the first broadcast, which the stalled readers
# receive too. 20 measured clients; server on CPU 0, the Swift load generator on CPU 1, both
# ahead of other work (--high-priority: root or CAP_SYS_NICE). Needs a release build:
# swift build -c release --product chatterbox.
set -euo pipefail
cd "$(dirname "$0")/.."
stalled="${1:-1000}"
budget="${2:-268435456}"
seconds="${3:-20}"
rounds="${4:-2}"
results="${5:-/tmp/chatterbox-slow-readers}"
bench=.build/release/chatterbox
mkdir -p "$results"
common=(--server chatterbox --server-cpu 0 --clients 20 --senders 5 --rate 50 --content-length 60000 --seconds "$seconds" --warmup 0)
run() {
    local name="$1" count="$2" total="$3"
    echo "== $name (stalled $count, --max-queued-bytes-total $total)"
    # setsid: a session of its own, whose autogroup --high-priority raises (see bench --help)
    setsid -w taskset -c 1 "$bench" bench --high-priority "${common[@]}" --stalled-clients "$count" \
        --server-arguments "--max-connections-per-address 0 --max-queued-bytes-total $total" \
        --json "$results/$name.json" 2>"$results/$name.log" | tail -1
}
for round in $(seq 1 "$rounds"); do
    run "baseline-$round" 0 "$budget"
    run "budget-$round" "$stalled" "$budget"
    run "no-budget-$round" 200 68719476736
done
