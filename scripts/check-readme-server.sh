#!/usr/bin/env bash
# Runs the README's server command exactly as a newcomer copies it, waits until it is ready,
# connects the README's client command to it (as a bot: -u, --json), checks that a message goes
# through, then stops the server with SIGTERM and expects a clean exit. Used by .ci/run.
#   scripts/check-readme-server.sh [BUILD_TIMEOUT_SECONDS]   (default 3600: the first release build is long)
set -euo pipefail
cd "$(dirname "$0")/.."
build_timeout="${1:-3600}"

server_command=$(scripts/readme-command.sh server)
# The client command: the first line of the README's "Connect a client" block.
client_command=$(awk '/^## Connect a client/ { section = 1 } section && /^```/ { if (inside) exit; inside = 1; next } section && inside' README.md | head -n 1)
[ -n "$client_command" ] || { echo "README.md has no client command under '## Connect a client'" >&2; exit 1; }

log=$(mktemp)
client_output=$(mktemp)
echo "+ $server_command"
# A session of its own, so that everything it started can be stopped together.
setsid bash -c "$server_command" >"$log" 2>&1 &
group=$!
stop_all() { kill -KILL -- "-$group" 2>/dev/null || true; }
trap stop_all EXIT

start=$SECONDS
until grep -q "Listening on" "$log"; do
    if ! kill -0 "$group" 2>/dev/null; then
        echo "The server command ended before it was ready:" >&2; cat "$log" >&2; exit 1
    fi
    if [ $((SECONDS - start)) -ge "$build_timeout" ]; then
        echo "The server was not ready after $build_timeout s:" >&2; tail -n 20 "$log" >&2; exit 1
    fi
    sleep 2
done
echo "Server ready after $((SECONDS - start)) s (build included):"
grep -v '^\[' "$log" | grep -v -i -E '^(Building|Build of product|Compiling|Write|Emitting|Linking|Build complete|Fetching|Computing|Creating)' || true

echo "+ $client_command -u readme-check --json"
# The client's input stays open until the message has come back (or 300 s), then ends.
input="$log.input"
mkfifo "$input"
bash -c "$client_command -u readme-check --json" <"$input" >"$client_output" 2>&1 &
client=$!
exec 3>"$input"
printf 'hello from the README check\n' >&3
start=$SECONDS
until grep -q '"event":"message".*hello from the README check' "$client_output"; do
    if ! kill -0 "$client" 2>/dev/null || [ $((SECONDS - start)) -ge 300 ]; then
        exec 3>&-
        echo "The README's client command did not chat with the server:" >&2; cat "$client_output" >&2; exit 1
    fi
    sleep 1
done
exec 3>&-
wait "$client" || { echo "The client exited with status $? at the end of its input:" >&2; cat "$client_output" >&2; exit 1; }
rm -f "$input"
echo "The client logged in and its message came back."

server=$(pgrep -g "$group" -f 'chatterbox server' | head -n 1)
[ -n "$server" ] || { echo "No chatterbox server process in the command's group" >&2; exit 1; }
kill -TERM "$server"
status=0
wait "$group" || status=$?
trap - EXIT
stop_all
if [ "$status" -ne 0 ]; then
    echo "The server exited with status $status after SIGTERM:" >&2; tail -n 20 "$log" >&2; exit 1
fi
echo "The server stopped cleanly on SIGTERM."
rm -f "$log" "$client_output"
