"""MACE by three routes, side by side in one run: LAMMPS ML-IAP (harness/mace_shim.py), LAMMPS + calculator bridge
with mace's MACECalculator, and ASE molecular dynamics with MACECalculator; plus the model's own cost.

  .venv/bin/python bench/mace_vs_ase.py [--model potentials/lips-mace-small.model | --model tiny]
      [--sizes 3x1x1,4x2x2] [--steps 30] [--warmup 3] [--threads 2] [--repeats 3] [--lmp .lammps-mliap/bin/lmp]
      [--before] [--routes mliap,bridge,ase,model]

Same model file, same cells (Li7P3S11 supercells), same NVE velocity-Verlet steps at 1 fs from 600 K, every
measurement a fresh process, interleaved (ML-IAP, [ML-IAP before,] bridge, ASE, model, ML-IAP, ...), best of
--repeats each; --threads torch threads everywhere (OMP_NUM_THREADS; torch.set_num_threads in the ASE process):
  - ML-IAP: `lmp -in` with the potential written by `harness potentials add-mace` (the non-KOKKOS shim);
    LAMMPS's own "Loop time" of the measured `run` after `run WARMUP`;
  - ML-IAP before (--before): the same with the shim's compute_forces as of commit f560d08
    (bench/mace_shim_before.py), to compare a shim change with the old one in one run;
  - bridge: a `kind = "calculator"` potential on mace.calculators:MACECalculator(model_paths=MODEL,
    default_dtype=the model's), run by `python runner.py` (bench/bridge_vs_ase.py); LAMMPS's loop time;
  - ASE: ase.md.verlet.VelocityVerlet on the same MACECalculator, after WARMUP steps;
  - model: energy + forces + stress of one configuration by that calculator (what it computes on every call,
    ASE's neighbour list included), timed alone, the same number of calls: the limit of the ASE and bridge routes.
Prints two Markdown tables: throughput, and each route as a fraction of the model-only limit with the time per
step it adds on top of the model.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bridge_vs_ase as bridge  # noqa: E402
from harness.lammps_env import child_environment, find_lammps  # noqa: E402
from harness.mace import add_mace, load_mace_model, make_tiny_model  # noqa: E402
from harness.potentials import Potential, load_potential  # noqa: E402
from harness.render import find_structure  # noqa: E402
from harness.rundir import sha256_of  # noqa: E402
from harness.structures import read_cif, supercell  # noqa: E402

ROUTES = ("mliap", "mliap-before", "bridge", "ase", "model")
TITLES = {"mliap": "LAMMPS ML-IAP", "mliap-before": "ML-IAP, shim before", "bridge": "LAMMPS + bridge",
          "ase": "ASE VelocityVerlet", "model": "model only (E+F+S)"}

BRIDGE_TOML = """name = "bench-mace-bridge"
kind = "calculator"
description = "MACECalculator through the calculator bridge (bench only)"
elements = ["Li", "P", "S"]
[files.model]
path = "{model}"
sha256 = "{sha}"
[calculator]
import = "mace.calculators:MACECalculator"
device = "cpu"
device_kwarg = "device"
[calculator.kwargs]
model_paths = "{{{{ files.model }}}}"
default_dtype = "{dtype}"
"""


def mliap_potentials(model: Path, folder: Path, before: bool) -> dict[str, Potential]:
    """The add-mace potential of ``model`` ("mliap"), and with --before the same wrapping the old shim."""
    toml = add_mace(model, "bench-mace", ["Li", "P", "S"], folder)
    found = {"mliap": load_potential(str(toml))}
    if before:
        from mace_shim_before import MliapMaceBefore
        old_pkl = folder / "bench-mace-before.mliap.pkl"
        with open(old_pkl, "wb") as handle:
            pickle.dump(MliapMaceBefore(load_mace_model(model)), handle, protocol=pickle.HIGHEST_PROTOCOL)
        text = toml.read_text().replace("bench-mace.mliap.pkl", old_pkl.name)
        text = re.sub(r'sha256 = "[0-9a-f]+"', f'sha256 = "{sha256_of(old_pkl)}"', text)
        text = text.replace('name = "bench-mace"', 'name = "bench-mace-before"')
        (folder / "bench-mace-before.toml").write_text(text)
        found["mliap-before"] = load_potential(str(folder / "bench-mace-before.toml"))
    return found


def bridge_potential(model: Path, folder: Path) -> Potential:
    dtype = "float64" if str(load_mace_model(model).r_max.dtype) == "torch.float64" else "float32"
    path = folder / "bench-mace-bridge.toml"
    path.write_text(BRIDGE_TOML.format(model=model, sha=sha256_of(model), dtype=dtype))
    return load_potential(str(path))


def write_mliap_input(potential: Potential, folder: Path, name: str, steps: int, warmup: int) -> None:
    """An ML-IAP input on the bridge's data.lmp (same cell, same velocities seed, same integrator)."""
    lines = potential.pair_lines({k: str(f.path) for k, f in potential.files.items()})
    (folder / name).write_text("\n".join([
        "units metal", "atom_style atomic", "atom_modify map array", "read_data data.lmp", *lines,
        "velocity all create 600.0 4928459 mom yes rot no dist gaussian", "timestep 0.001", "fix nve all nve",
        "thermo 10", f"run {max(warmup, 1)}", f"run {steps}", ""]))


