"""harness plan: atom-steps by task and potential, a longest-first farm, and a prediction of the default campaign's
wall time on 2 ranks that is checked against one real launch of it (heavy: ~4 min on this machine)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster_testlib import REPO, TINY, harness, write_campaign
from harness.paths import default_campaign
from harness.plan import farm_makespan, plan_campaign
from harness.render import render_campaign


def test_farm_makespan_takes_the_longest_run_first():
    assert farm_makespan([1, 1, 1, 3], 2) == 3           # in the given order it would take 4 (1+1 | 1+3)
    assert farm_makespan([10, 1, 1, 1], 4) == 10
    assert farm_makespan([2, 2, 2, 2], 1) == 8


def test_plan_with_a_given_throughput_counts_atom_steps(tmp_path):
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, TINY.split("[robustness]")[0]), out)
    plan = plan_campaign(out, ranks=2, given={"toy-morse": 1000.0})
    (row,) = plan["rows"]
    manifest = json.loads((out / "manifest.json").read_text())
    natoms = json.loads((out / manifest["runs"][0]["dir"] / "run.json").read_text())["natoms"]
    assert row["task"] == "conductivity" and row["runs"] == 2 and row["atoms"] == natoms
    assert row["atom_steps"] == sum(natoms * r["nsteps"] for r in manifest["runs"])
    per_run = 0.5 + natoms * manifest["runs"][0]["nsteps"] / 1000.0
    assert row["run_wall_s"] == pytest.approx(per_run)
    assert plan["total"]["wall_s"] == pytest.approx(per_run)      # two equal runs on two ranks
    assert plan_campaign(out, ranks=1, given={"toy-morse": 1000.0})["total"]["wall_s"] == pytest.approx(2 * per_run)


def test_plan_command_line_table_json_and_bad_throughput(tmp_path):
    campaign = write_campaign(tmp_path, TINY.split("[robustness]")[0])
    result = harness("plan", str(campaign), "--ranks", "2", "--throughput", "toy-morse=2000",
                     "--json", str(tmp_path / "plan.json"))
    assert result.returncode == 0, result.stderr
    assert "conductivity" in result.stdout and "predicted wall time on 2 rank(s)" in result.stdout
    assert json.loads((tmp_path / "plan.json").read_text())["speeds"]["toy-morse"]["source"] == "given"
    bad = harness("plan", str(campaign), "--throughput", "toy-morse=fast")
    assert bad.returncode == 2 and "--throughput" in bad.stderr and bad.stderr.count("\n") == 1
    unknown = harness("plan", str(campaign), "--throughput", "nope=5")
    assert unknown.returncode == 2 and "no potential nope" in unknown.stderr


@pytest.fixture(scope="module")
def default_launch(tmp_path_factory):
    """The default campaign: planned (with its calibration run), then launched for real on 2 ranks."""
    out = tmp_path_factory.mktemp("default") / "campaign"
    render_campaign(default_campaign(), out)
    plan = plan_campaign(out, ranks=2)
    command = [str(Path(sys.executable).parent / "mpirun"), "-n", "2", sys.executable, "-m", "harness", "launch",
               str(out), "--progress-every", "0"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-2000:]
    return out, plan, wall


def test_plan_predicts_the_default_campaign_within_a_factor_1_5(default_launch):
    out, plan, wall = default_launch
    predicted = plan["total"]["wall_s"]
    print(f"default campaign on 2 ranks: predicted {predicted:.1f} s, measured {wall:.1f} s")
    assert plan["speeds"]["lips-snap"]["source"] in ("calibrated", "cached")
    assert wall / 1.5 <= predicted <= wall * 1.5, f"predicted {predicted:.0f} s, measured {wall:.0f} s"
    # the calibration is cached in the campaign folder: a second plan measures nothing
    again = plan_campaign(out, ranks=2)
    assert again["speeds"]["lips-snap"]["source"] == "cached"
    assert again["total"]["wall_s"] == pytest.approx(predicted)
