#!/usr/bin/env python3
"""AuditHound parsing benchmarks: the same corpus through several tools, side by side.

Usage: benchmarks/run.sh [--size 200MB] [--seed 1] [--attack-rate 0.001] [--runs 3]
                         [--jq-size SIZE] [--scratch-path DIR] [--no-build] [--only a,b]

Builds audithound-bench in release mode, generates a corpus under bench-data/ (git-ignored,
reused when present), then runs every tool N times on it and prints a Markdown table:
median wall time -> MB/s (10^6 bytes) and events/s, peak RSS of the process,
and throughput relative to the AuditJSON tokenizer. Peak RSS comes from GNU time (%M) when
/usr/bin/time exists, else from wait4() on the child. Wall time is measured around the whole
process (start-up, reading the file, parsing), the same way for every tool.

To add a tool, write a function `tool_x(ctx) -> Run | None` and list it in TOOLS.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "bench-data")

GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None

ORJSON_SCRIPT = r"""
import sys, orjson
n = err = 0
with open(sys.argv[1], 'rb', buffering=16 << 20) as f:
    for line in f:
        try:
            orjson.loads(line)
            n += 1
        except orjson.JSONDecodeError:
            err += 1
print(f"orjson events={n} errors={err}")
"""


@dataclass
class Run:
    """One tool's command on one file."""
    name: str
    argv: List[str]
    corpus: str
    note: str = ""


@dataclass
class Context:
    bench: str          # path of the audithound-bench binary
    audithound: str     # path of the audithound binary (may not exist yet)
    corpus: str         # the main corpus
    jq_corpus: str      # corpus for jq (a prefix of the main one when --jq-size is given)


# ---------------------------------------------------------------- tools (one function each)

def tool_cat(ctx: Context) -> Optional[Run]:
    return Run("cat (I/O floor)", ["cat", ctx.corpus], ctx.corpus)


def tool_jq(ctx: Context) -> Optional[Run]:
    if not shutil.which("jq"):
        return None
    note = "" if ctx.jq_corpus == ctx.corpus else "smaller slice"
    return Run("jq -c .", ["jq", "-c", ".", ctx.jq_corpus], ctx.jq_corpus, note)


def tool_orjson(ctx: Context) -> Optional[Run]:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return None
    return Run("python3 + orjson (per line)", [sys.executable, "-c", ORJSON_SCRIPT, ctx.corpus], ctx.corpus)


def tool_jsonserialization(ctx: Context) -> Optional[Run]:
    return Run("Foundation JSONSerialization (per line)", [ctx.bench, "jsonserialization", ctx.corpus], ctx.corpus)


def tool_tokenizer(ctx: Context) -> Optional[Run]:
    return Run("AuditJSON tokenizer (per line)", [ctx.bench, "tokenize", ctx.corpus], ctx.corpus)


# ---------------------------------------------------------------- audithound replay rows
# End to end: read -> frame -> tokenize -> evaluate the default ruleset -> render alerts (to /dev/null).

def gzip_corpus(ctx: Context) -> Optional[str]:
    """The corpus compressed with `gzip -6` (made once, beside the corpus)."""
    gz = ctx.corpus + ".gz"
    if not os.path.exists(gz):
        with open(gz, "wb") as out:
            subprocess.run(["gzip", "-6", "-c", ctx.corpus], stdout=out, check=True)
    return gz


def tool_zcat(ctx: Context) -> Optional[Run]:
    gz = gzip_corpus(ctx)
    return Run("gzip -dc (zlib single-stream floor, gz input)", ["gzip", "-dc", gz], gz, "bytes = uncompressed")


PINNED = "audithound replay, 1 worker on 1 core (taskset -c 0)"


def tool_replay_1worker(ctx: Context) -> Optional[Run]:
    if not os.path.exists(ctx.audithound):
        return None
    return Run("audithound replay, 1 worker", [ctx.audithound, "replay", "--quiet", "--workers", "1", ctx.corpus], ctx.corpus)


def tool_replay_1core(ctx: Context) -> Optional[Run]:
    """The whole process (reader, worker and in-order threads) pinned to one core: throughput per core."""
    if not os.path.exists(ctx.audithound) or not shutil.which("taskset"):
        return None
    return Run(PINNED, ["taskset", "-c", "0", ctx.audithound, "replay", "--quiet", "--workers", "1", ctx.corpus], ctx.corpus)


def tool_replay_nworkers(ctx: Context) -> Optional[Run]:
    if not os.path.exists(ctx.audithound):
        return None
    n = os.cpu_count() or 1
    return Run(f"audithound replay, {n} workers", [ctx.audithound, "replay", "--quiet", "--workers", str(n), ctx.corpus], ctx.corpus)


