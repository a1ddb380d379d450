"""OVITO as an independent cross-check of our analysis on real LAMMPS trajectories (toy-morse, tiny): the
minimum interatomic distance of every frame of a robustness run (wrapped coordinates, NPT cell) and the Li MSD
from the first frame of a conductivity run (unwrapped coordinates, triclinic Li7P3S11 cell)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.contacts import frame_contacts
from analysis.msd import load_trajectory, msd_first_origin

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN = """
[campaign]
name = "ovito-check"
potentials = ["toy-morse"]
seed = 5
restart_every_ps = 1.0
thermo_every_ps = 0.01
wall_time_s = 300

[conductivity]
supercell = [1, 1, 1]
temperatures_K = [1200]
duration_ps = 0.3
equilibration_ps = 0.01
repeats = 1
dump_interval_ps = 0.01

[robustness]
natoms = 42
temperatures_K = [3000]
pressures_Pa = ["1 GPa"]
duration_ps = 0.1
repeats = 1
dump_interval_ps = 0.01
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    pytest.importorskip("ovito")
    folder = tmp_path_factory.mktemp("ovito")
    (folder / "c.toml").write_text(CAMPAIGN)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (["render", str(folder / "c.toml"), "--out", str(folder / "c")],
                 ["launch", str(folder / "c"), "--progress-every", "0"]):
        done = subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=300, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder / "c" / "runs"


def test_minimum_distances_agree_with_ovito(runs):
    from ovito.data import NearestNeighborFinder
    from ovito.io import import_file

    dump = runs / "t4-robustness-toy-morse-T3000-p1e9-r1" / "traj.lammpstrj"
    ours = [c.min_distance_A for c in frame_contacts(dump)]
    pipeline = import_file(str(dump))
    theirs = []
    for frame in range(pipeline.source.num_frames):
        data = pipeline.compute(frame)
        _, vectors = NearestNeighborFinder(1, data).find_all()
        theirs.append(float(np.linalg.norm(np.asarray(vectors)[:, 0, :], axis=1).min()))
    assert len(ours) == len(theirs) >= 10
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_li_msd_agrees_with_ovito(runs):
    from ovito.io import import_file
    from ovito.modifiers import CalculateDisplacementsModifier

    dump = runs / "t3-conductivity-toy-morse-T1200-r1" / "traj.lammpstrj"
    ours = msd_first_origin(load_trajectory(dump, 0.001, species="Li").displacement_A).sum(axis=1)
    pipeline = import_file(str(dump))
    pipeline.modifiers.append(CalculateDisplacementsModifier(reference_frame=0, minimum_image_convention=False))
    theirs = []
    for frame in range(pipeline.source.num_frames):
        data = pipeline.compute(frame)
        types = data.particles.particle_types
        li = np.asarray(types) == types.type_by_name("Li").id
        displacement = np.asarray(data.particles["Displacement"])[li]
        theirs.append(float((displacement ** 2).sum(axis=1).mean()))
    assert len(ours) == len(theirs) >= 20 and theirs[-1] > 0.05
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6)
