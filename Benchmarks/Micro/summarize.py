#!/usr/bin/env python3
"""Turns the JMH export of `swift package benchmark --format jmh` into the Markdown table of
docs/MICROBENCHMARKS.md.

Usage: python3 summarize.py RESULTS_DIR [MORE_RESULTS_DIRS...]

With several directories (repeated runs), the table has one wall-clock median column per run
and takes everything else from the first.

Per benchmark: wall clock per operation (median and p90 of the samples), CPU per operation
(the *mean* of the samples: the benchmark reads CPU time from /proc in 10 ms clock ticks, so a
single sample is 0 or 10 ms and only the mean over many samples means anything; left out, as
"—", for samples shorter than 1 ms, where the harness's own reading of /proc between samples
dominates), throughput
(median), allocations and mallocs minus frees per operation (median), and the sample count.
The JMH export holds per-*sample* values (time in microseconds); each benchmark carries its
operations per sample in its name (tag "ops per sample", see scaled() in the suites), and
every figure here is divided by it, so the table is per operation.
"""
import glob
import json
import os
import re
import sys

TAG = re.compile(r"_?\(ops_per_sample:_(\d+)\)$")


def metric(element, name):
    return (element.get("secondaryMetrics") or {}).get(name)


def fmt_ns(us, ops):
    ns = us * 1000 / ops
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


def fmt_count(count, ops):
    per_op = count / ops
    return f"{per_op:,.0f}" if ops == 1 or per_op >= 100 else f"{per_op:.2f}"


def load(directory):
    rows = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.jmh.json"))):
        with open(path) as f:
            elements = json.load(f)
        for element in elements:
            qualified = element["benchmark"].removeprefix("package.benchmark.")
            target, _, name = qualified.partition(".")
            found = TAG.search(name)
            if not found:
                sys.exit(f"{qualified}: no 'ops per sample' tag")
            ops = int(found.group(1))
            name = TAG.sub("", name).replace("_", " ")
            wall = metric(element, "Time (wall clock)")
            cpu = metric(element, "Time (total CPU)")
            mallocs = metric(element, "Malloc (total)")
            delta = metric(element, "Malloc / free Δ")
            throughput = element["primaryMetric"]
            samples = len(wall["rawData"][0]) if wall else 0
            rows[(target.removesuffix("Benchmarks"), name)] = ((
                target.removesuffix("Benchmarks"), name,
                fmt_ns(wall["scorePercentiles"]["50.0"], ops) if wall else "",
                fmt_ns(wall["scorePercentiles"]["90.0"], ops) if wall else "",
                fmt_ns(cpu["score"], ops) if cpu and wall["score"] >= 1000 else "—",
                f'{throughput["scorePercentiles"]["50.0"] * ops:,.0f}',
                fmt_count(mallocs["scorePercentiles"]["50.0"], ops) if mallocs else "",
                fmt_count(delta["scorePercentiles"]["50.0"], ops) if delta else "",
                f"{samples} × {ops:,}",
            ))
    return rows


def main(directories):
    runs = [load(directory) for directory in directories]
    first = runs[0]
    extra = [f"run {index + 2} p50" for index in range(len(runs) - 1)]
    header = ["suite", "benchmark", "wall ns/op p50", *extra, "p90", "CPU ns/op (mean)", "ops/s p50",
              "mallocs/op", "malloc−free/op", "samples × ops"]
    print("| " + " | ".join(header) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in header[2:]) + " |")
    for key in sorted(first):
        row = list(first[key])
        others = [run[key][2] if key in run else "" for run in runs[1:]]
        row[3:3] = others
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
