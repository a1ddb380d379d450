"""MACE models in LAMMPS through ML-IAP "unified": conversion, the non-KOKKOS shim, and the parity check.

Non-KOKKOS (CPU) builds. mace-torch's ``LAMMPS_MLIAP_MACE`` calls KOKKOS-only methods of the ML-IAP data object
(``forward_exchange``/``reverse_exchange`` to copy node features to ghost atoms between message-passing layers,
``update_pair_forces_gpu``). ``MliapMace`` below avoids ghost nodes altogether: every neighbour ``j`` of a pair is
replaced by the local atom that owns it (found through atom ids), while the pair vector ``rij`` stays the
image's. The graph then has one node per real atom, exactly as in ASE's periodic neighbour list, so no exchange is
needed; forces go back per pair through ``update_pair_forces`` (LAMMPS sums ghost forces into their owners and
tallies the virial from ``rij`` and ``fij``). Owners are only known when every ghost is an image of an atom on
the same rank: **one MPI rank per run** (``max_ranks_per_run = 1`` in the potential file; more ranks stop with an
error).

The atom ids come from the LAMMPS instance, which an ML-IAP model cannot reach by itself: the potential's
``commands`` hand it over with LAMMPS's ``python ... input 1 SELF`` (see ``ATTACH_COMMANDS``).

The model file is a pickle (``NAME.mliap.pkl``): LAMMPS's ML-IAP loads any file not ending in ``.pt`` with
``pickle.load``, which avoids torch's weights-only loading rules. Like every pickle it runs code when loaded:
the harness verifies its sha256 before every run.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # numpy is imported where used: `harness launch` imports this module and starts faster without it
    import numpy as np

from harness.check_record import RecordedCheck, check_record_path, mliap_check
from harness.errors import HarnessError
from harness.parity import CellResult, ParityCriteria, compare_cell
from harness.rundir import sha256_of

ATTACH_COMMANDS = [
    'python harness_mace_attach input 1 SELF format p here '
    '"from harness.mace_shim import attach_lammps as harness_mace_attach"',
    "python harness_mace_attach invoke",
]
MACE_CRITERIA = ParityCriteria(energy_eV_per_atom=1e-6, force_eV_per_A=1e-5, stress=1e-5, stress_unit="relative",
                               pressure_fraction=1e-3, pressure_bar=1.0, sign_above_bar=10.0)

# ------------------------------------------------------------------------------------------ models

def _torch() -> Any:
    """torch, imported (after mace, which must come before e3nn) only when needed: launching stays light."""
    try:
        import mace  # noqa: F401
        import torch
    except ImportError:
        raise HarnessError("MACE support needs torch and mace-torch: pip install -r requirements-mace.txt") from None
    return torch


def load_mace_model(path: Path) -> Any:
    """A MACE model from a ``.model`` file (torch.save of the whole module), with one-line errors."""
    torch = _torch()
    if not path.is_file():
        raise HarnessError(f"MACE model {path} does not exist")
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # any unpickling problem means: not a model file we can read
        raise HarnessError(f"{path} is not a MACE model file (torch.load failed: {str(exc).splitlines()[0][:160]}); "
                           "give the .model file written by MACE training") from None
    if not isinstance(model, torch.nn.Module) or not all(hasattr(model, a) for a in ("atomic_numbers", "r_max",
                                                                                       "interactions")):
        raise HarnessError(f"{path} is not a MACE model (a {type(model).__name__}, without atomic_numbers/r_max/"
                           "interactions); give the .model file written by MACE training")
    heads = list(getattr(model, "heads", None) or ["Default"])
    if len(heads) > 1:
        raise HarnessError(f"{path} is a multi-head MACE model (heads {heads}); the ML-IAP export supports one head: "
                           f"extract one first with `mace_select_head {path} --head_name NAME --output_file OUT.model`")
    return model.eval()


def model_elements(model: Any) -> list[str]:
    from ase.data import chemical_symbols
    return [chemical_symbols[int(z)] for z in model.atomic_numbers]


def make_tiny_model(path: Path, elements: tuple[str, ...] = ("Li", "P", "S"), seed: int = 0,
                    channels: int = 8, r_max: float = 5.0, float64: bool = True) -> Path:
    """A small MACE model with random weights (tests, benchmarks; not physical), saved like MACE training does."""
    import numpy as np
    torch = _torch()
    dtype = torch.float64 if float64 else torch.float32
    from ase.data import atomic_numbers
    from e3nn import o3
    from mace import modules
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        numbers = [atomic_numbers[e] for e in elements]
        interaction = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
        model = modules.ScaleShiftMACE(
            r_max=r_max, num_bessel=8, num_polynomial_cutoff=5, max_ell=2, interaction_cls=interaction,
            interaction_cls_first=interaction, num_interactions=2, num_elements=len(numbers),
            hidden_irreps=o3.Irreps(f"{channels}x0e + {channels}x1o"), MLP_irreps=o3.Irreps("16x0e"),
            atomic_energies=np.array([-1.9, -5.4, -4.1][:len(numbers)] + [-3.0] * max(0, len(numbers) - 3)),
            avg_num_neighbors=20.0, atomic_numbers=numbers, correlation=3, gate=torch.nn.functional.silu,
            pair_repulsion=True, atomic_inter_scale=1.0, atomic_inter_shift=0.0)
    finally:
        torch.set_default_dtype(previous)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)
    return path


# ------------------------------------------------------------------------------------------ add-mace

def potential_toml(name: str, elements: list[str], model_file: str, model_sha: str, source: str, r_max: float) -> str:
    commands = ",\n".join(f"    {json.dumps(c)}" for c in ATTACH_COMMANDS)
    return f"""# MACE model {source} through LAMMPS ML-IAP "unified", written by `harness potentials add-mace`.
