"""`harness potentials check NAME` for calculator potentials: LAMMPS through the bridge against the calculator called
directly through ASE, on the same structures, and the pressure against a finite difference of the energy.

Both sides run in the potential's own interpreter (its environment): LAMMPS through ``runner.py`` on an input
that dumps positions, box, forces, energy and pressure components with 17 digits; ASE through
``runner.py --reference`` on exactly those positions and that box. The result is recorded in ``NAME.check.json``
next to the potential file (harness/check_record.py); `harness launch` refuses the potential while that record is
missing, failed or stale (harness/preflight.py).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.calculator import run_files
from harness.calculator_launch import interpreter_for
from harness.check_record import RecordedCheck, calculator_check
from harness.errors import HarnessError
from harness.lammps_env import child_environment, find_lammps
from harness.parity import CellResult, ParityCriteria, compare_cell
from harness.potentials import Potential, verify_files

CALCULATOR_CRITERIA = ParityCriteria(energy_eV_per_atom=1e-6, force_eV_per_A=1e-5, stress=1e-4, stress_unit="GPa",
                                     pressure_fraction=0.05, pressure_bar=50.0, sign_above_bar=50.0)
FD_STRAIN = 1e-3                   # +-0.1 % in every box length for -dE/dV

_INPUT = """clear
units metal
atom_style atomic
boundary p p p
atom_modify map array
read_data data-{name}.lmp
{pair_lines}
thermo_style custom step pe press pxx pyy pzz pxy pxz pyz vol
dump parity all custom 1 parity-{name}.dump id type x y z fx fy fz
dump_modify parity format float %.17g sort id
run 0
print "PARITY {name} base $(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) $(pyz:%.17g) $(pxz:%.17g) $(pxy:%.17g) $(vol:%.17g)"
print "PARITY {name} box $(xlo:%.17g) $(xhi:%.17g) $(ylo:%.17g) $(yhi:%.17g) $(zlo:%.17g) $(zhi:%.17g) $(xy:%.17g) $(xz:%.17g) $(yz:%.17g)"
undump parity
change_box all x scale {plus} y scale {plus} z scale {plus} xy final $(xy*{plus}) xz final $(xz*{plus}) yz final $(yz*{plus}) remap units box
run 0
print "PARITY {name} plus $(pe:%.17g) $(vol:%.17g)"
change_box all x scale {minus_ratio} y scale {minus_ratio} z scale {minus_ratio} xy final $(xy*{minus_ratio}) xz final $(xz*{minus_ratio}) yz final $(yz*{minus_ratio}) remap units box
run 0
print "PARITY {name} minus $(pe:%.17g) $(vol:%.17g)"
"""


def check_cells(potential: Potential) -> list[Any]:
    """One small cell of each element alone (a model lacking one fails there, by name), then the MACE check's
    crystal, rattled-and-sheared crystal and dense random cell."""
    from harness.mace import parity_cells
    from harness.structures import random_hard_sphere
    singles = []
    for element in potential.elements:
        density = potential.masses[element] * 1.66053907 / 20.0   # 20 A^3 per atom, in g/cm^3
        cell = random_hard_sphere(element, 8, density, {f"{element}-{element}": 2.0}, seed=3)
        cell.name = f"only-{element}"
        singles.append(cell)
    return [*singles, *parity_cells(potential.elements)]


def _run(command: list[str], folder: Path, timeout: float, what: str, potential: Potential) -> str:
    build = find_lammps()
    try:
        proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout,
                              env=child_environment(build.library_dirs))
    except subprocess.TimeoutExpired:
        raise HarnessError(f"potential {potential.name}: {what} did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        text = proc.stdout + "\n" + proc.stderr
        error = next((l for l in text.splitlines() if l.startswith("ERROR")), None)
        if error is None:
            last = [l for l in text.splitlines() if l.strip()]
            error = f"exit status {proc.returncode}: {last[-1].strip() if last else 'no output'}"
        raise HarnessError(f"potential {potential.name}: {what} failed: {error.removeprefix('ERROR: ')}")
    return proc.stdout


def _lammps_side(potential: Potential, cells: list[Any], folder: Path, python: str) -> dict[str, dict[str, Any]]:
    """All cells in one runner process: each its own section of in.lammps, started with `clear`."""
    import numpy as np
    from harness.structures import write_lammps_data
    sections = []
    for cell in cells:
        write_lammps_data(cell, folder / f"data-{cell.name}.lmp", potential.elements, potential.masses,
                          force_triclinic=True)
        sections.append(_INPUT.format(name=cell.name, pair_lines="\n".join(potential.pair_lines({})),
                                      plus=1.0 + FD_STRAIN, minus_ratio=(1.0 - FD_STRAIN) / (1.0 + FD_STRAIN)))
    (folder / "in.lammps").write_text("".join(sections))
    for name, text in run_files(potential, {k: str(f.path) for k, f in potential.files.items()}).items():
        (folder / name).write_text(text)
    out = _run([python, "-u", "runner.py"], folder, 1800, "LAMMPS through the bridge", potential)
    values: dict[str, dict[str, list[float]]] = {cell.name: {} for cell in cells}
    for line in out.splitlines():
        if line.startswith("PARITY "):
            parts = line.split()
            values[parts[1]][parts[2]] = [float(v) for v in parts[3:]]
    sides = {}
    for cell in cells:
        dump = (folder / f"parity-{cell.name}.dump").read_text().splitlines()
        start = next(i for i, l in enumerate(dump) if l.startswith("ITEM: ATOMS")) + 1
        table = np.array([[float(v) for v in l.split()] for l in dump[start:start + cell.natoms]])
        xlo, xhi, ylo, yhi, zlo, zhi, xy, xz, yz = values[cell.name]["box"]
        box = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
        sides[cell.name] = {"values": values[cell.name], "types": table[:, 1].astype(int),
                            "positions": table[:, 2:5] - [xlo, ylo, zlo], "forces": table[:, 5:8], "box": box}
    return sides


def parity(potential: Potential, python: str) -> tuple[list[CellResult], list[str]]:
    import numpy as np
    from ase.data import atomic_numbers
    results = []
    cells = check_cells(potential)
    numbers = np.array([0, *(atomic_numbers[e] for e in potential.elements)])
    with tempfile.TemporaryDirectory(prefix="harness-calc-check-") as tmp:
        folder = Path(tmp)
        # the calculator alone first: a model that cannot be built or lacks an element fails here, by name
        structures = [{"name": c.name, "numbers": [atomic_numbers[s] for s in c.symbols],
                       "positions": c.positions.tolist(), "cell": np.asarray(c.cell).tolist()} for c in cells]
        for name, text in run_files(potential, {k: str(f.path) for k, f in potential.files.items()}).items():
            (folder / name).write_text(text)
        (folder / "probe.json").write_text(json.dumps(structures))
        _run([python, "-u", "runner.py", "--reference", "probe.json", "probe-out.json"], folder, 1800,
             "the calculator called through ASE", potential)
        sides = _lammps_side(potential, cells, folder, python)
        structures = [{"name": name, "numbers": numbers[side["types"]].tolist(), "positions": side["positions"].tolist(),
                       "cell": side["box"].tolist()} for name, side in sides.items()]
        (folder / "structures.json").write_text(json.dumps(structures))
        _run([python, "-u", "runner.py", "--reference", "structures.json", "reference.json"], folder, 1800,
             "the calculator called through ASE", potential)
        reference = json.loads((folder / "reference.json").read_text())
    for cell in cells:
        side, ref = sides[cell.name], reference[cell.name]
        results.append(compare_cell(cell.name, cell.natoms, side["values"], side["forces"], ref["energy"],
                                    np.array(ref["forces"]), np.array(ref["stress"]), CALCULATOR_CRITERIA))
    return results, [f for r in results for f in r.failures()]


def recorded_check(potential: Potential) -> RecordedCheck:
    """Where the check of a calculator potential is recorded, and what it is valid for."""
    return calculator_check(potential.source, {key: item.path for key, item in potential.files.items()})


def check_calculator_potential(potential: Potential) -> list[str]:
    """The whole check of a calculator potential; records NAME.check.json; raises at the first failure."""
    problems = verify_files(potential)
    if problems:
        raise HarnessError(problems[0])
    assert potential.calculator is not None
    python = interpreter_for(potential.calculator.python, potential.source)
    report = [f"files: {len(potential.files)} present, sha256 {'verified' if potential.files else 'n/a'}",
              f"calculator {potential.calculator.import_path} in {python}"]
    check = recorded_check(potential)
    record: dict[str, Any] = {"potential": potential.name, "fingerprint": check.fingerprint(), "python": python,
                              "tolerances": CALCULATOR_CRITERIA.tolerances(),
                              "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    started = time.time()
    path = check.path
    try:
        results, failures = parity(potential, python)
    except HarnessError as exc:
        record.update(passed=False, reason=str(exc))
        check.write(record)
        raise
    record.update(passed=not failures, reason="; ".join(failures), cells=[r.record() for r in results],
                  wall_s=round(time.time() - started, 2))
    check.write(record)
    if failures:
        raise HarnessError(f"potential {potential.name}: check against ASE failed: {failures[0]} (all results in {path})")
    crystal = results[len(potential.elements)]   # the first cell after the one-element ones
    report.append(f"0-step run through the bridge on {crystal.name} ({crystal.natoms} atoms): "
                  f"{crystal.energy_ev_per_atom:.6f} eV/atom, pressure {crystal.pressure_bar:.1f} bar")
    report += [f"LAMMPS vs ASE {r.summary()}" for r in results]
    report.append(f"check recorded in {path}")
    return report
