#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs them.
#   ./fuzz.sh             replay the regression cases, then fuzz each target for 60 s (CI)
#   ./fuzz.sh 3600        fuzz each target for an hour
#   ./fuzz.sh 0           only replay the regression cases
# Findings land in FuzzTesting/Findings/; copy each into FailCases/<Target>/ with a
# regression test in Tests/ChatProtocolTests once fixed.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-60}"
targets=(FrameDecoder FrameParser)

# --sanitize=fuzzer instruments only this package's own targets for coverage; without
# coverage of the protocol library libFuzzer mutates blind. Every Swift module gets
# libFuzzer's counters this way (not "edge" alone: that means trace-pc-guard, which
# today's libFuzzer refuses).
flags=(-c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize-coverage=bb,inline-8bit-counters,pc-table,trace-cmp)
swift build "${flags[@]}"
bin="$(swift build "${flags[@]}" --show-bin-path)"

mkdir -p Findings
for target in "${targets[@]}"; do
    cases=(FailCases/"$target"/*)
    if [ -e "${cases[0]}" ]; then
        echo "== $target: replaying ${#cases[@]} regression cases"
        "$bin/Fuzz$target" "${cases[@]}"
    fi
    if [ "$seconds" -gt 0 ]; then
        echo "== $target: fuzzing for $seconds s"
        work="$(mktemp -d)"
        cp Corpus/"$target"/* "$work"/
        "$bin/Fuzz$target" "$work" -dict=json.dict -max_len=8192 -timeout=5 -rss_limit_mb=2048 \
            -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=Findings/"$target"- 2>&1 \
            | grep -E "^#|stat::|ERROR|SUMMARY|Done" | tail -n 12
        if ls Findings/"$target"-* >/dev/null 2>&1; then
            echo "== $target: findings in FuzzTesting/Findings" >&2
            exit 1
        fi
        rm -rf "$work"
    fi
done
