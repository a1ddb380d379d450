"""OVITO snapshots (analysis/snapshots.py): which frames are chosen, and pictures coloured by element."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from analysis.dump import DumpReader
from analysis.snapshots import COLOURS, melt_quench_shots, render_frame, robustness_shots, write_snapshots
from analysis_testdata import ORTHO, random_walk_A, write_trajectory


@dataclass
class FakeRun:
    run_id: str
    potential: str
    state: str
    directory: Path
    params: dict = field(default_factory=dict)
    repeat: int = 1


def _run(tmp_path: Path, run_id: str, state: str, temperature: float, pressure: float, repeat: int = 1) -> FakeRun:
    directory = tmp_path / run_id
    directory.mkdir()
    write_trajectory(directory / "traj.lammpstrj", random_walk_A(4, 3, 0.1, 1.0, repeat), ORTHO, "wrapped",
                     ["Li", "Li", "S", "P"])
    return FakeRun(run_id, "pot", state, directory, {"temperature_K": temperature, "pressure_Pa": pressure}, repeat)


def test_robustness_pictures_come_from_a_condition_with_a_survivor_and_a_failure(tmp_path):
    runs = [_run(tmp_path, "cold-r1", "done", 1000, 1e6), _run(tmp_path, "cold-r2", "done", 1000, 1e6, 2),
            _run(tmp_path, "hot-r1", "failed", 4000, 1e6), _run(tmp_path, "hot-r2", "done", 4000, 1e6, 2)]
    shots = robustness_shots(runs)
    assert [(s.run_id, s.label, s.frame) for s in shots] == [
        ("hot-r2", "relaxed random cell", 0), ("hot-r2", "survived, last frame", -1),
        ("hot-r1", "failed, last frame", -1)]
    assert {s.temperature_K for s in shots} == {4000}


def test_melt_quench_pictures_are_start_melt_and_quench(tmp_path):
    run = FakeRun("mq", "pot", "done", tmp_path, {"variant": "npt"})
    rows = [{"run_id": "mq", "frame": k, "phase": phase} for k, phase in
            enumerate(["heat", "heat", "hold", "hold", "quench", "quench"])]
    assert [(s.label, s.frame) for s in melt_quench_shots([run], rows)] == [("start", 0), ("melt", 3),
                                                                            ("quenched", 5)]


def _colour_share(path: Path, rgb: tuple[float, float, float]) -> float:
    from PIL import Image
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255.0
    # shaded spheres: the hue is kept, so compare the normalised colour
    norm = pixels / np.maximum(pixels.sum(axis=2, keepdims=True), 1e-6)
    target = np.array(rgb) / sum(rgb)
    lit = pixels.sum(axis=2) > 0.6
    return float(((np.abs(norm - target).sum(axis=2) < 0.06) & lit).mean())


def test_frames_are_rendered_coloured_by_element_with_atoms_wrapped_into_the_cell(tmp_path):
    pytest.importorskip("ovito")
    # Li atoms far outside the cell (unwrapped coordinates three cells away): wrapped, they are in the picture
    li = random_walk_A(12, 1, 0.0, 1.0, 3) + np.array([36.0, 0.0, 0.0])
    write_trajectory(tmp_path / "li.lammpstrj", li, ORTHO, "unwrapped", ["Li"] * 12)
    write_trajectory(tmp_path / "s.lammpstrj", random_walk_A(12, 1, 0.0, 1.0, 4), ORTHO, "wrapped", ["S"] * 12)
    try:
        li_png = render_frame(next(iter(DumpReader(tmp_path / "li.lammpstrj"))), tmp_path / "li.png")
    except RuntimeError as error:  # no Vulkan driver: scripts/setup-browser.sh installs mesa-vulkan-drivers
        pytest.skip(f"OVITO cannot render here: {str(error).splitlines()[0]}")
    s_png = render_frame(next(iter(DumpReader(tmp_path / "s.lammpstrj"))), tmp_path / "s.png")
    assert _colour_share(li_png, COLOURS["Li"]) > 0.02 > _colour_share(li_png, COLOURS["S"])
    assert _colour_share(s_png, COLOURS["S"]) > 0.02 > _colour_share(s_png, COLOURS["Li"])


def test_a_missing_dump_is_a_note_not_a_crash(tmp_path):
    run = FakeRun("gone", "pot", "failed", tmp_path / "nowhere", {"temperature_K": 1.0, "pressure_Pa": 1.0})
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "traj.lammpstrj").write_text("")
    rows, notes = write_snapshots(robustness_shots([run]), tmp_path / "out", {"gone": "failed"})
    assert rows == [] and len(notes) == 2 and all("gone" in n and "empty" in n for n in notes)
