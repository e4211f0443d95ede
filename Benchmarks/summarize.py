#!/usr/bin/env python3
"""Medians of the JSON summaries written by Benchmarks/run-comparison.sh, as Markdown tables."""
import glob
import json
import os
import statistics
import sys

results = sys.argv[1] if len(sys.argv) > 1 else "/tmp/chatterbox-bench-results"
# SERVERS: the names in the results (run-comparison.sh sets it; builds in its AB mode).
servers = os.environ.get("SERVERS", "chatterbox ngircd inspircd").split()


def load(pattern):
    out = {}
    for path in sorted(glob.glob(os.path.join(results, pattern))):
        server = os.path.basename(path).rsplit("-", 1)[1].removesuffix(".json")
        with open(path) as f:
            out.setdefault(server, []).append(json.load(f))
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def fanout_table(scenario, title):
    runs = load(f"{scenario}-*-*.json")
    if not runs:
        return
    print(f"\n### {title}\n")
    print("| server | runs | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU-s per M deliveries | RSS MiB | lost |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for server in servers:
        rs = runs.get(server, [])
        if not rs:
            continue
        lat = lambda key: median([r["latencyMilliseconds"][key] for r in rs])
        print(f"| {server} | {len(rs)} | {median([r['deliveriesPerSecond'] for r in rs]):,.0f} | {lat('p50'):.2f} | {lat('p99'):.2f} "
              f"| {lat('p999'):.2f} | {lat('max'):.2f} | {median([r.get('serverCPUSecondsPerMillionDeliveries') for r in rs]):.2f} "
              f"| {median([r.get('serverRSSBytes') for r in rs]) / 2**20:.0f} | {sum(r['lost'] for r in rs)} |")


fanout_table("a", "(a) 100 clients, 10 senders, 500 msg/s (50,000 deliveries/s)")
fanout_table("b", "(b) 1,000 clients, 10 senders, 100 msg/s (100,000 deliveries/s)")
fanout_table("as", "(a) with staggered senders (--stagger: spread over each interval)")

def maximum_table(pattern, title):
    runs = load(pattern)
    if not runs:
        return
    print(f"\n### {title}\n")
    print("| server | runs | deliveries/s (median) | each run | p50 ms | p99 ms | CPU-s per M deliveries | generator CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for server in servers:
        bests = [r["best"] for r in runs.get(server, []) if r.get("best")]
        if not bests:
            continue
        bests.sort(key=lambda b: b["deliveriesPerSecond"])
        mid = bests[(len(bests) - 1) // 2]  # the median run (the lower one of an even count)
        each = ", ".join(f"{b['deliveriesPerSecond'] / 1000:,.0f}k" for b in bests)
        gen = mid.get("generatorCPUSeconds")
        gen_text = f"{100 * gen / mid['seconds']:.0f}%" if gen is not None else "—"
        print(f"| {server} | {len(bests)} | {mid['deliveriesPerSecond']:,.0f} | {each} | {mid['latencyMilliseconds']['p50']:.2f} "
              f"| {mid['latencyMilliseconds']['p99']:.2f} | {mid.get('serverCPUSecondsPerMillionDeliveries') or float('nan'):.2f} | {gen_text} |")


maximum_table("c-*.json", "(c) Highest rate with p99 under 50 ms, 100 clients")
maximum_table("cswift-*.json", "(c) The same with the Swift generator (two threads on both CPUs)")

runs = load("d*-*.json")
if runs:
    print("\n### (d) Idle TLS connections: server memory per connection\n")
    print("| server | connections | bytes per connection | RSS before → after MiB |")
    print("| --- | --- | --- | --- |")
    for server in servers:
        for r in runs.get(server, []):
            for idle in r:
                print(f"| {server} | {idle['connections']:,} | {idle['bytesPerConnection']:,} "
                      f"| {idle['rssBeforeBytes'] / 2**20:.0f} → {idle['rssAfterBytes'] / 2**20:.0f} |")

runs = load("e-*.json")
if runs:
    print("\n### (e) Login storm\n")
    print("| server | clients | history messages | all logged in, s | login p50 ms | p99 ms | max ms | server CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for server in servers:
        for r in runs.get(server, []):
            l = r["loginLatencyMilliseconds"]
            print(f"| {server} | {r['clients']:,} | {r['historyMessages']:,} | {r['seconds']:.2f} | {l['p50']:.1f} | {l['p99']:.1f} "
                  f"| {l['max']:.1f} | {r.get('serverCPUSeconds') or float('nan'):.2f} |")
