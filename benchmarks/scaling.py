#!/usr/bin/env python3
"""Scaling of `audithound replay`: throughput against input size and against the number of rules.

    benchmarks/scaling.py [--scratch-path .build] [--sizes 10MB,100MB,1GB,4GB] [--rules 10,100,1000] [--runs 3]
                          [--workers N] [--pin]

Uses `audithound-bench generate` for the corpora (bench-data/, reused) and the release `audithound`
(build it first, e.g. with benchmarks/run.sh). Rule files for the rule-count series are generated:
N distinct single-event rules that compare user, verb, resource and user agent (the shapes the default
ruleset uses), written to bench-data/rules-N.yaml. Prints Markdown tables (median of the runs).
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (reuses measure(), parse_size(), line_count(), machine())


def rules_file(n: int) -> str:
    path = os.path.join(bench.DATA, f"rules-{n}.yaml")
    if os.path.exists(path):
        return path
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    resources = ["pods", "secrets", "configmaps", "deployments", "services", "roles", "rolebindings", "nodes"]
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"""- rule: Scaling rule {i}
  desc: generated
  condition: >
    ka.verb = {verbs[i % len(verbs)]} and ka.target.resource = {resources[(i // 7) % len(resources)]}
    and not ka.user.name startswith "system:" and ka.useragent icontains "tool-{i}"
    and ka.target.namespace in (ns-{i}, ns-{i + 1}, kube-system)
  output: rule {i} %ka.user.name %ka.target.name
  priority: NOTICE
""")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch-path", default=os.path.join(bench.ROOT, ".build"))
    ap.add_argument("--sizes", default="10MB,100MB,1GB,4GB")
    ap.add_argument("--rules", default="10,100,1000")
    ap.add_argument("--rules-corpus", default="200MB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1")
    ap.add_argument("--pin", action="store_true",
                    help="run under `taskset -c 0-(workers-1)`: as many cores as workers (per-core figures)")
    a = ap.parse_args()
    pin = ["taskset", "-c", f"0-{int(a.workers) - 1}"] if a.pin else []
    binary = os.path.join(a.scratch_path, "release", "audithound")
    gen = os.path.join(a.scratch_path, "release", "audithound-bench")
    os.makedirs(bench.DATA, exist_ok=True)

    def corpus(size: str) -> str:
        path = os.path.join(bench.DATA, f"scaling-{size}.log")
        if not os.path.exists(path):
            subprocess.run([gen, "generate", "--size", str(bench.parse_size(size)), "--seed", "7",
                            "--attack-rate", "0.001", "--out", path], check=True)
        return path

    def row(label: str, argv, path: str):
        walls, rsss, cpus = [], [], []
        for _ in range(a.runs):
            wall, rss, _, cpu = bench.measure(argv)
            walls.append(wall)
            rsss.append(rss)
            cpus.append(cpu)
        wall = statistics.median(walls)
        cpu = statistics.median(cpus)
        size = os.path.getsize(path)
        print(f"| {label} | {size / 1e6:,.0f} MB | {wall:.3f} | {size / 1e6 / wall:,.0f} | "
              f"{bench.line_count(path) / wall:,.0f} | {cpu:.3f} | {max(rsss) / 2**20:.1f} MiB |", flush=True)

    print(f"Machine: {bench.machine()}\n")
    where = f", on {a.workers} core(s) (taskset)" if a.pin else ""
    print(f"Input size (default ruleset, --workers {a.workers}{where}, median of {a.runs}):\n")
    print("| input | bytes | median s | MB/s | events/s | CPU s | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size in a.sizes.split(","):
        path = corpus(size)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
        row(size, pin + [binary, "replay", "--quiet", "--workers", a.workers, path], path)

    path = corpus(a.rules_corpus)
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    print(f"\nNumber of rules ({a.rules_corpus} corpus, --workers {a.workers}, median of {a.runs}):\n")
    print("| rules | bytes | median s | MB/s | events/s | CPU s | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    row("default ruleset", pin + [binary, "replay", "--quiet", "--workers", a.workers, path], path)
    for n in a.rules.split(","):
        row(f"{n} generated", pin + [binary, "replay", "--quiet", "--workers", a.workers, "--rules", rules_file(int(n)), path], path)


if __name__ == "__main__":
    main()