def tool_replay_gzip(ctx: Context) -> Optional[Run]:
    if not os.path.exists(ctx.audithound):
        return None
    gz = gzip_corpus(ctx)
    n = os.cpu_count() or 1
    return Run(f"audithound replay, {n} workers, gz input", [ctx.audithound, "replay", "--quiet", "--workers", str(n), gz], gz,
               "bytes = uncompressed")


TOOLS: List[Callable[[Context], Optional[Run]]] = [
    tool_cat,
    tool_jq,
    tool_orjson,
    tool_jsonserialization,
    tool_tokenizer,
    tool_replay_1worker,
    tool_replay_1core,
    tool_replay_nworkers,
    tool_zcat,
    tool_replay_gzip,
]

BASELINE = "AuditJSON tokenizer (per line)"


# ---------------------------------------------------------------- measuring

def parse_size(text: str) -> int:
    m = re.fullmatch(r"([0-9.]+)\s*(KiB|MiB|GiB|KB|MB|GB|K|M|G|B)?", text)
    if not m:
        raise SystemExit(f"bad size: {text}")
    factor = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9,
              "K": 10**3, "M": 10**6, "G": 10**9, "B": 1, None: 1}[m.group(2)]
    return int(float(m.group(1)) * factor)


def measure(argv: List[str]) -> tuple:
    """Runs argv once with stdout discarded; returns (wall seconds, peak RSS bytes, stdout text, CPU seconds).

    CPU seconds are user + system time of the tool and its threads (from wait4's rusage, which also
    counts the children GNU time waited for)."""
    out_path = os.path.join(DATA, ".last-stdout")
    err_path = os.path.join(DATA, ".last-stderr")
    quiet = argv[0] in ("cat", "jq")  # their output is the whole corpus again: discard it
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        # GNU time forks the tool from a small process; measured from here, the child's peak RSS
        # would include this Python process (Linux keeps the high-water mark across exec).
        rss_path = os.path.join(DATA, ".last-rss")
        wrapped = ([GNU_TIME, "-f", "%M", "-o", rss_path] + argv) if GNU_TIME else argv
        proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL if quiet else out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss * 1024  # KiB on Linux
        cpu = usage.ru_utime + usage.ru_stime
        if GNU_TIME:
            with open(rss_path) as f:
                rss = int(f.read().split()[-1]) * 1024
    if proc.returncode != 0:
        with open(err_path, "r", errors="replace") as f:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {f.read()[-2000:].strip()}")
    with open(out_path, "r", errors="replace") as f:
        text = f.read()
    return wall, rss, text, cpu