# Runs with the LAMMPS of `harness build-lammps` (HARNESS_LMP=.lammps-mliap/bin/lmp or --lmp), one MPI rank per
# run (the non-KOKKOS shim in harness/mace.py). Verify with `harness potentials check {name}` before launching.
name = "{name}"
description = "MACE ({os.path.basename(source)}, r_max {r_max:g} A) via ML-IAP unified, non-KOKKOS shim"
elements = {json.dumps(elements)}
pair_style = "mliap unified {{{{ files.model }}}} 0"
pair_coeff = ["* * {{{{ elements }}}}"]
commands = [
{commands},
]
packages = ["ML-IAP", "PYTHON"]
timestep_fs = 1.0
max_ranks_per_run = 1

[files.model]
path = "{model_file}"
sha256 = "{model_sha}"
"""


KOKKOS_ARGS = ["-k", "on", "g", "1", "-sf", "kk", "-pk", "kokkos", "newton", "on", "neigh", "half"]


def kokkos_potential_toml(name: str, elements: list[str], model_file: str, model_sha: str, source: str,
                          r_max: float) -> str:
    return f"""# MACE model {source} through LAMMPS ML-IAP "unified" with KOKKOS (GPU), written by `harness potentials
# add-mace --kokkos`: mace-torch's own LAMMPS_MLIAP_MACE wrapper, run with the flags of the MACE documentation.
# Needs a KOKKOS+CUDA LAMMPS (`harness build-lammps --kokkos-cuda ARCH --source <official tarball>`).
name = "{name}"
description = "MACE ({os.path.basename(source)}, r_max {r_max:g} A) via ML-IAP unified, KOKKOS"
elements = {json.dumps(elements)}
pair_style = "mliap unified {{{{ files.model }}}} 0"
pair_coeff = ["* * {{{{ elements }}}}"]
packages = ["ML-IAP", "PYTHON", "KOKKOS"]
timestep_fs = 1.0

[files.model]
path = "{model_file}"
sha256 = "{model_sha}"

