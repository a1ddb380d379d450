"""The analysis tests share the tiny campaigns of tests/harness (harness_testlib: the real command line, TINY)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
