"""MSD against LAMMPS's own ``compute msd`` on a real (tiny, ideal-gas) LAMMPS run in a triclinic box."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.msd import load_trajectory, msd_all_origins, msd_first_origin

VENV = Path(sys.executable).resolve().parent.parent
LMP = shutil.which("lmp") or str(Path(sys.executable).parent / "lmp")

INPUT = """
units metal
atom_style atomic
boundary p p p
region cell prism 0 9 0 8 0 7 2.0 -1.5 1.0
create_box 2 cell
create_atoms 1 random 40 4242 NULL
create_atoms 2 random 20 4343 NULL
mass 1 6.94
mass 2 32.06
pair_style zero 3.0
pair_coeff * *
velocity all create 3000.0 87287 mom yes dist gaussian
group li type 1
compute msd li msd com no
fix nve all nve
timestep 0.001
dump img all custom 10 img.lammpstrj id type x y z ix iy iz
dump_modify img format float %.12g
dump wr all custom 10 wrapped.lammpstrj id type x y z
dump_modify wr format float %.12g
fix out all ave/time 10 1 10 c_msd[1] c_msd[2] c_msd[3] c_msd[4] file msd.txt format " %.12g"
run 400
"""


@pytest.fixture(scope="module")
def lammps_run(tmp_path_factory):
    if not Path(LMP).exists():
        pytest.skip("lmp not available")
    directory = tmp_path_factory.mktemp("lmp")
    (directory / "in.lammps").write_text(INPUT)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = f"{VENV / 'lib'}:{env.get('LD_LIBRARY_PATH', '')}"
    for key in ("PMI_FD", "PMI_HOSTNAME", "PMI_RANK", "PMI_SIZE"):
        env.pop(key, None)
    done = subprocess.run([LMP, "-in", "in.lammps", "-log", "log.lammps", "-screen", "none"], cwd=directory,
                          env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"lmp failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    reference = np.loadtxt(directory / "msd.txt", comments="#")
    return directory, reference


@pytest.mark.parametrize("dump", ["img.lammpstrj", "wrapped.lammpstrj"])
def test_msd_matches_lammps_compute_msd(lammps_run, dump):
    directory, reference = lammps_run
    trajectory = load_trajectory(directory / dump, 0.001, species=None, atom_type=1)
    ours = msd_first_origin(trajectory.displacement_A)
    steps = reference[:, 0].astype(int)
    index = {int(s): k for k, s in enumerate(trajectory.timesteps)}
    rows = [index[s] for s in steps]
    # x, y, z and total, LAMMPS's own numbers vs ours from the dump (float32 displacements)
    assert np.allclose(ours[rows], reference[:, 1:4], rtol=2e-5, atol=1e-6)
    assert np.allclose(ours[rows].sum(axis=1), reference[:, 4], rtol=2e-5, atol=1e-6)
    # atoms really crossed the (triclinic) boundaries
    assert reference[-1, 4] > 9.0**2
    # ideal gas: every time origin gives the same MSD, so the all-origins MSD equals LAMMPS's too
    all_origins = msd_all_origins(trajectory.displacement_A).sum(axis=1)
    assert np.allclose(all_origins[rows], reference[:, 4], rtol=1e-4, atol=1e-5)