[accelerator.kokkos]
args = {json.dumps(KOKKOS_ARGS)}
"""


def add_mace(model_path: Path, name: str, elements: list[str] | None, out_dir: Path, force: bool = False,
             kokkos: bool = False) -> Path:
    """Convert ``model_path`` for ML-IAP and write ``out_dir/NAME.toml`` + ``out_dir/NAME.mliap.pkl``.

    Default: the CPU (non-KOKKOS) shim around the plain e3nn model. ``kokkos``: mace-torch's own wrapper for
    KOKKOS builds, cuequivariance-converted when cuequivariance is installed (as `mace_create_lammps_model`)."""
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise HarnessError(f"potential name {name!r}: use letters, digits, '-', '_' or '.'")
    model = load_mace_model(model_path)
    available = model_elements(model)
    chosen = list(elements) if elements else available
    missing = [e for e in chosen if e not in available]
    if missing:
        raise HarnessError(f"MACE model {model_path} has no element(s) {missing} (it has {available}); choose "
                           f"--elements among those")
    toml_path = out_dir / f"{name}.toml"
    pkl_path = out_dir / f"{name}.mliap.pkl"
    if toml_path.exists() and not force:
        raise HarnessError(f"{toml_path} exists; choose another --name or pass --force")
    out_dir.mkdir(parents=True, exist_ok=True)
    if kokkos:
        wrapped = _official_wrapper(model)
    else:
        from harness.mace_shim import MliapMace
        wrapped = MliapMace(model)
    with open(pkl_path, "wb") as handle:
        pickle.dump(wrapped, handle, protocol=pickle.HIGHEST_PROTOCOL)
    writer = kokkos_potential_toml if kokkos else potential_toml
    toml_path.write_text(writer(name, chosen, pkl_path.name, sha256_of(pkl_path), str(model_path), float(model.r_max)))
    stale = check_record_path(toml_path)
    if stale.exists():
        stale.unlink()
    return toml_path


def _official_wrapper(model: Any) -> Any:
    """mace-torch's LAMMPS_MLIAP_MACE, as its `mace_create_lammps_model --format=mliap` builds it."""
    import copy
    from mace.calculators.lammps_mliap_mace import LAMMPS_MLIAP_MACE
    try:
        from mace.cli.convert_e3nn_cueq import run as e3nn_to_cueq
        import cuequivariance  # noqa: F401
        import cuequivariance_torch  # noqa: F401
        model = e3nn_to_cueq(copy.deepcopy(model))
    except ImportError:
        pass  # plain e3nn model: slower on GPU, same results
    model.lammps_mliap = True
    return LAMMPS_MLIAP_MACE(model)


# ------------------------------------------------------------------------------------------ parity check

def is_mliap_unified(potential: Any) -> bool:
    return potential.pair_style.split()[:2] == ["mliap", "unified"]


def recorded_check(potential: Any) -> RecordedCheck:
    """Where the parity check of ``potential`` is recorded, and what it is valid for."""
    return mliap_check(Path(potential.source), {key: item.path for key, item in potential.files.items()})


