"""Dump reader and MSD/D against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.dump import DumpReader
from analysis.errors import AnalysisError
from analysis.msd import diffusion_from_dump, load_trajectory, msd_all_origins
from analysis_testdata import ORTHO, TRICLINIC, frame_text, random_walk_A, write_trajectory

D_A2_PER_PS = 0.5          # = 5e-5 cm^2/s
D_CM2_PER_S = 0.5e-4
DT_PS = 0.1                # time between frames
MD_STEP_PS = 0.001         # 100 MD steps per frame


@pytest.mark.parametrize("mode,cell", [("unwrapped", ORTHO), ("image", TRICLINIC), ("wrapped", TRICLINIC),
                                       ("wrapped", ORTHO)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_walk_recovers_known_d(tmp_path, mode, cell, seed):
    positions = random_walk_A(200, 1500, D_A2_PER_PS, DT_PS, seed, cell)
    elements = ["Li"] * 200
    path = write_trajectory(tmp_path / "traj.lammpstrj", positions, cell, mode, elements, steps_per_frame=100,
                            shuffle_seed=seed)
    result = diffusion_from_dump(path, MD_STEP_PS, species="Li")
    assert result.d_cm2_per_s == pytest.approx(D_CM2_PER_S, rel=0.03)
    for d_axis in result.d_axes_cm2_per_s:
        assert d_axis == pytest.approx(D_CM2_PER_S, rel=0.06)
    assert np.isfinite(result.d_err_cm2_per_s) and result.d_err_cm2_per_s > 0
    # independent walkers: Haven ratio ~ 1 but noisy; just finite
    assert np.isfinite(result.haven_ratio)


def test_walkers_really_cross_boundaries(tmp_path):
    positions = random_walk_A(50, 1500, D_A2_PER_PS, DT_PS, 7, TRICLINIC)
    span = positions.max(axis=0) - positions.min(axis=0)
    assert span.max() > 3 * 12.0
    wrapped = write_trajectory(tmp_path / "w.lammpstrj", positions, TRICLINIC, "wrapped", ["Li"] * 50)
    trajectory = load_trajectory(wrapped, 1.0, species="Li")
    expected = positions - positions[0]
    assert np.allclose(trajectory.displacement_A, expected, atol=1e-4)


def test_msd_all_origins_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3, 3)).cumsum(axis=0)
    brute = np.zeros((40, 3))
    for m in range(40):
        diffs = x[m:] - x[:40 - m]
        brute[m] = (diffs**2).mean(axis=(0, 1))
    assert np.allclose(msd_all_origins(x.astype(np.float32)), brute, rtol=1e-5, atol=1e-5)


def test_species_selection_ignores_static_atoms(tmp_path):
    moving = random_walk_A(100, 600, D_A2_PER_PS, DT_PS, 5)
    static = np.repeat(random_walk_A(50, 1, 0.0, DT_PS, 6), 600, axis=0)
    positions = np.concatenate([moving, static], axis=1)
    path = write_trajectory(tmp_path / "t.lammpstrj", positions, ORTHO, "unwrapped", ["Li"] * 100 + ["S"] * 50)
    lithium = diffusion_from_dump(path, 1.0, species="Li", n_blocks=3)
    sulfur = diffusion_from_dump(path, 1.0, species="S", n_blocks=3)
    assert lithium.natoms == 100
    assert abs(sulfur.d_cm2_per_s) < 1e-12


def _two_frames(step: int, value: float) -> str:
    columns = {"id": [1, 2], "element": ["Li", "Li"], "xu": [value, 1.0], "yu": [0.0, 0.0], "zu": [0.0, 0.0]}
    return frame_text(step, ORTHO, columns, ["id", "element", "xu", "yu", "zu"])


def test_repeated_timestep_keeps_last_occurrence(tmp_path):
    path = tmp_path / "restart.lammpstrj"
    text = _two_frames(0, 0.0) + _two_frames(10, 1.0) + _two_frames(20, 99.0) + _two_frames(10, 2.0) \
        + _two_frames(20, 3.0) + _two_frames(30, 4.0)
    path.write_text(text)
    frames = list(DumpReader(path))
    assert [f.timestep for f in frames] == [0, 10, 20, 30]
    assert [float(f.column("xu")[0]) for f in frames] == [0.0, 2.0, 3.0, 4.0]


def test_truncated_final_frame(tmp_path):
    path = tmp_path / "cut.lammpstrj"
    full = _two_frames(0, 0.0) + _two_frames(10, 1.0)
    path.write_text(full + _two_frames(20, 2.0)[:-12])
    with pytest.raises(AnalysisError, match="truncated"):
        list(DumpReader(path))
    with pytest.warns(UserWarning, match="truncated"):
        frames = list(DumpReader(path, allow_truncated=True))
    assert [f.timestep for f in frames] == [0, 10]


def test_missing_column_and_empty_file(tmp_path):
    path = tmp_path / "t.lammpstrj"
    path.write_text(_two_frames(0, 0.0))
    with pytest.raises(AnalysisError, match="no column fx"):
        list(DumpReader(path, columns=["id", "fx"]))
    empty = tmp_path / "empty.lammpstrj"
    empty.write_text("")
    with pytest.raises(AnalysisError, match="empty"):
        DumpReader(empty)


def test_triclinic_box_roundtrip(tmp_path):
    path = tmp_path / "t.lammpstrj"
    columns = {"id": [1], "element": ["Li"], "x": [1.0], "y": [2.0], "z": [3.0]}
    path.write_text(frame_text(0, TRICLINIC, columns, ["id", "element", "x", "y", "z"]))
    (frame,) = list(DumpReader(path))
    assert frame.box.triclinic
    assert np.allclose(frame.box.matrix, TRICLINIC)
    assert frame.box.volume_A3 == pytest.approx(abs(np.linalg.det(TRICLINIC)))
