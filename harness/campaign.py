"""Campaign files (inputs/*.toml): which tasks, potentials, structures and protocol parameters to run.

Defaults are the LiPS-25 paper's protocols (Fragapane & Deringer, JCTC 2026). Every field can be overridden;
units are in the field names (K, Pa, ps, fs, Å, g/cm^3). The file is validated by one strict schema (the models
below, pydantic v2): unknown sections or fields, wrong types, non-finite or out-of-range numbers, bad units and
unknown elements are errors of one line naming the file and the field (README "Campaign files" lists the ranges).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, Strict, ValidationError, field_validator, model_validator

from harness.errors import HarnessError
from harness.meltquench_protocols import VARIANTS as MELT_QUENCH_VARIANTS
from harness.schema import (NonEmptyLine, OptionalPathText, PathText, StrictModel, check_element, error_line, fail, integer,
                            name_pattern, number, pressure)
from harness.structures import DEFAULT_MIN_DISTANCE_A, formula_counts, pair_key

# Ranges: physical limits where there are some, else generous bounds that still catch typos and overflows.
Temperature = number(maximum=1e5, unit="K")
Duration = number(maximum=1e6, unit="ps")
NonNegativeDuration = number(inclusive=True, maximum=1e6, unit="ps")
Timestep = number(at_least=0.01, maximum=100.0, unit="fs")
Damping = number(maximum=1e7, unit="fs")
Rate = number(maximum=1e9, unit="K/ps")
Repeats = integer(minimum=1, maximum=1000)
SupercellRepeat = integer(minimum=1, maximum=64)
Seed = integer(minimum=0, maximum=2**63 - 1)
WallTime = number(maximum=1e9, unit="s")
AtomCount = integer(minimum=1, maximum=100_000)
Density = number(maximum=30.0, unit="g/cm^3")
Iterations = integer(minimum=1, maximum=10_000_000)
ForceTolerance = number(maximum=1e3, unit="eV/Å")
PairDistance = number(maximum=10.0, unit="Å")
GridPressure = pressure(inclusive_zero=False)    # robustness grid: positive (run ids and plots are logarithmic)
Pressure = pressure(inclusive_zero=True)


def _structure_ref(value: str) -> str:
    """A structure is a name (NAME.cif / NAME_*.cif in the structure folders) or a path ending in .cif."""
    if value.lower().endswith(".cif"):
        return value
    name_pattern("structure name")(value)
    return value


StructureRef = Annotated[PathText, AfterValidator(_structure_ref)]
FilePath = PathText        # relative to the campaign file
PotentialRef = PathText    # a name of potentials/NAME.toml, or a path
Supercell = Annotated[list[SupercellRepeat], Field(min_length=3, max_length=3)]
Temperatures = Annotated[list[Temperature], Field(min_length=1)]


class CampaignSettings(StrictModel):
    name: NonEmptyLine = "campaign"
    potentials: Annotated[list[PotentialRef], Field(min_length=1,
                                                    description="names of potentials/*.toml or paths")]
    seed: Seed = 2026
    wall_time_s: WallTime = 86400.0      # per-run wall-clock limit
    restart_every_ps: Duration = 10.0     # checkpoint segments of MD runs: a restart file and a fresh LAMMPS set-up
    thermo_every_ps: Duration = 0.1       # progress / finite-value checks
    timestep_fs: Timestep | None = None   # None: each potential's suggested timestep
    templates: OptionalPathText = ""      # a folder of templates that override the shipped ones (same names)


class ConductivityTask(StrictModel):
    """Task 3: NVT anneals of crystalline Li7P3S11 for Li-ion diffusion (paper: 672 atoms, 400-800 K, 500 ps, 3 repeats)."""
    structure: StructureRef = "Li7P3S11"
    supercell: Supercell = Field(default_factory=lambda: [4, 2, 2])
    temperatures_K: Temperatures = Field(default_factory=lambda: [400.0, 500.0, 600.0, 700.0, 800.0])
    duration_ps: Duration = 500.0
    equilibration_ps: NonNegativeDuration = 10.0
    repeats: Repeats = 3
    dump_interval_ps: Duration = 1.0
    thermostat_damping_fs: Damping = 100.0
    timestep_fs: Timestep | None = None


class RobustnessTask(StrictModel):
    """Task 4: NPT on a T x p grid from a relaxed random hard-sphere cell (paper: 1008 atoms, 100 ps, 3 repeats)."""
    formula: NonEmptyLine = "Li7P3S11"
    natoms: AtomCount = 1008
    density_g_cm3: Density = 1.87
    # per species pair "A-B" in Å; pairs not given take DEFAULT_MIN_DISTANCE_A. Keys are stored sorted ("P-S").
    min_distance_A: dict[Annotated[str, Strict()], PairDistance] = Field(default_factory=dict)
    temperatures_K: Temperatures = Field(default_factory=lambda: [1000.0, 2000.0, 4000.0, 8000.0, 16000.0])
    pressures_Pa: Annotated[list[GridPressure], Field(min_length=1)] = Field(
        default_factory=lambda: [1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12])
    duration_ps: Duration = 100.0
    repeats: Repeats = 3
    dump_interval_ps: Duration = 1.0
    relax: Annotated[bool, Strict()] = True
    relax_max_iterations: Iterations = 1000
    relax_force_tolerance_eV_per_A: ForceTolerance = 1.0e-3
    thermostat_damping_fs: Damping = 100.0
    barostat_damping_fs: Damping = 1000.0
    timestep_fs: Timestep | None = None

    @field_validator("formula")
    @classmethod
    def _formula(cls, value: str) -> str:
        try:
            counts = formula_counts(value)
        except HarnessError as exc:
            raise fail(str(exc)) from None
        for symbol in counts:
            check_element(symbol)
        if any(n < 1 for n in counts.values()):
            raise fail(f"cannot read chemical formula {value!r}: every element needs a count of at least 1")
        return value

    @field_validator("min_distance_A")
    @classmethod
    def _pairs(cls, value: dict[str, float]) -> dict[str, float]:
        pairs: dict[str, float] = {}
        for key, distance in value.items():
            match = re.fullmatch(r"([A-Z][a-z]?)-([A-Z][a-z]?)", key)
            if not match:
                raise fail(f"pair {key!r} is not two element symbols joined by '-' (write e.g. 'P-S')")
            for symbol in match.groups():
                check_element(symbol)
            sorted_key = pair_key(*match.groups())
            if sorted_key in pairs:
                raise fail(f"pair {sorted_key} is given twice (as {key!r} too)")
            pairs[sorted_key] = distance
        return pairs

    @model_validator(mode="after")
    def _cell(self) -> RobustnessTask:
        counts = formula_counts(self.formula)
        per_unit = sum(counts.values())
        if self.natoms % per_unit:
            raise fail(f"natoms = {self.natoms} is not a multiple of the {per_unit} atoms of {self.formula}")
        distances = {**DEFAULT_MIN_DISTANCE_A, **self.min_distance_A}
        species = sorted(counts)
        for i, a in enumerate(species):
            for b in species[i:]:
                if pair_key(a, b) not in distances:
                    raise fail(f"min_distance_A: no entry for pair {pair_key(a, b)} of {self.formula} "
                               f"(give it in Å, e.g. min_distance_A = {{ \"{pair_key(a, b)}\" = 2.0 }})")
        return self


class MeltQuenchTask(StrictModel):
    """Task 2 trajectory: heat T_low -> T_high, hold, quench to T_low (NPT or NVT); or the paper's Iter1 / Iter2
    melt-quench grids (variants "iter1", "iter2": see harness/meltquench_protocols.py)."""
    structure: StructureRef = "Li7P3S11"
    supercell: Supercell = Field(default_factory=lambda: [4, 2, 2])
    variants: Annotated[list[Literal[MELT_QUENCH_VARIANTS]], Field(min_length=1)] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["npt"])
    T_low_K: Temperature = 300.0
    T_high_K: Temperature = 1500.0
    heating_rate_K_per_ps: Rate = 10.0
    quench_rate_K_per_ps: Rate = 10.0
    hold_ps: NonNegativeDuration = 50.0
    anneal_ps: NonNegativeDuration | None = None   # at the final temperature after the quench; None: 0 (iter2: 10 ps)
    pressure_Pa: Pressure = 1.0e5
    dump_interval_ps: Duration = 5.0
    thermostat_damping_fs: Damping = 100.0
    barostat_damping_fs: Damping = 1000.0
    repeats: Repeats = 1
    timestep_fs: Timestep | None = None

    @model_validator(mode="after")
    def _order(self) -> MeltQuenchTask:
        if self.T_high_K <= self.T_low_K:
            raise fail(f"T_high_K ({self.T_high_K:g}) must be above T_low_K ({self.T_low_K:g})")
        return self


class ForcesTask(StrictModel):
    """Task 2: single-point forces of the potential on every frame of a reference extxyz (with reference forces)."""
    reference: FilePath = Field(description="give the extxyz file with reference forces")


class FormationTask(StrictModel):
    """Task 1: energies of crystals relaxed with the potential and/or single points on given (DFT-relaxed) ones."""
    structures: list[StructureRef] = Field(default_factory=list)        # relaxed with the potential
    single_point: list[StructureRef] = Field(default_factory=list)      # evaluated as given
    relax_box: Annotated[bool, Strict()] = True
    reference: OptionalPathText = ""                                    # reference CSV for analysis (optional)

    @model_validator(mode="after")
    def _something(self) -> FormationTask:
        if not (self.structures or self.single_point):
            raise fail("list crystals under 'structures' (relaxed) or 'single_point'")
        return self


Task = ConductivityTask | RobustnessTask | MeltQuenchTask | ForcesTask | FormationTask

TASKS: dict[str, type[StrictModel]] = {
    "conductivity": ConductivityTask,
    "robustness": RobustnessTask,
    "melt_quench": MeltQuenchTask,
    "forces": ForcesTask,
    "formation": FormationTask,
}


class CampaignFile(StrictModel):
    """The whole file: [campaign] and at least one task table."""
    campaign: CampaignSettings
    conductivity: ConductivityTask | None = None
    robustness: RobustnessTask | None = None
    melt_quench: MeltQuenchTask | None = None
    forces: ForcesTask | None = None
    formation: FormationTask | None = None

    @model_validator(mode="after")
    def _some_task(self) -> CampaignFile:
        if all(getattr(self, name) is None for name in TASKS):
            raise fail(f"no tasks (add at least one of [{'], ['.join(TASKS)}])")
        return self


@dataclass
class Campaign:
    settings: CampaignSettings
    tasks: dict[str, Task]
    source: Path
    text: str


def parse_campaign(text: str, source: Path) -> Campaign:
    where = f"campaign {source}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{where}: invalid TOML: {exc}") from None
    except RecursionError:
        raise HarnessError(f"{where}: invalid TOML: nested too deeply") from None
    try:
        parsed = CampaignFile.model_validate(data)
    except ValidationError as exc:
        raise HarnessError(f"{where}: {error_line(exc, CampaignFile, lambda loc: 1, top_is_sections=True)}") from None
    tasks = {name: getattr(parsed, name) for name in TASKS if getattr(parsed, name) is not None}
    return Campaign(settings=parsed.campaign, tasks=tasks, source=source, text=text)


def load_campaign(path: Path) -> Campaign:
    try:
        text = path.read_text()
    except OSError as exc:
        raise HarnessError(f"cannot read campaign file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HarnessError(f"campaign {path}: not a UTF-8 text (TOML) file") from None
    return parse_campaign(text, path)
