#!/usr/bin/env bash
# Runs the scenarios of docs/PERFORMANCE.md against Chatterbox, ngIRCd and InspIRCd, side by
# side (the servers alternate within each round), and prints the medians.
#
#   Benchmarks/run-comparison.sh [--swift-generator] [--both-generators] [ROUNDS] [RESULTS_DIR]
#   AB="before=/path/to/old/chatterbox after=.build/release/chatterbox" Benchmarks/run-comparison.sh 3 DIR
#       compares builds of Chatterbox instead (alternating within each round, every scenario),
#       labelled by the names given; ngIRCd and InspIRCd are not needed then.
#
# Needs: a release build (swift build -c release --product chatterbox), ngircd and inspircd
# (apt-get install ngircd inspircd), root or CAP_SYS_NICE for --high-priority, 2+ CPUs, and for
# scenario c the C load generator (make -C Benchmarks/loadgen: gcc, make, libssl-dev).
# Server on CPU 0, load generator on CPU 1, the generator at nice -10, the server at nice -20.
# Scenarios a, b and c use the C generator (Benchmarks/loadgen), one core of which offers several
# times what the Swift one can; --swift-generator falls back to the Swift generator on both CPUs
# (below the server's priority), --both-generators runs c with each, for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
c_generators=(c)
while [ $# -gt 0 ]; do
    case "$1" in
        --swift-generator) c_generators=(swift); shift ;;
        --both-generators) c_generators=(c swift); shift ;;
        *) break ;;
    esac
done
rounds="${1:-3}"
results="${2:-/tmp/chatterbox-bench-results}"
bench=.build/release/chatterbox
if [[ " ${c_generators[*]} " == *" c "* ]] && [ -z "${SKIP_C:-}" ]; then
    make -s -C Benchmarks/loadgen || { echo "cannot build Benchmarks/loadgen (apt-get install gcc make libssl-dev), or run with --swift-generator" >&2; exit 1; }
fi
fanout_generator=(--generator c --generator-cpus 1)
[ "${c_generators[*]}" = swift ] && fanout_generator=()
mkdir -p "$results"
servers=(chatterbox ngircd inspircd)
declare -A builds=()
if [ -n "${AB:-}" ]; then
    servers=()
    for entry in $AB; do
        servers+=("${entry%%=*}")
        builds["${entry%%=*}"]="${entry#*=}"
    done
fi
chatterboxes=(chatterbox)
[ -n "${AB:-}" ] && chatterboxes=("${servers[@]}")

run() { # name server args...  (PIN= to let the generator use both CPUs, below the server)
    local name="$1" server="$2"; shift 2
    # In AB mode "server" names a build: its own bench starts its own server.
    local binary="$bench" target="$server"
    if [ -n "${builds[$server]:-}" ]; then binary="${builds[$server]}"; target=chatterbox; fi
    echo "== $name $server" >&2
    # setsid: a session of its own, whose autogroup --high-priority raises (see bench --help)
    setsid -w timeout 900 ${PIN-taskset -c 1} "$binary" bench --high-priority --server "$target" --server-cpu 0 \
        --json "$results/$name-$server.json" "$@" 2>&1 | grep -vE '^\s+t=' | tail -3 >&2 \
        || echo "   ($name $server failed)" >&2
}

# SKIP_FANOUT=1 skips a and b, SKIP_C=1 skips c, ONLY_C=1 runs c alone.
[ -n "${ONLY_C:-}" ] && SKIP_FANOUT=1
if [ -z "${SKIP_FANOUT:-}" ]; then
for round in $(seq 1 "$rounds"); do
    for server in "${servers[@]}"; do
        # The C generator here too unless --swift-generator: the Swift one's own delay (about
        # 5 ms to read 100 deliveries per message) would set every server's latency.
        run "a-$round" "$server" --scenario a --seconds 10 "${fanout_generator[@]}"
        run "b-$round" "$server" --scenario b --seconds 10 "${fanout_generator[@]}"
        # The same load with the senders spread over each interval (C generator only).
        [ ${#fanout_generator[@]} -gt 0 ] && run "as-$round" "$server" --scenario a --seconds 10 --stagger "${fanout_generator[@]}"
    done
done
fi
if [ -z "${SKIP_C:-}" ]; then
for round in $(seq 1 "$rounds"); do
    for server in "${servers[@]}"; do
        for generator in "${c_generators[@]}"; do
            if [ "$generator" = c ]; then
                run "c-$round" "$server" --scenario c --seconds 3 --start-rate 4000 --generator c --generator-cpus 1
            else  # the Swift generator needs both CPUs (two event loops) to come near the servers
                PIN= run "cswift-$round" "$server" --scenario c --seconds 3 --start-rate 4000 --client-threads 2
            fi
        done
    done
done
fi
if [ -z "${ONLY_C:-}" ]; then
# Memory and the login storm once per server; per round when comparing builds.
memory_rounds=1
[ -n "${AB:-}" ] && memory_rounds="$rounds"
for round in $(seq 1 "$memory_rounds"); do
    for server in "${servers[@]}"; do
        run "d-$round" "$server" --scenario d --idle-counts 1000
    done
    for server in "${chatterboxes[@]}"; do
        run "d10k-$round" "$server" --scenario d --idle-counts 10000
        run "e-$round" "$server" --scenario e
    done
done
fi

SERVERS="${servers[*]}" python3 Benchmarks/summarize.py "$results"
