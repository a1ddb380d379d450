#!/usr/bin/env bash
# Set up, then run the whole test suite (real LAMMPS, real MPI, tiny systems).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
