#!/usr/bin/env bash
# Runs the test suite (`swift test`, arguments passed on), at most 6 tests at a time.
#
# Why the bound: Swift Testing otherwise starts every test of the suite at once. Most of them
# wait on sockets and real processes (servers, clients, PostgreSQL, Chromium), so on a 2-core
# machine the few heavy ones (file throughput, floods, kill -9, the browser) starved the rest:
# end-to-end tests whose client gives up after 30 s, bounded on purpose, failed at random
# (5 to 14 of 511 in a full run here, none when run alone). With 6 at once the same run passed
# and took less time (93 s against 110-120 s). Override with SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH.
set -euo pipefail
cd "$(dirname "$0")/.."
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-6}"
exec swift test "$@"