def mliap_md(lmp: str, folder: Path, name: str, threads: int, natoms: int) -> float:
    build = find_lammps(lmp)
    proc = subprocess.run([build.executable, "-in", name, "-log", "none", "-nocite"], cwd=folder, text=True,
                          capture_output=True,
                          env=child_environment(build.library_dirs, {
                              "OMP_NUM_THREADS": str(threads),
                              "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "bench")])}))
    rate = bridge.loop_rate(proc.stdout, natoms)
    if proc.returncode != 0 or rate is None:
        raise SystemExit(f"LAMMPS ML-IAP ({name}) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="potentials/lips-mace-small.model",
                        help="MACE .model file, or `tiny` for the tests' tiny random model")
    parser.add_argument("--sizes", default="3x1x1,4x2x2", help="Li7P3S11 supercells, comma separated")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3, help="steps before the timed ones, in every route")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best of each is shown")
    parser.add_argument("--lmp", default=str(REPO / ".lammps-mliap" / "bin" / "lmp"))
    parser.add_argument("--before", action="store_true", help="add the shim of commit f560d08 as a route")
    parser.add_argument("--routes", default="mliap,bridge,ase,model")
    args = parser.parse_args()
    lmp = Path(args.lmp).resolve() if Path(args.lmp).exists() else shutil.which(args.lmp)
    if lmp is None:
        raise SystemExit(f"no LAMMPS executable {args.lmp!r} (give --lmp PATH to an ML-IAP build)")
    routes = [r for r in ROUTES if r in args.routes.split(",") or (r == "mliap-before" and args.before)]
    crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
    with tempfile.TemporaryDirectory(prefix="bench-mace-") as tmp:
        folder = Path(tmp)
        model = make_tiny_model(folder / "tiny.model") if args.model == "tiny" else \
            (Path(args.model) if Path(args.model).exists() else REPO / args.model).resolve()
        mliap = mliap_potentials(model, folder / "potentials", args.before)
        calc_potential = bridge_potential(model, folder)
        python = sys.executable
        print(f"# bench/mace_vs_ase.py --model {args.model} --steps {args.steps} --warmup {args.warmup} "
              f"--threads {args.threads} --repeats {args.repeats}{' --before' if args.before else ''}; "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at start; model {model.name}\n")
        rows = []
        for size in args.sizes.split(","):
            cell = supercell(crystal, [int(v) for v in size.split("x")])
            work = folder / size
            work.mkdir()
            bridge.prepare(calc_potential, cell, work, args.steps, args.warmup)
            for route, potential in mliap.items():
                write_mliap_input(potential, work, f"in.{route}", args.steps, args.warmup)
            rates = bridge.Rates()
            for _ in range(args.repeats):
                for route in routes:
                    if route in mliap:
                        rates.add(route, mliap_md(str(lmp), work, f"in.{route}", args.threads, cell.natoms))
                    elif route == "bridge":
                        rates.add(route, bridge.bridge_md(python, work, args.threads, cell.natoms))
                    else:
                        for key, rate in bridge.ase_and_model(python, work, args.steps, args.warmup, args.threads,
                                                              cell.natoms, route).items():
                            rates.add(key, rate)
            rows.append((size, cell.natoms, rates))
        print("| cell | atoms | " + " | ".join(f"{TITLES[r]} (atom-steps/s)" for r in routes) + " | " +
              " | ".join(f"{TITLES[r]} / ASE" for r in routes if r not in ("ase", "model")) + " |")
        ratio_routes = [r for r in routes if r not in ("ase", "model")]
        print("|" + "---|" * (2 + len(routes) + len(ratio_routes)))
        for size, natoms, rates in rows:
            best = {r: rates.best(r) for r in routes}
            cells = [f"{best[r]:.0f}" for r in routes]
            ratios = [f"**{best[r] / best['ase']:.2f}** (paired {rates.paired(r, 'ase')})" if "ase" in best else "-"
                      for r in ratio_routes]
            print(f"| Li7P3S11 {size} | {natoms} | " + " | ".join(cells + ratios) + " |")
        if "model" in routes:
            others = [r for r in routes if r != "model"]
            print("\n| cell | atoms | model only (ms/step) | " +
                  " | ".join(f"{TITLES[r]} / model" for r in others) + " | " +
                  " | ".join(f"{TITLES[r]}: overhead (ms/step)" for r in others) + " |")
            print("|" + "---|" * (3 + 2 * len(others)))
            for size, natoms, rates in rows:
                m = rates.best("model")
                print(f"| Li7P3S11 {size} | {natoms} | {1000 * natoms / m:.1f} | " +
                      " | ".join(f"{rates.best(r) / m:.2f}" for r in others) + " | " +
                      " | ".join(f"{bridge.overhead_ms(rates.best(r), m, natoms):+.1f}" for r in others) + " |")
        print(f"\n(load average {os.getloadavg()[0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
