#!/usr/bin/env bash
# Set up, then run the default campaign end to end: render, mpirun -n 2 harness launch, analyze, report.
# Output: ./campaign (runs, results/*.csv, report/index.html). Re-running resumes and re-analyses.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
campaign=${1:-inputs/default.toml}
out=${2:-campaign}
harness render "$campaign" --out "$out"
mpirun -n "${HARNESS_RANKS:-2}" harness launch "$out" --progress-every 20
harness analyze "$out"
harness report "$out"
echo "[demo] open $out/report/index.html"
