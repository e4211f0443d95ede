#!/usr/bin/env bash
# Prints one of the two set-up commands in the README's first code block, without its comment:
#   scripts/readme-command.sh server   the first line (runs the server)
#   scripts/readme-command.sh tests    the second line (runs the tests)
# .ci/run runs exactly what this prints, so the README and CI cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    server) line=1 ;;
    tests) line=2 ;;
    *) echo "usage: $0 server|tests" >&2; exit 2 ;;
esac
command=$(awk '/^```/ { if (inside) exit; inside = 1; next } inside' README.md | sed -n "${line}p" | sed -E 's/[[:space:]]+#[^"]*$//')
if [ -z "$command" ]; then
    echo "$0: README.md's first code block has no line $line" >&2
    exit 1
fi
printf '%s\n' "$command"
