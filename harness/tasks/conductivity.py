"""Task 3, ionic conductivity: NVT anneals of crystalline Li7P3S11 at each temperature, for the Li-ion MSD, D(T) and
the Arrhenius fit (analysis/). Section [conductivity]; runs t3-conductivity-POTENTIAL-TT-rR; conductivity.lammps.j2."""

from __future__ import annotations

import math

from pydantic import Field

from harness.schema import StrictModel
from harness.structures import supercell
from harness.tasks.fields import Damping, Duration, NonNegativeDuration, Repeats, StructureRef, Supercell, Temperatures, Timestep
from harness.tasks.planning import PlanContext, PlannedRun, Task
from harness.units import fs_to_ps, steps_for

TEMPLATE = "conductivity.lammps.j2"


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


def plan(task: ConductivityTask, context: PlanContext) -> list[PlannedRun]:
    """One run per temperature and repeat: equilibration (a whole number of dump intervals), then production."""
    pot = context.potential
    cell = supercell(context.structure(task.structure, "[conductivity].structure"), task.supercell)
    dt = context.timestep_fs(task.timestep_fs)
    steps = context.md_steps(dt, task.dump_interval_ps)
    equil = steps_for(task.equilibration_ps, dt) if task.equilibration_ps > 0 else 0
    equil = int(math.ceil(equil / steps["dump_every"])) * steps["dump_every"]
    nsteps = equil + steps_for(task.duration_ps, dt)
    runs = []
    for temperature in task.temperatures_K:
        for repeat in range(1, task.repeats + 1):
            params = {"temperature_K": float(temperature), "duration_ps": float(task.duration_ps),
                      "equilibration_ps": float(task.equilibration_ps), "timestep_fs": dt,
                      "dump_interval_ps": float(task.dump_interval_ps), "supercell": list(task.supercell),
                      "thermostat_damping_fs": float(task.thermostat_damping_fs)}
            runs.append(PlannedRun(
                run_id=f"t3-conductivity-{pot.name}-T{temperature:g}-r{repeat}", task="conductivity",
                potential=pot, template=TEMPLATE, structure=cell, params=params,
                nsteps=nsteps, cost=float(cell.natoms * nsteps),
                context={**steps, "equilibration_steps": equil, "damping_ps": fs_to_ps(task.thermostat_damping_fs)}))
    return runs


TASK = Task(name="conductivity", Settings=ConductivityTask, templates=(TEMPLATE,), plan=plan, molecular_dynamics=True)