def parity_cells(elements: list[str], seed: int = 7, masses: dict[str, float] | None = None) -> list[Any]:
    """Crystal, rattled + sheared crystal, dense random cell (all triclinic-capable), as Structures, for any
    element set. Li-P-S: the Li7P3S11 crystal and a dense 42-atom Li7P3S11 cell. Otherwise the "crystal" is a random
    cell of every element at a typical solid's packing, and the dense cell is 30 % denser. Random cells hold
    every element; sizes and minimum distances scale with the covalent radii (ASE), so that they exist for any
    elements. ``masses`` (amu; default ASE's atomic masses) set the densities of the random cells."""
    from ase.data import atomic_masses, atomic_numbers, covalent_radii
    import numpy as np
    from harness.render import find_structure
    from harness.structures import Structure, random_hard_sphere, read_cif
    from harness.units import AVOGADRO_PER_MOL, CM_PER_ANGSTROM
    rng = np.random.default_rng(seed)
    species = sorted(set(elements))
    radius = {e: float(covalent_radii[atomic_numbers[e]]) for e in species}
    mass = {e: (masses or {}).get(e) or float(atomic_masses[atomic_numbers[e]]) for e in species}

    def pairs(fraction: float) -> dict[str, float]:
        """Minimum distances: ``fraction`` of the sum of the covalent radii of each pair."""
        return {f"{a}-{b}": fraction * (radius[a] + radius[b]) for a in species for b in species if a <= b}

    def density_for(volume_per_radius3: float) -> float:
        """g/cm^3 of the formula's atoms at ``volume_per_radius3`` * (mean covalent radius)^3 Å^3 per atom
        (Li7P3S11 at its 1.87 g/cm^3: 14.5)."""
        mean_radius = sum(radius[e] for e in species) / len(species)
        mean_mass_g = sum(mass[e] for e in species) / len(species) / AVOGADRO_PER_MOL
        return mean_mass_g / (volume_per_radius3 * mean_radius**3 * CM_PER_ANGSTROM**3)

    if set(elements) == {"Li", "P", "S"}:
        crystal = read_cif(find_structure("Li7P3S11", Path.cwd()), name="Li7P3S11")
        dense = random_hard_sphere("Li7P3S11", 42, 2.6, {key: 1.6 for key in pairs(1.0)}, seed=seed)
        dense.name = "dense-random-Li7P3S11"
    else:
        formula, natoms = "".join(species), 8 * len(species)
        if {"Li", "P", "S"} <= set(elements):
            crystal = read_cif(find_structure("Li7P3S11", Path.cwd()), name="Li7P3S11")
        else:
            crystal = random_hard_sphere(formula, natoms, density_for(14.5), pairs(0.8), seed=seed, masses=mass)
            crystal.name = "random-" + formula
        dense = random_hard_sphere(formula, natoms, density_for(14.5 / 1.3), pairs(0.7), seed=seed, masses=mass)
        dense.name = f"dense-random-{formula}"
    strain = np.eye(3) + np.array([[0.01, 0.02, 0.0], [0.0, -0.01, 0.015], [0.01, 0.0, 0.005]])
    rattled = Structure(symbols=list(crystal.symbols), cell=crystal.cell @ strain,
                        positions=crystal.positions @ strain + rng.normal(0.0, 0.08, crystal.positions.shape),
                        name=f"{crystal.name}-rattled-sheared")
    return [crystal, rattled, dense]


_PARITY_INPUT = """units metal
atom_style atomic
boundary p p p
read_data data.lmp
{pair_lines}
thermo_style custom step pe press pxx pyy pzz pxy pxz pyz vol
thermo_modify format float %20.15g
dump forces all custom 1 forces.dump id type fx fy fz
dump_modify forces format float %22.16g sort id
run 0
print "PARITY base $(pe:%.16g) $(pxx:%.16g) $(pyy:%.16g) $(pzz:%.16g) $(pyz:%.16g) $(pxz:%.16g) $(pxy:%.16g) $(vol:%.16g)"
undump forces
{scale_plus}
run 0
print "PARITY plus $(pe:%.16g) $(vol:%.16g)"
{scale_minus}
run 0
print "PARITY minus $(pe:%.16g) $(vol:%.16g)"
"""


def _change_box(box: np.ndarray, factor: float) -> str:
    lx, ly, lz = box[0, 0] * factor, box[1, 1] * factor, box[2, 2] * factor
    xy, xz, yz = box[1, 0] * factor, box[2, 0] * factor, box[2, 1] * factor
    tilt = f" xy final {xy:.14f} xz final {xz:.14f} yz final {yz:.14f}" if box[1, 0] or box[2, 0] or box[2, 1] else ""
    return (f"change_box all x final 0 {lx:.14f} y final 0 {ly:.14f} z final 0 {lz:.14f}{tilt} remap units box")


