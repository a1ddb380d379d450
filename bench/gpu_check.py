"""GPU check: MACE through LAMMPS ML-IAP with the model on the GPU, its parity with ASE's MACECalculator on the same
GPU, and MD throughput of 1, 2 and 4 concurrent LAMMPS runs sharing the one GPU. Prints one Markdown table.

  python bench/gpu_check.py [--device cuda] [--lmp .lammps-mliap/bin/lmp] [--supercell 4x2x2] [--steps 200]
  python bench/gpu_check.py --device cpu --tiny          # the logic on a CPU, in seconds (tests/cluster)

Model: potentials/lips-mace-small.model (or --model), converted with `harness potentials add-mace` (the non-KOKKOS
shim, harness/mace_shim.py, which puts the model on HARNESS_MACE_DEVICE). Cell: Li7P3S11 4x2x2 = 672 atoms.
Parity: one LAMMPS `run 0` against ASE's MACECalculator on the same device and positions: energy per atom and the
largest force component difference. Throughput: K LAMMPS processes (NVE, 1 fs) start together; each warms up
(model on the device, first steps), waits at a file barrier, then runs --steps steps. Aggregate atom-steps/s =
K x atoms x steps / the slowest process's loop time (LAMMPS's own "Loop time"). ASE row: the same MD in ASE.
Optional rows: calculator-bridge potentials (potentials/*.toml with kind = "calculator"), only when this checkout
has harness/calculator.py and the potential's Python package is installed; otherwise the row says why not.
The whole check runs in about 2-4 minutes on one H200 (docs/gpu.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.lammps_env import LammpsBuild, child_environment, find_lammps  # noqa: E402
from harness.mace import add_mace  # noqa: E402
from harness.potentials import Potential, load_potential  # noqa: E402
from harness.render import find_structure  # noqa: E402
from harness.structures import (Structure, lammps_box, read_cif, supercell, to_lammps_positions,  # noqa: E402
                                write_lammps_data)

BARRIER_MODULE = '''
import os, time
def gpu_check_barrier():
    """Wait until every concurrent LAMMPS of this measurement has warmed up (one ready.* file each)."""
    folder, count = os.environ["GPU_CHECK_BARRIER"], int(os.environ["GPU_CHECK_COUNT"])
    open(os.path.join(folder, "ready." + os.environ["GPU_CHECK_INDEX"]), "w").close()
    deadline = time.time() + 900
    while sum(name.startswith("ready.") for name in os.listdir(folder)) < count and time.time() < deadline:
        time.sleep(0.01)
'''
LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps")


def _lammps(build: LammpsBuild, folder: Path, lines: list[str], env: dict[str, str]) -> subprocess.Popen:
    (folder / "in.lammps").write_text("\n".join(lines) + "\n")
    return subprocess.Popen([build.executable, "-in", "in.lammps", "-log", "log.lammps", "-nocite"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=child_environment(build.library_dirs, env))


def _finish(process: subprocess.Popen, what: str) -> str:
    out, _ = process.communicate(timeout=900)
    if process.returncode != 0:
        error = next((l for l in out.splitlines() if "ERROR" in l or "Error" in l), out[-1500:])
        raise SystemExit(f"gpu_check: {what} failed (exit {process.returncode}): {error.strip()}")
    return out


def _system_lines(potential: Potential, data: Path) -> list[str]:
    return ["units metal", "atom_style atomic", "boundary p p p", "atom_modify map array", f"read_data {data}",
            *potential.pair_lines({k: str(f.path) for k, f in potential.files.items()})]


def lammps_parity(potential: Potential, cell: Structure, build: LammpsBuild, folder: Path,
                  env: dict[str, str]) -> tuple[float, "np.ndarray"]:
    import numpy as np
    folder.mkdir()
    write_lammps_data(cell, folder / "data.lmp", potential.elements, potential.masses, force_triclinic=True)
    lines = [*_system_lines(potential, folder / "data.lmp"), "thermo_style custom step pe", "run 0",
             'print "GPUCHECK_PE $(pe:%.12f)"',
             "write_dump all custom forces.dump id fx fy fz modify sort id format float %.12f"]
    out = _finish(_lammps(build, folder, lines, env), "LAMMPS run 0")
    energy = float(next(l.split()[1] for l in out.splitlines() if l.startswith("GPUCHECK_PE")))
    dump = (folder / "forces.dump").read_text().splitlines()
    start = next(i for i, l in enumerate(dump) if l.startswith("ITEM: ATOMS")) + 1
    return energy, np.array([[float(v) for v in l.split()[1:4]] for l in dump[start:start + cell.natoms]])


def ase_atoms(cell: Structure):
    from ase import Atoms
    box, _, _, _ = lammps_box(cell.cell)
    return Atoms(cell.symbols, positions=to_lammps_positions(cell, box), cell=box, pbc=True)


def mace_calculator(model_path: Path, device: str):
    from mace.calculators import MACECalculator
    return MACECalculator(model_paths=str(model_path), device=device, default_dtype="float64")


def ase_md_rate(calculator, cell: Structure, steps: int) -> float:
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    atoms = ase_atoms(cell)
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=600.0)
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.run(2)
    started = time.perf_counter()
    dyn.run(steps)
    return cell.natoms * steps / (time.perf_counter() - started)


def concurrent_md(potential: Potential, cell: Structure, build: LammpsBuild, folder: Path, count: int, steps: int,
                  warmup: int, env: dict[str, str]) -> tuple[float, float]:
    """(aggregate atom-steps/s, slowest loop s) of ``count`` LAMMPS MD runs started together on the device."""
    folder.mkdir()
    write_lammps_data(cell, folder / "data.lmp", potential.elements, potential.masses, force_triclinic=True)
    (folder / "gpu_check_barrier.py").write_text(BARRIER_MODULE)
    barrier = folder / "barrier"
    barrier.mkdir()
    processes = []
    for index in range(count):
        run_dir = folder / f"run{index}"
        run_dir.mkdir()
        lines = [*_system_lines(potential, folder / "data.lmp"),
                 f"velocity all create 600.0 {4928 + index} dist gaussian mom yes rot yes", "timestep 0.001",
                 "fix nve all nve", "thermo 100", f"run {warmup}",
                 'python gpu_check_barrier here "from gpu_check_barrier import gpu_check_barrier"',
                 "python gpu_check_barrier invoke", f"run {steps}"]
        extra = {**env, "GPU_CHECK_BARRIER": str(barrier), "GPU_CHECK_COUNT": str(count),
                 "GPU_CHECK_INDEX": str(index),
                 "PYTHONPATH": os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])}
        processes.append(_lammps(build, run_dir, lines, extra))
    loops = []
    for index, process in enumerate(processes):
        found = LOOP.findall(_finish(process, f"concurrent MD run {index + 1} of {count}"))
        seconds, nsteps = float(found[-1][0]), int(found[-1][1])
        assert nsteps == steps
        loops.append(seconds)
    slowest = max(loops)
    return count * cell.natoms * steps / slowest, slowest


def calculator_rows(device: str, cell_name: str, steps: int) -> list[str]:
    """Optional: the calculator-bridge potentials (CHGNet, SevenNet-0) through `harness launch` on the device."""
    if importlib.util.find_spec("harness.calculator") is None:
        return ["| calculator bridge | - | - | - | skipped: harness/calculator.py is not in this checkout |"]
    rows = []
    for path in sorted((REPO / "potentials").glob("*.toml")):
        table = tomllib.loads(path.read_text())
        if table.get("kind") != "calculator":
            continue
        module = str(table.get("calculator", {}).get("import", "")).split(":")[0]
        if not module or importlib.util.find_spec(module.split(".")[0]) is None:
            rows.append(f"| {table['name']} (calculator bridge) | - | - | - | skipped: Python package "
                        f"{module.split('.')[0] or '?'} not installed |")
            continue
        rows.append(calculator_launch_row(table["name"], device, cell_name, steps))
    return rows or ["| calculator bridge | - | - | - | skipped: no potentials/*.toml with kind = \"calculator\" |"]


def calculator_launch_row(name: str, device: str, cell_name: str, steps: int) -> str:
    """One conductivity run of ``steps`` fs through the real render -> launch path; atom-steps/s from its wall time."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-calc-") as tmp:
        folder = Path(tmp)
        repeats = [int(v) for v in cell_name.split("x")]
        (folder / "c.toml").write_text(
            f'[campaign]\nname = "gpu-check-{name}"\npotentials = ["{name}"]\nseed = 1\nthermo_every_ps = 0.01\n'
            f'restart_every_ps = 100\nwall_time_s = 400\n[conductivity]\nstructure = "Li7P3S11"\n'
            f"supercell = {repeats}\ntemperatures_K = [600]\nduration_ps = {steps / 1000}\nequilibration_ps = 0.001\n"
            f"repeats = 1\ndump_interval_ps = {steps / 1000}\n")
        env = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_MACE_DEVICE": device}
        if device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        for command in (["render", str(folder / "c.toml"), "--out", str(folder / "out")],
                        ["launch", str(folder / "out"), "--progress-every", "0", "--force-unchecked"]):
            result = subprocess.run([sys.executable, "-m", "harness", *command], capture_output=True, text=True,
                                    env=env, timeout=450)
            if result.returncode != 0:
                return f"| {name} (calculator bridge) | - | - | - | failed: {result.stderr.strip()[-200:]} |"
        (run_dir,) = (folder / "out" / "runs").iterdir()
        status = json.loads((run_dir / "status.json").read_text())
        natoms = json.loads((run_dir / "run.json").read_text())["natoms"]
        if status.get("state") != "done":
            return f"| {name} (calculator bridge) | - | - | - | {status.get('reason')}: {status.get('message')} |"
        rate = natoms * status["step"] / status["wall_s"]
        return f"| {name} (calculator bridge, 1 run) | {natoms} | {rate:.0f} | - | whole run incl. start-up |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="torch device of the model: cuda (default) or cpu")
    parser.add_argument("--lmp", default=os.environ.get("HARNESS_LMP") or str(REPO / ".lammps-mliap" / "bin" / "lmp"))
    parser.add_argument("--model", default=str(REPO / "potentials" / "lips-mace-small.model"))
    parser.add_argument("--supercell", default="4x2x2", help="Li7P3S11 supercell (4x2x2 = 672 atoms)")
    parser.add_argument("--steps", type=int, default=200, help="MD steps per throughput run")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--concurrency", default="1,2,4", help="numbers of concurrent runs on the device")
    parser.add_argument("--tiny", action="store_true", help="1x1x1 cell, 5 steps, 1 and 2 runs: a quick logic check")
    parser.add_argument("--no-calculators", action="store_true", help="skip the calculator-bridge rows")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if args.tiny:
        args.supercell, args.steps, args.warmup, args.concurrency = "1x1x1", 5, 2, "1,2"
    import mace  # noqa: F401  (before e3nn/torch unpickling)
    import numpy as np
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda but torch sees no GPU (torch.cuda.is_available() is False)")
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu"
    build = find_lammps(args.lmp)
    env = {"PYTHONPATH": str(REPO), "HARNESS_MACE_DEVICE": args.device, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    results: dict[str, object] = {"device": args.device, "device_name": device_name, "torch": torch.__version__,
                                  "lammps": build.version, "supercell": args.supercell, "steps": args.steps}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        folder = Path(tmp)
        potential = load_potential(str(add_mace(Path(args.model), "gpu-check-mace", ["Li", "P", "S"],
                                                folder / "potentials")))
        crystal = read_cif(find_structure("Li7P3S11", REPO), name="Li7P3S11")
        cell = supercell(crystal, [int(v) for v in args.supercell.split("x")])
        energy, forces = lammps_parity(potential, cell, build, folder / "parity", env)
        calculator = mace_calculator(Path(args.model), args.device)
        atoms = ase_atoms(cell)
        atoms.calc = calculator
        de = abs(energy - float(atoms.get_potential_energy())) / cell.natoms
        df = float(np.abs(forces - atoms.get_forces()).max())
        results.update(parity_dE_eV_per_atom=de, parity_dF_eV_per_A=df)
        rows = [f"| parity: LAMMPS ML-IAP vs ASE MACECalculator, run 0 | {cell.natoms} | - | - | "
                f"dE {de:.1e} eV/atom, max dF {df:.1e} eV/A ({'ok' if de < 1e-6 and df < 1e-5 else 'MISMATCH'}) |"]
        rate = ase_md_rate(calculator, cell, args.steps)
        results["ase_atom_steps_per_s"] = rate
        rows.append(f"| ASE MACECalculator MD, 1 run | {cell.natoms} | {rate:.0f} | {rate:.0f} | reference |")
        single = None
        for count in (int(v) for v in args.concurrency.split(",")):
            aggregate, slowest = concurrent_md(potential, cell, build, folder / f"md{count}", count, args.steps,
                                               args.warmup, env)
            single = single or aggregate / count
            results[f"lammps_{count}_runs_atom_steps_per_s"] = aggregate
            rows.append(f"| LAMMPS ML-IAP MD, {count} concurrent run(s) on one {args.device} | {cell.natoms} | "
                        f"{aggregate:.0f} | {aggregate / count:.0f} | {aggregate / single:.2f}x the 1-run rate, "
                        f"slowest loop {slowest:.1f} s |")
        if not args.no_calculators:
            rows += calculator_rows(args.device, args.supercell, args.steps)
    results["wall_s"] = time.perf_counter() - started
    print(f"# GPU check: {device_name} ({args.device}), torch {torch.__version__}, LAMMPS {build.version}, "
          f"model {Path(args.model).name}, Li7P3S11 {args.supercell}, {args.steps} MD steps, "
          f"{results['wall_s']:.0f} s in all\n")
    print("| what | atoms | aggregate atom-steps/s | per run | notes |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
