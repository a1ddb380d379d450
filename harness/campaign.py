"""Campaign files (inputs/*.toml): which tasks, potentials, structures and protocol parameters to run.

Defaults are the LiPS-25 paper's protocols (Fragapane & Deringer, JCTC 2026). Every field can be overridden;
units are in the field names (K, Pa, ps, fs, Å, g/cm^3). Unknown sections or fields are errors naming them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.meltquench_protocols import VARIANTS as MELT_QUENCH_VARIANTS
from harness.units import parse_pressure_pa


@dataclass
class CampaignSettings:
    name: str = "campaign"
    potentials: list[str] = field(default_factory=list)
    seed: int = 2026
    wall_time_s: float = 86400.0       # per-run wall-clock limit
    restart_every_ps: float = 10.0     # checkpoint segments of MD runs: a restart file and a fresh LAMMPS set-up
    thermo_every_ps: float = 0.1       # progress / finite-value checks
    timestep_fs: float | None = None   # None: each potential's suggested timestep
    templates: str = ""                # a folder of templates that override the shipped ones (same names)


@dataclass
class ConductivityTask:
    """Task 3: NVT anneals of crystalline Li7P3S11 for Li-ion diffusion (paper: 672 atoms, 400-800 K, 500 ps, 3 repeats)."""
    structure: str = "Li7P3S11"
    supercell: list[int] = field(default_factory=lambda: [4, 2, 2])
    temperatures_K: list[float] = field(default_factory=lambda: [400.0, 500.0, 600.0, 700.0, 800.0])
    duration_ps: float = 500.0
    equilibration_ps: float = 10.0
    repeats: int = 3
    dump_interval_ps: float = 1.0
    thermostat_damping_fs: float = 100.0
    timestep_fs: float | None = None


@dataclass
class RobustnessTask:
    """Task 4: NPT on a T x p grid from a relaxed random hard-sphere cell (paper: 1008 atoms, 100 ps, 3 repeats)."""
    formula: str = "Li7P3S11"
    natoms: int = 1008
    density_g_cm3: float = 1.87
    min_distance_A: dict[str, float] = field(default_factory=dict)  # empty: harness defaults per pair
    temperatures_K: list[float] = field(default_factory=lambda: [1000.0, 2000.0, 4000.0, 8000.0, 16000.0])
    pressures_Pa: list[Any] = field(default_factory=lambda: [1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12])
    duration_ps: float = 100.0
    repeats: int = 3
    dump_interval_ps: float = 1.0
    relax: bool = True
    relax_max_iterations: int = 1000
    relax_force_tolerance_eV_per_A: float = 1.0e-3
    thermostat_damping_fs: float = 100.0
    barostat_damping_fs: float = 1000.0
    timestep_fs: float | None = None


@dataclass
class MeltQuenchTask:
    """Task 2 trajectory: heat T_low -> T_high, hold, quench to T_low (NPT or NVT); or the paper's Iter1 / Iter2
    melt-quench grids (variants "iter1", "iter2": see harness/meltquench_protocols.py)."""
    structure: str = "Li7P3S11"
    supercell: list[int] = field(default_factory=lambda: [4, 2, 2])
    variants: list[str] = field(default_factory=lambda: ["npt"])
    T_low_K: float = 300.0
    T_high_K: float = 1500.0
    heating_rate_K_per_ps: float = 10.0
    quench_rate_K_per_ps: float = 10.0
    hold_ps: float = 50.0
    anneal_ps: float | None = None     # at the final temperature after the quench; None: 0 (iter2: 10 ps)
    pressure_Pa: Any = 1.0e5
    dump_interval_ps: float = 5.0
    thermostat_damping_fs: float = 100.0
    barostat_damping_fs: float = 1000.0
    repeats: int = 1
    timestep_fs: float | None = None


@dataclass
class ForcesTask:
    """Task 2: single-point forces of the potential on every frame of a reference extxyz (with reference forces)."""
    reference: str = ""


@dataclass
class FormationTask:
    """Task 1: energies of crystals relaxed with the potential and/or single points on given (DFT-relaxed) ones."""
    structures: list[str] = field(default_factory=list)        # relaxed with the potential
    single_point: list[str] = field(default_factory=list)      # evaluated as given
    relax_box: bool = True
    reference: str = ""                                        # reference CSV for analysis (optional)


TASKS: dict[str, type] = {
    "conductivity": ConductivityTask,
    "robustness": RobustnessTask,
    "melt_quench": MeltQuenchTask,
    "forces": ForcesTask,
    "formation": FormationTask,
}


@dataclass
class Campaign:
    settings: CampaignSettings
    tasks: dict[str, Any]
    source: Path
    text: str


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise HarnessError(f"{where}: must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise HarnessError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(known)})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        default = known[key].default if known[key].default is not dataclasses.MISSING else known[key].default_factory()  # type: ignore[misc]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise HarnessError(f"{where}.{key}: expected true or false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            raise HarnessError(f"{where}.{key}: expected a number, got {value!r}")
        if isinstance(default, str) and not isinstance(value, str):
            raise HarnessError(f"{where}.{key}: expected a string, got {value!r}")
        if isinstance(default, list) and not isinstance(value, list):
            raise HarnessError(f"{where}.{key}: expected a list, got {value!r}")
        values[key] = value
    return cls(**values)


def _positive(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise HarnessError(f"{where}: must be a positive number, got {value!r}")


def _validate(name: str, task: Any) -> None:
    where = f"[{name}]"
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        if f.name.endswith(("_ps", "_fs", "_K", "_g_cm3", "_per_ps")) and value is not None and not isinstance(value, list):
            if f.name in ("equilibration_ps", "hold_ps", "anneal_ps"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise HarnessError(f"{where}.{f.name}: must be zero or positive, got {value!r}")
            else:
                _positive(value, f"{where}.{f.name}")
        if f.name.endswith("_K") and isinstance(value, list):
            if not value:
                raise HarnessError(f"{where}.{f.name}: must list at least one temperature")
            for v in value:
                _positive(v, f"{where}.{f.name}")
    if hasattr(task, "repeats"):
        if isinstance(task.repeats, bool) or not isinstance(task.repeats, int) or task.repeats < 1:
            raise HarnessError(f"{where}.repeats: must be a positive integer, got {task.repeats!r}")
    if hasattr(task, "supercell"):
        if len(task.supercell) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in task.supercell):
            raise HarnessError(f"{where}.supercell: must be three positive integers, got {task.supercell!r}")
    if isinstance(task, RobustnessTask):
        if not task.pressures_Pa:
            raise HarnessError(f"{where}.pressures_Pa: must list at least one pressure")
        parsed = []
        for p in task.pressures_Pa:
            try:
                parsed.append(parse_pressure_pa(p))
            except ValueError as exc:
                raise HarnessError(f"{where}.pressures_Pa: {exc}") from None
        if any(p <= 0 for p in parsed):
            raise HarnessError(f"{where}.pressures_Pa: pressures must be positive, got {task.pressures_Pa!r}")
        task.pressures_Pa = parsed
        if isinstance(task.natoms, bool) or not isinstance(task.natoms, int) or task.natoms < 1:
            raise HarnessError(f"{where}.natoms: must be a positive integer, got {task.natoms!r}")
        if isinstance(task.relax_max_iterations, bool) or not isinstance(task.relax_max_iterations, int) \
                or task.relax_max_iterations < 1:
            raise HarnessError(f"{where}.relax_max_iterations: must be a positive integer, got {task.relax_max_iterations!r}")
        _positive(task.relax_force_tolerance_eV_per_A, f"{where}.relax_force_tolerance_eV_per_A")
    if isinstance(task, MeltQuenchTask):
        try:
            task.pressure_Pa = parse_pressure_pa(task.pressure_Pa)
        except ValueError as exc:
            raise HarnessError(f"{where}.pressure_Pa: {exc}") from None
        if task.T_high_K <= task.T_low_K:
            raise HarnessError(f"{where}: T_high_K ({task.T_high_K}) must be above T_low_K ({task.T_low_K})")
        allowed = set(MELT_QUENCH_VARIANTS)
        for variant in task.variants:
            if variant not in allowed:
                raise HarnessError(f"{where}.variants: unknown variant {variant!r} (known: {', '.join(sorted(allowed))})")
    if isinstance(task, ForcesTask) and not task.reference:
        raise HarnessError(f"{where}.reference: give the extxyz file with reference forces")
    if isinstance(task, FormationTask) and not (task.structures or task.single_point):
        raise HarnessError(f"{where}: list crystals under 'structures' (relaxed) or 'single_point'")


def parse_campaign(text: str, source: Path) -> Campaign:
    where = f"campaign {source}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{where}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - {"campaign", *TASKS})
    if unknown:
        raise HarnessError(f"{where}: unknown task or section [{unknown[0]}] (known: campaign, {', '.join(TASKS)})")
    settings = _build(CampaignSettings, data.get("campaign", {}), f"{where}: [campaign]")
    if not settings.potentials:
        raise HarnessError(f"{where}: [campaign].potentials: list at least one potential")
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, int) or settings.seed < 0:
        raise HarnessError(f"{where}: [campaign].seed must be a non-negative integer")
    for key in ("wall_time_s", "restart_every_ps", "thermo_every_ps"):
        _positive(getattr(settings, key), f"{where}: [campaign].{key}")
    if settings.timestep_fs is not None:
        _positive(settings.timestep_fs, f"{where}: [campaign].timestep_fs")
    tasks = {}
    for name, cls in TASKS.items():
        if name in data:
            task = _build(cls, data[name], f"{where}: [{name}]")
            try:
                _validate(name, task)
            except HarnessError as exc:
                raise HarnessError(f"{where}: {exc}") from None
            tasks[name] = task
    if not tasks:
        raise HarnessError(f"{where}: no tasks (add at least one of [{'], ['.join(TASKS)}])")
    return Campaign(settings=settings, tasks=tasks, source=source, text=text)


def load_campaign(path: Path) -> Campaign:
    try:
        text = path.read_text()
    except OSError as exc:
        raise HarnessError(f"cannot read campaign file {path}: {exc.strerror}") from None
    return parse_campaign(text, path)
