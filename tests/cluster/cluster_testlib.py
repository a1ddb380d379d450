"""Helpers for tests/cluster: a real one-node Slurm (scripts/setup-slurm.sh) and campaign checks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "harness"))

from harness_testlib import TINY, harness, statuses, write_campaign  # noqa: E402,F401


def slurm_missing() -> str | None:
    """Why Slurm cannot be used here (None when a node answers idle or mixed)."""
    for tool in ("sbatch", "sinfo", "scancel", "scontrol"):
        if shutil.which(tool) is None:
            return f"{tool} not found (scripts/setup-slurm.sh installs Slurm as root with a Debian mirror)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 30 s"
    states = out.stdout.split()
    if not any(s.rstrip("*") in ("idle", "mixed") for s in states):
        return f"no idle Slurm node (sinfo: {out.stdout.strip() or out.stderr.strip()}); run scripts/setup-slurm.sh"
    return None


def require_slurm() -> None:
    reason = slurm_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but Slurm is not usable: {reason}")
    pytest.skip(reason)


def sbatch(script: Path, *options: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(["sbatch", "--parsable", *options, str(script)], capture_output=True, text=True, timeout=60,
                         cwd=script.parent, env=env, check=True)
    return out.stdout.strip().split(";")[0]


def job_state(job: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"JobState=(\S+)", out)
    return found.group(1) if found else "UNKNOWN"


ENDED = ("COMPLETED", "CANCELLED", "TIMEOUT", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "UNKNOWN")


def wait_job(job: str, timeout_s: float = 300) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        state = job_state(job)
        if state in ENDED:
            return state
        time.sleep(1)
    subprocess.run(["scancel", job], timeout=30)
    raise AssertionError(f"Slurm job {job} did not end within {timeout_s} s")


def launcher_lines(campaign_dir: Path) -> list[str]:
    return [line for path in sorted(campaign_dir.glob("slurm-*.out")) for line in path.read_text().splitlines()]


def done_lines(lines: list[str]) -> dict[str, int]:
    """How often each run was reported done across launcher logs."""
    counts: dict[str, int] = {}
    for line in lines:
        found = re.match(r"\[harness\] group \d+: (\S+) done", line)
        if found:
            counts[found.group(1)] = counts.get(found.group(1), 0) + 1
    return counts


def run_plain_lammps(run_dir: Path, reference: Path) -> None:
    """Run the run's rendered input with plain LAMMPS, uninterrupted, in ``reference``."""
    from harness.lammps_env import find_lammps
    reference.mkdir(parents=True)
    for name in ("in.lammps", "data.lmp"):
        (reference / name).write_bytes((run_dir / name).read_bytes())
    build = find_lammps()
    subprocess.run([build.executable, "-in", "in.lammps", "-log", "none", "-screen", "none"], cwd=reference,
                   env={**os.environ, "LD_LIBRARY_PATH": ":".join(build.library_dirs)}, check=True, timeout=300)


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def md_campaign(temperatures: list[int], duration_ps: float, restart_every_ps: float, every_ps: float) -> str:
    """Conductivity runs only, on toy-morse, 2x2x2 cells (336 atoms; ~0.35 s per ps on one core here):
    ``every_ps`` is both the dump and the thermo interval."""
    text = TINY.split("[robustness]")[0]
    for old, new in (("[600, 800]", str(temperatures)), ("duration_ps = 0.1", f"duration_ps = {duration_ps}"),
                     ("supercell = [1, 1, 1]", "supercell = [2, 2, 2]"),
                     ("restart_every_ps = 0.02", f"restart_every_ps = {restart_every_ps}"),
                     ("thermo_every_ps = 0.01", f"thermo_every_ps = {every_ps}"),
                     ("dump_interval_ps = 0.01", f"dump_interval_ps = {every_ps}")):
        assert old in text, old
        text = text.replace(old, new)
    return text
