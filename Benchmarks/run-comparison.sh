#!/usr/bin/env bash
# Runs the scenarios of docs/PERFORMANCE.md against Chatterbox, ngIRCd and InspIRCd, side by
# side (the servers alternate within each round), and prints the medians.
#
#   Benchmarks/run-comparison.sh [ROUNDS] [RESULTS_DIR]
#
# Needs: a release build (swift build -c release --product chatterbox), ngircd and inspircd
# (apt-get install ngircd inspircd), root or CAP_SYS_NICE for --high-priority, 2+ CPUs.
# Server on CPU 0, load generator on CPU 1 (on both for scenario c), the generator at nice -10, the server at nice -20 (ahead of the generator where they share a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
results="${2:-/tmp/chatterbox-bench-results}"
bench=.build/release/chatterbox
mkdir -p "$results"
servers=(chatterbox ngircd inspircd)

run() { # name server args...  (PIN= to let the generator use both CPUs, below the server)
    local name="$1" server="$2"; shift 2
    echo "== $name $server" >&2
    timeout 900 ${PIN-taskset -c 1} "$bench" bench --high-priority --server "$server" --server-cpu 0 \
        --json "$results/$name-$server.json" "$@" 2>&1 | grep -vE '^\s+t=' | tail -3 >&2 \
        || echo "   ($name $server failed)" >&2
}

if [ -z "${SKIP_FANOUT:-}" ]; then
for round in $(seq 1 "$rounds"); do
    for server in "${servers[@]}"; do
        run "a-$round" "$server" --scenario a --seconds 10
        run "b-$round" "$server" --scenario b --seconds 10
    done
done
fi
for server in "${servers[@]}"; do
    PIN= run "c" "$server" --scenario c --seconds 3 --start-rate 4000 --client-threads 2
    run "d" "$server" --scenario d --idle-counts 1000
done
run "d10k" chatterbox --scenario d --idle-counts 10000
run "e" chatterbox --scenario e

python3 Benchmarks/summarize.py "$results"