def _run_lammps_cell(structure: Any, potential: Any, build: Any, folder: Path, h: float) -> tuple[dict, np.ndarray,
                                                                                                  np.ndarray, Any]:
    import numpy as np
    from harness.lammps_env import child_environment
    from harness.structures import lammps_box, to_lammps_positions, write_lammps_data
    box, xy, xz, yz = lammps_box(structure.cell)
    positions = to_lammps_positions(structure, box)
    write_lammps_data(structure, folder / "data.lmp", potential.elements, potential.masses, force_triclinic=True)
    lines = potential.pair_lines({k: str(f.path) for k, f in potential.files.items()})
    (folder / "in.lammps").write_text(_PARITY_INPUT.format(
        pair_lines="\n".join(lines), scale_plus=_change_box(box, 1.0 + h), scale_minus=_change_box(box, 1.0 - h)))
    accel = potential.accelerators.get("kokkos", []) if "KOKKOS" in build.packages else []
    proc = subprocess.run([build.executable, *accel, "-in", "in.lammps", "-log", "log.lammps", "-nocite"], cwd=folder,
                          capture_output=True, text=True, timeout=900, env=child_environment(build.library_dirs))
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        error = next((l for l in text.splitlines() if "ERROR" in l or "Error" in l), f"exit status {proc.returncode}")
        if "python support" in error.lower() or "Unrecognized pair style 'mliap'" in error:
            raise HarnessError(f"LAMMPS {build.executable} has no ML-IAP Python support ({error.strip()}); build "
                               "one with `harness build-lammps` and use HARNESS_LMP=.lammps-mliap/bin/lmp")
        raise HarnessError(f"potential {potential.name}: LAMMPS run on {structure.name} failed: {error.strip()[:300]}")
    values: dict[str, list[float]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("PARITY "):
            parts = line.split()
            values[parts[1]] = [float(v) for v in parts[2:]]
    dump = (folder / "forces.dump").read_text().splitlines()
    start = next(i for i, l in enumerate(dump) if l.startswith("ITEM: ATOMS")) + 1
    forces = np.array([[float(v) for v in l.split()[2:5]] for l in dump[start:start + structure.natoms]])
    return values, forces, positions, box


def _ase_reference(structure: Any, positions: np.ndarray, box: np.ndarray, calculator: Any) -> tuple[float,
                                                                                                      np.ndarray,
                                                                                                      np.ndarray]:
    from ase import Atoms
    atoms = Atoms(symbols=structure.symbols, positions=positions, cell=box, pbc=True)
    atoms.calc = calculator
    return float(atoms.get_potential_energy()), atoms.get_forces(), atoms.get_stress(voigt=True)


def mace_calculator_for(potential: Any) -> Any:
    """ASE's MACECalculator on the model inside the potential's ML-IAP pickle."""
    from mace.calculators import MACECalculator
    with open(potential.files["model"].path, "rb") as handle:
        wrapped = pickle.load(handle)
    model = wrapped.model.model
    if not hasattr(model, "interactions") or any("cuequivariance" in type(m).__module__ for m in model.modules()):
        raise HarnessError(f"potential {potential.name}: the model inside {potential.files['model'].path} is not a "
                           "plain e3nn MACE model; check against ASE with the original .model file")
    dtype = "float64" if model.r_max.dtype == _torch().float64 else "float32"
    return MACECalculator(models=model, device="cpu", default_dtype=dtype)


def parity_check(potential: Any, build: Any, h: float = 1e-4) -> tuple[bool, list[CellResult], list[str]]:
    calculator = mace_calculator_for(potential)
    results: list[CellResult] = []
    for cell in parity_cells(potential.elements, masses=potential.masses):
        with tempfile.TemporaryDirectory(prefix="harness-parity-") as tmp:
            values, forces, positions, box = _run_lammps_cell(cell, potential, build, Path(tmp), h)
        energy, ase_forces, ase_stress = _ase_reference(cell, positions, box, calculator)
        results.append(compare_cell(cell.name, cell.natoms, values, forces, energy, ase_forces, ase_stress,
                                    MACE_CRITERIA))
    failures = [f for r in results for f in r.failures()]
    return not failures, results, failures


def mace_parity_check(potential: Any, build: Any) -> list[str]:
    """The parity part of ``harness potentials check``: records ``NAME.check.json``; raises on failure."""
    started = time.time()
    check = recorded_check(potential)
    record: dict[str, Any] = {"potential": potential.name, "fingerprint": check.fingerprint(),
                              "lmp": build.executable, "lammps_version": build.version,
                              "tolerances": MACE_CRITERIA.tolerances(), "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        passed, results, failures = parity_check(potential, build)
    except HarnessError as exc:
        record.update(passed=False, reason=str(exc))
        check.write(record)
        raise
    record.update(passed=passed, reason="; ".join(failures), cells=[r.record() for r in results],
                  wall_s=round(time.time() - started, 2))
    check.write(record)
    if not passed:
        raise HarnessError(f"potential {potential.name}: parity check against ASE MACECalculator failed: {failures[0]}"
                           f" (all results in {check.path})")
    return [*(f"parity vs ASE {r.summary()}" for r in results), f"parity check recorded in {check.path}"]
