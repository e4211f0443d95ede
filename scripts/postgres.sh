#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and development: initdb into a directory of its own
# (as a non-root user: PostgreSQL refuses to run as root), listening on 127.0.0.1 on a free port,
# with a password (the URL carries it, as an operator's would).
#
#   scripts/postgres.sh run CMD [ARG...]   start one, run CMD with CHATTERBOX_TEST_POSTGRES set to
#                                          its URL, stop it and remove it; exits with CMD's status
#   scripts/postgres.sh start [DIR]        start one in DIR (default ./.postgres) and print its URL
#   scripts/postgres.sh stop [DIR]         stop it (the directory stays; remove it to start afresh)
#
# Needs Debian's postgresql package (scripts/install-dependencies.sh --tests installs it).
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "$0: PostgreSQL's server is not installed (apt-get install postgresql, or scripts/install-dependencies.sh --tests)" >&2
    exit 1
fi

# Runs a command as the user that owns the cluster: ourselves, or postgres when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir
    dir=$(realpath -m "$1")
    if [ -f "$dir/url" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        cat "$dir/url"; return
    fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if [ ! -d "$dir/data" ]; then
        local password
        password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
        printf '%s\n' "$password" >"$dir/password"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/password"
        as_owner "$bin/initdb" -D "$dir/data" -U chatterbox --pwfile="$dir/password" \
            --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    local port
    port=$(free_port)
    # fsync off: a throwaway test server; the tests stop it cleanly and never simulate power loss.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    local password
    password=$(cat "$dir/password")
    PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p "$port" -U chatterbox -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = 'chatterbox'" | grep -q 1 ||
        PGPASSWORD="$password" "$bin/createdb" -h 127.0.0.1 -p "$port" -U chatterbox chatterbox
    printf 'postgres://chatterbox:%s@127.0.0.1:%s/chatterbox\n' "$password" "$port" >"$dir/url"
    cat "$dir/url"
}

stop() {
    local dir
    dir=$(realpath -m "$1")
    [ -d "$dir/data" ] || return 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -f "$dir/url"
}

case "${1:-}" in
    start) start "${2:-.postgres}" ;;
    stop) stop "${2:-.postgres}" ;;
    run)
        shift
        [ "$#" -gt 0 ] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }
        dir=$(mktemp -d /tmp/chatterbox-postgres.XXXXXX)
        trap 'stop "$dir"; rm -rf "$dir"' EXIT
        CHATTERBOX_TEST_POSTGRES=$(start "$dir")
        export CHATTERBOX_TEST_POSTGRES
        echo "PostgreSQL for the tests: ${CHATTERBOX_TEST_POSTGRES%%:*}://chatterbox:…@${CHATTERBOX_TEST_POSTGRES##*@}" >&2
        status=0
        "$@" || status=$?
        exit "$status"
        ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
