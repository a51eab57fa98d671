#!/usr/bin/env bash
# One command for the parsing benchmarks: builds release, generates the corpus under bench-data/,
# runs every tool side by side and prints a Markdown table. Options: see benchmarks/run.py --help.
#   benchmarks/run.sh                      # 200 MB corpus, 3 runs each
#   RUNS=5 benchmarks/run.sh --size 1GB
set -euo pipefail
exec python3 "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run.py" "$@"
