#!/usr/bin/env python3
"""Measures a Chatterbox cluster on PostgreSQL with 1, 2 and 3 nodes (docs/SCALING.md).

    Benchmarks/cluster-bench.py [--nodes 1,2,3] [--clients 300] [--senders 30] [--rate 300]
                                [--seconds 10] [--rounds 3] [--binary .build/release/chatterbox]

For each node count and round: a fresh database on a throwaway PostgreSQL (scripts/postgres.sh),
that many `chatterbox server --store postgres://... --node nK` processes on 127.0.0.1 (the first
generates the certificate, the others serve the same one), and the C load generator
(Benchmarks/loadgen, built with make if needed) spreading its clients over the nodes (client i
on node i mod N), every message a broadcast. Prints, per node count, the medians over rounds of:
deliveries per second, latency p50/p99, lost/duplicated/out-of-order deliveries, the CPU seconds
of all nodes together and of PostgreSQL (every process of its cluster) per million deliveries.

Needs: a release build (swift build -c release --product chatterbox), PostgreSQL's server
(scripts/install-dependencies.sh --tests), gcc, make and libssl-dev for the generator.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process and its reaped children, in seconds (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / TICKS
    except OSError:
        return 0.0


def postgres_pids(data_dir):
    """The postmaster of `data_dir` and all its children (backends, walwriter, ...)."""
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def psql(url, sql):
    pg_bin = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
    psql_path = f"/usr/lib/postgresql/{pg_bin}/bin/psql"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run([psql_path, admin, "-qAt", "-c", sql], check=True, stdout=subprocess.DEVNULL)


def wait_listening(port, process, log, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            sys.exit(f"a node exited ({process.returncode}):\n" + open(log).read())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("a node did not listen within 60 s:\n" + open(log).read())


def run_once(args, nodes, url, work, pg_dir):
    database = f"bench_{nodes}_{int(time.time() * 1000)}"
    psql(url, f"CREATE DATABASE {database}")
    store = url.rsplit("/", 1)[0] + "/" + database
    processes, ports = [], []
    try:
        first_dir = None
        for index in range(1, nodes + 1):
            directory = os.path.join(work, f"{database}-n{index}")
            os.makedirs(directory)
            port = free_port()
            command = [args.binary, "server", "127.0.0.1", "-p", str(port), "--data-dir", directory, "--init",
                       "--store", store, "--node", f"n{index}", "--no-limits", "--log-level", "error"]
            if first_dir:
                command += ["--cert", os.path.join(first_dir, "server.crt"), "--key", os.path.join(first_dir, "server.key")]
            log = os.path.join(directory, "server.log")
            process = subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
            processes.append(process)
            wait_listening(port, process, log)
            ports.append(port)
            first_dir = first_dir or directory
        pg = postgres_pids(pg_dir)
        node_cpu = [cpu_seconds(p.pid) for p in processes]
        pg_cpu = sum(cpu_seconds(p) for p in pg)
        generator = [os.path.join(ROOT, "Benchmarks/loadgen/loadgen"), "--port", ",".join(map(str, ports)),
                     "--ca", os.path.join(first_dir, "ca.crt"), "--clients", str(args.clients), "--senders", str(args.senders),
                     "--rate", str(args.rate), "--seconds", str(args.seconds), "--threads", "1", "--quiet"]
        started = time.monotonic()
        result = subprocess.run(generator, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            sys.exit("loadgen failed:\n" + result.stderr)
        summary = json.loads(result.stdout)
        node_cpu = sum(cpu_seconds(p.pid) for p in processes) - sum(node_cpu)
        pg_cpu = sum(cpu_seconds(p) for p in postgres_pids(pg_dir)) - pg_cpu
        deliveries = max(1, summary["deliveries"])
        return {
            "deliveries_per_second": summary["deliveries_per_second"],
            "p50": summary["latency_ms"]["p50"],
            "p99": summary["latency_ms"]["p99"],
            "lost": summary["lost"],
            "duplicates": summary["duplicates"],
            "out_of_order": summary["out_of_order"],
            "node_cpu_per_million": node_cpu / deliveries * 1e6,
            "pg_cpu_per_million": pg_cpu / deliveries * 1e6,
            "run_seconds": elapsed,
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        psql(url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--senders", type=int, default=30)
    parser.add_argument("--rate", type=float, default=300, help="broadcasts per second, all senders together")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/chatterbox"))
    parser.add_argument("--json", help="write every run's figures to this file")
    args = parser.parse_args()
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "Benchmarks/loadgen")], check=True)
    work = tempfile.mkdtemp(prefix="chatterbox-cluster-bench-")
    os.chmod(work, 0o755)  # PostgreSQL runs as its own user when we are root
    pg_dir = os.path.join(work, "postgres")
    url = subprocess.run([os.path.join(ROOT, "scripts/postgres.sh"), "start", pg_dir], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    runs = {}
    try:
        counts = [int(n) for n in args.nodes.split(",")]
        for round_number in range(args.rounds):
            # Node counts alternate within a round: the machine's noise falls on all alike.
            for nodes in counts:
                figures = run_once(args, nodes, url, work, os.path.join(pg_dir, "data"))
                runs.setdefault(nodes, []).append(figures)
                print(f"round {round_number + 1}, {nodes} node(s): " + json.dumps(figures), file=sys.stderr)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/postgres.sh"), "stop", pg_dir])
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.clients} clients ({args.senders} sending {args.rate:g} broadcasts/s in all), {args.seconds:g} s, "
          f"medians of {args.rounds}:")
    print("| nodes | deliveries/s | p50 ms | p99 ms | lost | dup | out of order | nodes CPU-s/M | PostgreSQL CPU-s/M |")
    print("|---|---|---|---|---|---|---|---|---|")
    for nodes, figures in sorted(runs.items()):
        median = {key: statistics.median(f[key] for f in figures) for key in figures[0]}
        print(f"| {nodes} | {median['deliveries_per_second']:.0f} | {median['p50']:.2f} | {median['p99']:.2f} | "
              f"{median['lost']:.0f} | {median['duplicates']:.0f} | {median['out_of_order']:.0f} | "
              f"{median['node_cpu_per_million']:.1f} | {median['pg_cpu_per_million']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=2)


if __name__ == "__main__":
    main()
