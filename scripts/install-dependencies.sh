#!/usr/bin/env bash
# Installs the Debian packages Chatterbox needs, as root or through sudo, refreshing the package
# lists first (a fresh machine's may be empty or stale). Installs nothing that is already there.
#   scripts/install-dependencies.sh           to build and run (SQLite, ncursesw, zlib headers, and
#                                             g++ for the C++ standard library that TOMLKit's
#                                             TOML parser, toml++, is compiled against)
#   scripts/install-dependencies.sh --tests   also what the tests use (tmux, openssl, a
#                                             PostgreSQL server, which scripts/postgres.sh starts,
#                                             and Chromium with its driver and selenium for the
#                                             web client's browser test)
set -euo pipefail

packages=(libsqlite3-dev libncurses-dev zlib1g-dev g++)
case "${1:-}" in
    "") ;;
    --tests) packages+=(tmux openssl postgresql chromium chromium-driver python3-selenium) ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "$0: not a Debian or Ubuntu system; install the equivalents of: ${packages[*]}" >&2
    exit 1
fi

missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    as_root() {
        if [ "$(id -u)" -eq 0 ]; then "$@"
        elif command -v sudo >/dev/null 2>&1; then sudo "$@"
        else echo "$0: installing ${missing[*]} needs root: run as root or install sudo" >&2; exit 1
        fi
    }
    echo "Installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    hint=""
    [ -x /opt/swift/usr/bin/swift ] && hint=' (it is in /opt/swift/usr/bin: export PATH="/opt/swift/usr/bin:$PATH")'
    echo "$0: the packages are installed, but swift is not on PATH$hint" >&2
    exit 1
fi
