#!/usr/bin/env bash
# Regenerates samples/audit.log, samples/audit.log.gz and samples/eventlist.json byte for byte.
# Usage: samples/regenerate.sh [SCRATCH_PATH]   (SwiftPM scratch path, default .build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCRATCH="${1:-.build}"
swift build -c release --scratch-path "$SCRATCH" --product audithound-bench
"$SCRATCH/release/audithound-bench" generate --size 2500KB --seed 2026 --attack-rate 0.04 \
    --events-per-second 10 --out samples/audit.log
gzip -9 -n -c samples/audit.log > samples/audit.log.gz
# EventList: three lines of audit.log, copied byte for byte: a person's list, the first exec
# (ResponseStarted), the first request of the first forbidden burst.
python3 - <<'PY'
import json
lines = open("samples/audit.log", "rb").read().split(b"\n")[:-1]
def first(pred):
    return next(l for l in lines if pred(json.loads(l)))
items = [
    first(lambda e: e["user"]["username"] == "bob@example.com" and e["stage"] == "ResponseComplete" and e["verb"] == "list"),
    first(lambda e: e["auditID"].startswith("a77ac4e0-0001-") and e["stage"] == "ResponseStarted"),
    first(lambda e: e["auditID"].startswith("a77ac4e0-000d-")),
]
with open("samples/eventlist.json", "wb") as f:
    f.write(b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[' + b",".join(items) + b"]}\n")
PY
