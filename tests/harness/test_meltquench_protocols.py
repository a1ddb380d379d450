"""Melt-quench variants carry the paper's numbers: Iter1 and Iter2 grids, and the anneal stage (real LAMMPS)."""

from __future__ import annotations

import json
import re

import pytest

from analysis.meltquench import melt_quench_run, protocol_target
from harness_testlib import harness, statuses, write_campaign

CAMPAIGN = """
[campaign]
potentials = ["toy-morse"]
seed = 3
timestep_fs = 2.0
restart_every_ps = 0.05
thermo_every_ps = 0.01
[melt_quench]
supercell = [1, 1, 1]
variants = {variants}
T_high_K = 900
heating_rate_K_per_ps = 12000
quench_rate_K_per_ps = 12000
hold_ps = 0.02
anneal_ps = {anneal}
dump_interval_ps = 0.01
"""


def _runs(out):
    manifest = json.loads((out / "manifest.json").read_text())
    return {r["run_id"]: json.loads((out / r["dir"] / "run.json").read_text()) for r in manifest["runs"]}


def test_iter_presets_are_the_papers_grids(tmp_path):
    campaign = write_campaign(tmp_path, CAMPAIGN.format(variants='["npt", "iter1", "npt_iter2"]', anneal="0.0"))
    done = harness("render", str(campaign), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    runs = _runs(tmp_path / "out")
    iter1 = {k: v["params"] for k, v in runs.items() if "-iter1-" in k}
    iter2 = {k: v["params"] for k, v in runs.items() if "-iter2-" in k}
    # Iter1: NVT 300 K -> T_melt -> 300 K, T_melt 1000 or 1500 K, quench 50 or 100 K/ps: 4 runs
    assert sorted((p["T_high_K"], p["quench_rate_K_per_ps"]) for p in iter1.values()) == [
        (1000.0, 50.0), (1000.0, 100.0), (1500.0, 50.0), (1500.0, 100.0)]
    assert {(p["ensemble"], p["T_low_K"], p["T_final_K"]) for p in iter1.values()} == {("nvt", 300.0, 300.0)}
    # Iter2: NPT 300 K -> 1500 K -> T_quench 300, 400 or 500 K at 50 K/ps, then an anneal: 3 runs
    assert sorted(p["T_final_K"] for p in iter2.values()) == [300.0, 400.0, 500.0]
    assert {(p["ensemble"], p["T_low_K"], p["T_high_K"], p["quench_rate_K_per_ps"]) for p in iter2.values()} == {
        ("npt", 300.0, 1500.0, 50.0)}
    assert all(p["anneal_ps"] == 0.0 for p in iter2.values())   # anneal_ps given (0) wins over the Iter2 default
    # steps: heat (1500-300)/50 = 24 ps, hold 0.02 ps, quench (1500-400)/50 = 22 ps at 2 fs
    assert runs["t2-meltquench-toy-morse-iter2-Tq400-r1"]["nsteps"] == 12000 + 10 + 11000
    npt = runs["t2-meltquench-toy-morse-npt-r1"]["params"]
    assert (npt["T_high_K"], npt["T_final_K"], npt["quench_rate_K_per_ps"]) == (900.0, 300.0, 12000.0)
    text = (tmp_path / "out" / "runs" / "t2-meltquench-toy-morse-iter1-Tm1000-q100-r1" / "in.lammps").read_text()
    assert re.search(r"^fix +quench all nvt temp 1000.0 300.0 ", text, re.M)
    assert "npt" not in text.split("ensemble")[1].split("\n")[0]


def test_anneal_stage_runs_in_lammps(tmp_path):
    campaign = write_campaign(tmp_path, CAMPAIGN.format(variants='["nvt"]', anneal="0.04"))
    out = tmp_path / "out"
    assert harness("render", str(campaign), "--out", str(out)).returncode == 0
    done = harness("launch", str(out), "--progress-every", "0")
    assert done.returncode == 0, done.stderr
    (status,) = statuses(out).values()
    assert status["state"] == "done"
    (run_id, record), = _runs(out).items()
    frames = melt_quench_run(out / "runs" / run_id, record["params"])
    phases = [f.phase for f in frames]
    assert phases[0] == "heat" and phases[-1] == "anneal" and "quench" in phases
    assert [f.T_target_K for f in frames if f.phase == "anneal"] == pytest.approx([300.0] * phases.count("anneal"))


def test_protocol_target_with_final_temperature():
    params = {"T_low_K": 300.0, "T_high_K": 1500.0, "T_final_K": 500.0, "heating_rate_K_per_ps": 50.0,
              "quench_rate_K_per_ps": 50.0, "hold_ps": 10.0, "anneal_ps": 5.0}
    assert protocol_target(params, 12.0) == ("heat", pytest.approx(900.0))
    assert protocol_target(params, 30.0) == ("hold", 1500.0)
    assert protocol_target(params, 44.0) == ("quench", pytest.approx(1000.0))
    assert protocol_target(params, 56.0) == ("anneal", 500.0)
