"""harness potentials check NAME: files and hashes, the LAMMPS build's packages, and a 0-step run on a small
Li-P-S cell (or a random cell of the potential's own elements)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from harness.errors import HarnessError
from harness.lammps_env import child_environment, find_lammps
from harness.potentials import Potential, verify_files
from harness.render import find_structure, template_environment
from harness.structures import Structure, random_hard_sphere, read_cif, write_lammps_data


def _test_cell(potential: Potential) -> Structure:
    if {"Li", "P", "S"} <= set(potential.elements):
        return read_cif(find_structure("Li7P3S11", Path.cwd()), name="Li7P3S11")
    formula = "".join(potential.elements)
    return random_hard_sphere(formula, 8 * len(potential.elements), 2.0,
                              {f"{a}-{b}" if a <= b else f"{b}-{a}": 1.5 for a in potential.elements
                               for b in potential.elements}, seed=1, masses=potential.masses)


def check_potential(potential: Potential, lmp: str | None = None) -> list[str]:
    """Run every check; returns lines of a report. Raises HarnessError at the first failed check."""
    if potential.calculator is not None:   # an ASE calculator through fix external: its own check
        from harness.calculator_check import check_calculator_potential
        return check_calculator_potential(potential)
    report = []
    problems = verify_files(potential)
    if problems:
        raise HarnessError(problems[0])
    report.append(f"files: {len(potential.files)} present, sha256 {'verified' if potential.files else 'n/a'}")
    build = find_lammps(lmp)
    missing = [p for p in potential.packages if p not in build.packages]
    if missing:
        raise HarnessError(f"potential {potential.name}: LAMMPS {build.executable} lacks packages {missing} (use "
                           "--lmp or HARNESS_LMP; for ML-IAP Python models such as MACE: `harness build-lammps`, "
                           "then HARNESS_LMP=.lammps-mliap/bin/lmp)")
    report.append(f"LAMMPS {build.version} ({build.origin}) has packages {potential.packages or '(none needed)'}")
    cell = _test_cell(potential)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_lammps_data(cell, folder / "data.lmp", potential.elements, potential.masses)
        lines = potential.pair_lines({k: str(f.path) for k, f in potential.files.items()})
        text = template_environment().get_template("single_point.lammps.j2").render(
            run={"structure": cell.name, "natoms": cell.natoms}, params={"formula": cell.name},
            potential=potential, potential_lines=lines)
        (folder / "in.lammps").write_text(text)
        proc = subprocess.run([build.executable, "-in", "in.lammps", "-log", "log.lammps"], cwd=folder,
                              capture_output=True, text=True, timeout=600, env=child_environment(build.library_dirs))
        if proc.returncode != 0 or not (folder / "result.json").is_file():
            error = next((l for l in proc.stdout.splitlines() if l.startswith("ERROR")), f"exit status {proc.returncode}")
            raise HarnessError(f"potential {potential.name}: 0-step run failed: {error}")
        result = json.loads((folder / "result.json").read_text())
    energy = result["energy_eV"] / result["natoms"]
    if energy != energy or abs(energy) > 1e6:
        raise HarnessError(f"potential {potential.name}: 0-step run gave a non-finite energy ({energy})")
    report.append(f"0-step run on {cell.name} ({cell.natoms} atoms): {energy:.6f} eV/atom, "
                  f"pressure {result['pressure_bar']:.1f} bar")
    from harness.mace import is_mliap_unified, mace_parity_check
    if is_mliap_unified(potential):  # MACE through ML-IAP: parity against ASE, recorded for `harness launch`
        report += mace_parity_check(potential, build)
    return report
