#!/usr/bin/env python3
"""Write-to-alert delay and idle CPU of `audithound tail`.

A writer appends audit events (unique auditIDs) to a log file at a steady rate, rotating it now and
then the way the API server does (rename, new file). `audithound tail --format json` follows the file
with a rule that fires on every event; a reader thread timestamps each alert line as it arrives on
the pipe. The delay of an event is (alert read) - (line written). Then the writer stops and the tail's
CPU time is read from /proc/<pid>/stat over an idle period.

    benchmarks/tail_latency.py                       # release build at .build/release/audithound
    benchmarks/tail_latency.py --binary PATH --events 5000 --rate 1000 --idle 10
    benchmarks/tail_latency.py --modes inotify       # skip the polling run

Prints a Markdown table (one row per mode: inotify, polling with --no-inotify).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

RULES = """- rule: Every Event
  desc: fires on every event (benchmark)
  condition: ka.verb exists
  output: event %ka.auditid
  priority: WARNING
"""

EVENT = ('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%s",'
         '"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list",'
         '"user":{"username":"system:serviceaccount:kube-system:replicaset-controller","groups":'
         '["system:serviceaccounts","system:authenticated"]},"sourceIPs":["10.0.0.7"],'
         '"userAgent":"kube-controller-manager/v1.31.0","objectRef":{"resource":"pods",'
         '"namespace":"default","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},'
         '"requestReceivedTimestamp":"2026-11-23T10:00:00.000000Z",'
         '"stageTimestamp":"2026-11-23T10:00:00.001000Z"}\n')


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line; after the ")" they are at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mode(binary, mode, events, rate, rotate_every, idle_seconds):
    work = tempfile.mkdtemp(prefix="audithound-tail-bench-")
    rules = os.path.join(work, "rules.yaml")
    with open(rules, "w") as f:
        f.write(RULES)
    log = os.path.join(work, "audit.log")
    open(log, "w").close()
    args = [binary, "tail", "--rules", rules, "--format", "json", log]
    if mode == "polling":
        args.insert(2, "--no-inotify")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)

    arrived = {}
    duplicates = [0]

    def reader():
        # os.read returns whatever the pipe holds: every line is timestamped as soon as it can be.
        fd = proc.stdout.fileno()
        pending = b""
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            now = time.monotonic()
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                try:
                    audit_id = json.loads(line)["audit_id"]
                except (ValueError, KeyError):
                    continue
                if audit_id in arrived:
                    duplicates[0] += 1
                else:
                    arrived[audit_id] = now

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.5)  # initial scan

    written = {}
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    start = time.monotonic()
    for i in range(events):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        audit_id = f"lat-{i}"
        data = (EVENT % audit_id).encode()
        written[audit_id] = time.monotonic()
        os.write(fd, data)
        if rotate_every and i % rotate_every == rotate_every - 1:
            os.close(fd)
            os.rename(log, os.path.join(work, f"audit-{i}.log"))
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.close(fd)
    deadline = time.monotonic() + 10
    while len(arrived) < events and time.monotonic() < deadline:
        time.sleep(0.05)

    # Idle CPU: nothing written for idle_seconds.
    time.sleep(1)
    cpu_before = cpu_seconds(proc.pid)
    time.sleep(idle_seconds)
    cpu_idle = cpu_seconds(proc.pid) - cpu_before

    proc.terminate()
    proc.wait(timeout=10)
    thread.join(timeout=5)

    delays = sorted((arrived[k] - written[k]) * 1000 for k in written if k in arrived)
    return {
        "mode": mode,
        "events": events,
        "rate": rate,
        "lost": events - len(delays),
        "duplicates": duplicates[0],
        "p50": percentile(delays, 50),
        "p90": percentile(delays, 90),
        "p99": percentile(delays, 99),
        "max": delays[-1] if delays else float("nan"),
        "idle_cpu_percent": cpu_idle / idle_seconds * 100,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(here, "..", ".build", "release", "audithound"))
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500, help="events per second")
    parser.add_argument("--rotate-every", type=int, default=1000, help="rename-rotate after this many events (0: never)")
    parser.add_argument("--idle", type=float, default=10, help="seconds of idle CPU measurement")
    parser.add_argument("--modes", default="inotify,polling")
    a = parser.parse_args()
    if not os.access(a.binary, os.X_OK):
        sys.exit(f"no audithound binary at {a.binary} (swift build -c release, or --binary PATH)")

    rows = [run_mode(a.binary, m, a.events, a.rate, a.rotate_every, a.idle) for m in a.modes.split(",")]
    print("| mode | events | rate (ev/s) | p50 ms | p90 ms | p99 ms | max ms | lost | repeated | idle CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['events']} | {r['rate']:.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} "
              f"| {r['max']:.1f} | {r['lost']} | {r['duplicates']} | {r['idle_cpu_percent']:.2f}% |")


if __name__ == "__main__":
    main()
