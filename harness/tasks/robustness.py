"""Task 4, robustness: NPT on a temperature x pressure grid from one relaxed random hard-sphere cell (the same cell
for every potential), for survival and close contacts (analysis/). Section [robustness]; runs
t4-robustness-POTENTIAL-TT-pP-rR; robustness.lammps.j2."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import Field, Strict, field_validator, model_validator

from harness.elements import MASS_AMU, formula_counts
from harness.errors import HarnessError
from harness.schema import NonEmptyLine, StrictModel, check_element, fail
from harness.structures import DEFAULT_MIN_DISTANCE_A, pair_key, random_hard_sphere
from harness.tasks.fields import (AtomCount, Damping, Density, Duration, ForceTolerance, GridPressure, Iterations,
                                  PairDistance, Repeats, Temperatures, Timestep)
from harness.tasks.planning import PlanContext, PlannedRun, Task
from harness.units import fs_to_ps, pa_to_bar, steps_for

TEMPLATE = "robustness.lammps.j2"


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


def pressure_label(pressure_pa: float) -> str:
    """1e6 -> '1e6', 2.5e9 -> '2.5e9' (for run ids)."""
    exponent = int(math.floor(math.log10(pressure_pa)))
    return f"{round(pressure_pa / 10**exponent, 3):g}e{exponent}"


def plan(task: RobustnessTask, context: PlanContext) -> list[PlannedRun]:
    """One run per temperature, pressure and repeat, all from the same random cell (seeded by the campaign)."""
    pot = context.potential
    distances = {**DEFAULT_MIN_DISTANCE_A, **task.min_distance_A}
    uncovered = sorted(set(formula_counts(task.formula)) - set(pot.elements))
    if uncovered:
        raise HarnessError(f"campaign {context.source}: [robustness].formula {task.formula!r} has elements "
                           f"{uncovered} that potential {pot.name} does not cover (elements: {pot.elements})")
    # the same cell for every potential: standard atomic weights, the potential's only where there are none
    masses = {e: m for e, m in pot.masses.items() if e not in MASS_AMU}
    cell = random_hard_sphere(task.formula, task.natoms, task.density_g_cm3, distances, context.settings.seed,
                              masses=masses)
    cell.name = f"random-{task.formula}"
    dt = context.timestep_fs(task.timestep_fs)
    steps = context.md_steps(dt, task.dump_interval_ps)
    nsteps = steps_for(task.duration_ps, dt)
    runs = []
    for temperature in task.temperatures_K:
        for pressure in task.pressures_Pa:
            for repeat in range(1, task.repeats + 1):
                params = {"temperature_K": float(temperature), "pressure_Pa": float(pressure),
                          "pressure_bar": pa_to_bar(float(pressure)), "duration_ps": float(task.duration_ps),
                          "timestep_fs": dt, "dump_interval_ps": float(task.dump_interval_ps),
                          "relax": bool(task.relax), "density_g_cm3": float(task.density_g_cm3),
                          "relax_max_iterations": task.relax_max_iterations,
                          "relax_force_tolerance_eV_per_A": float(task.relax_force_tolerance_eV_per_A),
                          "thermostat_damping_fs": float(task.thermostat_damping_fs),
                          "barostat_damping_fs": float(task.barostat_damping_fs)}
                runs.append(PlannedRun(
                    run_id=f"t4-robustness-{pot.name}-T{temperature:g}-p{pressure_label(float(pressure))}-r{repeat}",
                    task="robustness", potential=pot, template=TEMPLATE, structure=cell,
                    params=params, nsteps=nsteps, cost=float(cell.natoms * nsteps),
                    context={**steps, "damping_ps": fs_to_ps(task.thermostat_damping_fs),
                             "barostat_damping_ps": fs_to_ps(task.barostat_damping_fs)}))
    return runs


TASK = Task(name="robustness", Settings=RobustnessTask, templates=(TEMPLATE,), plan=plan, molecular_dynamics=True)
