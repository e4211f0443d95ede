#!/usr/bin/env python3
"""Times fresh logins while users flood a server with searches (SECURITY.md, issue 21 item 1).

    scripts/login-under-search-flood.py CHATTERBOX [--messages N] [--query Q] [--attackers A]
        [--searches S] [-- SERVER-ARGUMENTS...]

Makes a store of N broadcast messages (default 200,000) in a temporary data directory, starts
`CHATTERBOX server` on it (plain TCP, 127.0.0.1, a free port), has A users (default 1) each send
S `{"SEARCH":{"QUERY":Q}}` frames in one write (default 60 of "w* w*"), then logs in 50 fresh
users one after another and prints the median, 90th percentile and longest login, and the
server's exit status after SIGTERM. Loopback only; everything stops at the end.
"""
import argparse, json, os, socket, sqlite3, statistics, struct, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("chatterbox")
parser.add_argument("--messages", type=int, default=200_000)
parser.add_argument("--query", default="w* w*")
parser.add_argument("--attackers", type=int, default=1)
parser.add_argument("--searches", type=int, default=60)
arguments = sys.argv[1:]
server_arguments = arguments[arguments.index("--") + 1:] if "--" in arguments else []
options = parser.parse_args(arguments[:arguments.index("--")] if "--" in arguments else arguments)
options.server_arguments = server_arguments


def frame(value):
    payload = json.dumps(value).encode()
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock):
    def exactly(count):
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise EOFError("closed")
            data += chunk
        return data
    return json.loads(exactly(struct.unpack(">I", exactly(4))[0]))


def start(directory):
    log = open(os.path.join(directory, "server.log"), "w")
    process = subprocess.Popen(
        [options.chatterbox, "server", "127.0.0.1", "-p", "0", "--data-dir", directory, "--plaintext",
         "--log-level", "error", "--max-connections-per-address", "0"] + options.server_arguments,
        stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = open(os.path.join(directory, "server.log")).read()
        if "Listening on 127.0.0.1 port " in text:
            return process, int(text.split("Listening on 127.0.0.1 port ")[1].split()[0])
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start: " + text)


with tempfile.TemporaryDirectory() as directory:
    process, _ = start(directory)  # creates the database
    process.terminate(); process.wait(timeout=60)
    database = sqlite3.connect(os.path.join(directory, "chatterbox.sqlite"))
    database.execute(
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content)
           SELECT i, 'user' || (i % 50), 'user' || (i % 50), 'ALL', 'all', 1700000000 + i,
                  'word' || (i % 997) || ' wonder what we want with ' || hex(randomblob(6)) || ' west wind ' || (i % 13) || ' whale'
           FROM n""", (options.messages,))
    database.commit(); database.close()

    process, port = start(directory)
    try:
        warm = socket.create_connection(("127.0.0.1", port), timeout=300)
        warm.sendall(frame({"USERNAME": "warm"})); read_frame(warm)
        warm.sendall(frame({"SEARCH": {"QUERY": "whale"}}))  # the index catches up once
        while "SEARCH" not in read_frame(warm):
            pass
        warm.close()
        attackers = []
        for index in range(options.attackers):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(frame({"USERNAME": "attacker%d" % index})
                         + b"".join(frame({"SEARCH": {"QUERY": options.query}}) for _ in range(options.searches)))
            attackers.append(sock)
        time.sleep(0.2)
        times = []
        for index in range(50):
            started = time.monotonic()
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            sock.sendall(frame({"USERNAME": "fresh%d" % index}))
            while "USERNAME_ACCEPTED" not in read_frame(sock):
                pass
            times.append(time.monotonic() - started)
            sock.close()
        for sock in attackers:
            sock.close()
    finally:
        process.terminate()
        status = process.wait(timeout=60)
    times.sort()
    print("%d x %d searches %r on %d messages: 50 fresh logins, median %.3f s, p90 %.3f s, longest %.3f s; exit status %d"
          % (options.attackers, options.searches, options.query, options.messages,
             statistics.median(times), times[44], times[-1], status))