def line_count(path: str) -> int:
    cache = path + ".lines"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path):
        return int(open(cache).read())
    n = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(16 << 20)
            if not block:
                break
            n += block.count(b"\n")
    with open(cache, "w") as f:
        f.write(str(n))
    return n


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass

    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "n/a"
    try:
        import orjson
        orj = orjson.__version__
    except ImportError:
        orj = "not installed"
    return (f"{cpu}, {os.cpu_count()} cores, {mem}; Linux {platform.release()}; "
            f"{version(['swift', '--version'])}; {version(['jq', '--version'])}; "
            f"Python {platform.python_version()} + orjson {orj}")


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="200MB", help="corpus size (default 200MB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attack-rate", default="0.001")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
    ap.add_argument("--jq-size", default=None, help="give jq only a prefix of the corpus of this size")
    ap.add_argument("--scratch-path", default=None, help="SwiftPM scratch path (default: .build)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated substrings of tool names to run")
    a = ap.parse_args()

    os.makedirs(DATA, exist_ok=True)
    scratch = a.scratch_path or os.path.join(ROOT, ".build")
    if not a.no_build:
        cmd = ["swift", "build", "-c", "release", "--scratch-path", scratch, "--product", "audithound-bench"]
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, cwd=ROOT, check=True)
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", scratch, "--product", "audithound"],
                       cwd=ROOT, check=False, capture_output=True)
    bin_dir = os.path.join(scratch, "release")
    bench = os.path.join(bin_dir, "audithound-bench")
    if not os.path.exists(bench):
        raise SystemExit(f"{bench} not found: build first or pass --scratch-path")

    size = parse_size(a.size)
    corpus = os.path.join(DATA, f"corpus-{a.size}-seed{a.seed}-attack{a.attack_rate}.log")
    if not os.path.exists(corpus):
        cmd = [bench, "generate", "--size", str(size), "--seed", str(a.seed), "--attack-rate", a.attack_rate,
               "--out", corpus]
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
    jq_corpus = corpus
    if a.jq_size:
        jq_corpus = corpus[:-4] + f"-first{a.jq_size}.log"
        if not os.path.exists(jq_corpus):
            limit = parse_size(a.jq_size)
            with open(corpus, "rb") as src, open(jq_corpus, "wb") as dst:
                written = 0
                for line in src:
                    if written >= limit:
                        break
                    dst.write(line)
                    written += len(line)

    ctx = Context(bench=bench, audithound=os.path.join(bin_dir, "audithound"), corpus=corpus, jq_corpus=jq_corpus)
    runs = [r for r in (t(ctx) for t in TOOLS) if r is not None]
    if a.only:
        keys = [k.strip().lower() for k in a.only.split(",")]
        runs = [r for r in runs if any(k in r.name.lower() for k in keys)]

    subprocess.run(["cat", corpus], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    results = []
    for r in runs:
        plain = r.corpus[:-3] if r.corpus.endswith(".gz") else r.corpus  # gz rows: count uncompressed bytes
        nbytes = os.path.getsize(plain)
        events = line_count(plain)
        walls, rsss, cpus = [], [], []
        for i in range(a.runs):
            wall, rss, _, cpu = measure(r.argv)
            walls.append(wall)
            rsss.append(rss)
            cpus.append(cpu)
            print(f"  {r.name}: run {i + 1}/{a.runs}: {wall:.3f} s, {cpu:.3f} s CPU, {rss / 1e6:.1f} MB RSS", file=sys.stderr)
        wall = statistics.median(walls)
        results.append((r, nbytes, events, wall, max(rsss), statistics.median(cpus)))

    base = next((nbytes / wall for (r, nbytes, _, wall, _, _) in results if r.name == BASELINE), None)
    print(f"Machine: {machine()}")
    print(f"Corpus: {os.path.relpath(corpus, ROOT)} ({os.path.getsize(corpus) / 1e6:.1f} MB, "
          f"{line_count(corpus)} events; seed {a.seed}, attack rate {a.attack_rate}); median of {a.runs} runs")
    print()
    print("| tool | input | median s | MB/s | events/s | CPU s | MB per CPU-s | peak RSS | vs tokenizer |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r, nbytes, events, wall, rss, cpu in results:
        mbps = nbytes / 1e6 / wall
        per_cpu = f"{nbytes / 1e6 / cpu:,.0f}" if cpu > 0 else "n/a"
        ratio = f"{(nbytes / wall) / base:.2f}x" if base else "n/a"
        label = f"{nbytes / 1e6:.0f} MB" + (f" ({r.note})" if r.note else "")
        print(f"| {r.name} | {label} | {wall:.3f} | {mbps:,.0f} | {events / wall:,.0f} | {cpu:.3f} | {per_cpu} | "
              f"{rss / 1e6:,.1f} MB | {ratio} |")
    print_targets(results)


def print_targets(results) -> None:
    """The issue's targets, computed from the rows of this run (only those that ran)."""
    rate = {r.name: nbytes / wall for (r, nbytes, _, wall, _, _) in results}
    rss = {r.name: peak for (r, _, _, _, peak, _) in results}
    n = os.cpu_count() or 1
    lines = []
    pinned = rate.get(PINNED)
    if pinned:
        lines.append(f"- per core: {pinned / 1e9:.2f} GB/s with the whole process on one core (target >= 1 GB/s)")
    many = rate.get(f"audithound replay, {n} workers")
    if many and pinned:
        lines.append(f"- scaling: {n} workers on {n} cores give {many / pinned:.2f}x one core (target >= 1.8x for 2)")
    one = rate.get("audithound replay, 1 worker")
    if many and one:
        lines.append(f"- {n} workers vs 1 worker (both unpinned: 1 worker still has the reader and in-order threads "
                     f"on the other cores): {many / one:.2f}x")
    gz = rate.get(f"audithound replay, {n} workers, gz input")
    zcat = rate.get("gzip -dc (zlib single-stream floor, gz input)")
    if gz and zcat:
        lines.append(f"- gzip input: {gz / zcat:.2f}x `gzip -dc` (target >= 0.9x)")
    ours = [v for k, v in rss.items() if k.startswith("audithound replay")]
    if ours:
        lines.append(f"- peak RSS of replay: {max(ours) / 2**20:.1f} MiB (target <= 64 MiB)")
    if lines:
        print("\nTargets (issue 4), from the rows above:\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
