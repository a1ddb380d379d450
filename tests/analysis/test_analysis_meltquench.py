"""Melt-quench analysis on a synthetic run directory with known temperature, density and PS4 fraction."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from analysis.cli import main, report_main
from analysis.meltquench import melt_quench_run, read_progress
from analysis_testdata import TRICLINIC, frame_text, wrap, write_manifest, write_run

PARAMS = {"variant": "npt", "T_low_K": 300.0, "T_high_K": 1500.0, "heating_rate_K_per_ps": 10.0,
          "quench_rate_K_per_ps": 10.0, "hold_ps": 50.0, "pressure_Pa": 1e5, "timestep_fs": 2.0,
          "dump_interval_ps": 10.0}
STEPS_PER_FRAME = 5000  # 10 ps of 2 fs
NFRAMES = 30  # 0 .. 290 ps: heat to 120 ps, hold to 170 ps, quench to 290 ps
CELL = TRICLINIC * 1.3  # 15.6 x 14.3 x 13 Å, sheared
TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / math.sqrt(3.0)
MASS = {"Li": 6.94, "P": 30.974, "S": 32.06}
AVOGADRO = 6.02214076e23


def _scale(frame: int) -> float:
    return 1.0 + 0.01 * math.sin(frame / 5.0)  # cell lengths breathe by 1 %


def _broken(frame: int) -> set[int]:
    """PS4 units with one S pulled to 3.0 Å in this frame (P index); P 7 gets a fifth S in frames 10-12."""
    return {k for k in range(8) if (frame + k) % 5 == 0 and frame >= 12}


def _frame_positions(frame: int, rng) -> tuple[np.ndarray, list[str], np.ndarray]:
    cell = CELL * _scale(frame)
    grid = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float) * 0.5 + 0.25
    centres = grid @ cell
    positions, elements = [], []
    for k, centre in enumerate(centres):
        positions.append(centre)
        elements.append("P")
        for n, direction in enumerate(TETRAHEDRON):
            distance = 3.0 if (k in _broken(frame) and n == 0) else 2.05
            positions.append(centre + distance * direction)
            elements.append("S")
        # Li far from P (> 3 Å): on the cell-grid offsets
        positions.append(centre + cell[0] * 0.25 + cell[1] * 0.25)
        elements.append("Li")
    if 10 <= frame <= 12:  # an extra S 2.3 Å from P 7: five-coordinated
        positions.append(centres[7] + 2.3 * np.array([0.0, 0.0, -1.0]))
    else:  # the same S parked far away
        positions.append(centres[7] + cell[2] * 0.25 + cell[0] * 0.25 + cell[1] * 0.1)
    elements.append("S")
    positions = np.array(positions) + rng.normal(0.0, 0.01, (len(positions), 3))
    return positions, elements, cell


def _expected_fraction(frame: int) -> float:
    intact = 8 - len(_broken(frame)) - (1 if 10 <= frame <= 12 and 7 not in _broken(frame) else 0)
    return intact / 8


def _progress_text() -> str:
    lines = ["# step time_ps T_K pe_eV press_bar vol_A3\n"]
    for step in range(0, 100001, 2000):  # up to frame 20: later frames have no temperature  # not every frame's step: interpolation is needed in between
        t = step * 0.002
        lines.append(f"{step} {t:.6f} {300 + 0.001 * step:.3f} {-100 - 1e-4 * step:.8f} {1.0 + step:.4f} 2000.0\n")
    lines.insert(5, "6000 12.000000 9999.000 0 0 0\n")  # superseded: written again after a resume below
    lines.append("6000 12.000000 306.000 -100.6 6001.0 2000.0\n")  # (a resumed run rewrites this step)
    lines.append("102000 204.0 35")  # a line cut short at the end
    return "".join(lines)


def write_melt_quench_run(campaign, run_id="t2-meltquench-toy-npt-r1", frames=NFRAMES, seed=0):
    directory = write_run(campaign, run_id, "melt_quench", "toy", PARAMS, counts={"Li": 8, "P": 8, "S": 33})
    rng = np.random.default_rng(seed)
    text = ""
    for frame in range(frames):
        positions, elements, cell = _frame_positions(frame, rng)
        wrapped, _ = wrap(positions, cell)
        columns = {"id": list(range(1, len(elements) + 1)), "element": elements,
                   "x": [float(v) for v in wrapped[:, 0]], "y": [float(v) for v in wrapped[:, 1]],
                   "z": [float(v) for v in wrapped[:, 2]]}
        text += frame_text(frame * STEPS_PER_FRAME, cell, columns, ["id", "element", "x", "y", "z"])
    (directory / "traj.lammpstrj").write_text(text)
    (directory / "progress.dat").write_text(_progress_text())
    return directory


def test_progress_file_last_occurrence_and_cut_line(tmp_path):
    directory = write_melt_quench_run(tmp_path)
    progress = read_progress(directory / "progress.dat")
    assert progress.at("T_K", 6000) == pytest.approx(306.0)
    assert progress.at("T_K", 5000) == pytest.approx(305.0)  # interpolated between 4000 and 6000
    assert progress.step[-1] == 100000


def test_melt_quench_frames(tmp_path):
    directory = write_melt_quench_run(tmp_path)
    frames = melt_quench_run(directory, PARAMS)
    assert len(frames) == NFRAMES
    masses = 8 * MASS["Li"] + 8 * MASS["P"] + 33 * MASS["S"]
    for frame in frames:
        k = frame.frame
        assert frame.step == k * STEPS_PER_FRAME
        assert frame.time_ps == pytest.approx(10.0 * k)
        volume = abs(np.linalg.det(CELL)) * _scale(k) ** 3
        assert frame.volume_A3 == pytest.approx(volume, rel=1e-9)
        assert frame.density_g_cm3 == pytest.approx(masses / AVOGADRO / (volume * 1e-24), rel=1e-3)
        assert frame.n_P == 8
        assert frame.p_s4_fraction == pytest.approx(_expected_fraction(k)), k
        step = k * STEPS_PER_FRAME
        if step <= 100000:
            assert frame.T_K == pytest.approx(300 + 0.001 * step)
            assert frame.press_bar == pytest.approx(1.0 + step)
        else:
            assert math.isnan(frame.T_K)
    phases = {f.frame: (f.phase, f.T_target_K) for f in frames}
    assert phases[10] == ("heat", pytest.approx(1300.0))
    assert phases[15] == ("hold", 1500.0)
    assert phases[20] == ("quench", pytest.approx(1200.0))
    assert phases[29] == ("quench", pytest.approx(300.0))
    assert 0.0 < min(f.p_s4_fraction for f in frames) < 1.0 == frames[0].p_s4_fraction


def test_melt_quench_csv_and_report(tmp_path):
    campaign = tmp_path / "c"
    write_melt_quench_run(campaign)
    write_run(campaign, "t2-meltquench-toy-npt-r2", "melt_quench", "toy", PARAMS, state="failed",
              reason="lammps_error", repeat=2, time_ps=0.0)
    write_manifest(campaign, [("t2-meltquench-toy-npt-r1", "melt_quench", "toy"),
                              ("t2-meltquench-toy-npt-r2", "melt_quench", "toy")])
    assert main([str(campaign)]) == 0
    with open(campaign / "results" / "melt_quench.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    done = [r for r in rows if r["run_id"].endswith("r1")]
    failed = [r for r in rows if r["run_id"].endswith("r2")]
    assert len(done) == NFRAMES and len(failed) == 1
    assert failed[0]["frame"] == "" and "lammps_error" in failed[0]["message"]
    assert [float(r["p_s4_fraction"]) for r in done] == pytest.approx([_expected_fraction(k) for k in range(NFRAMES)])
    assert done[10]["phase"] == "heat" and float(done[10]["T_K"]) == pytest.approx(350.0)
    assert report_main([str(campaign)]) == 0
    assert (campaign / "report" / "melt_quench.png").stat().st_size > 1000
    assert "melt-quench" in (campaign / "report" / "index.html").read_text()
