"""The melt-quench protocol (the Task 2 trajectory and the paper's Iter1/Iter2 cycles): heat, hold, quench and
anneal a crystal supercell, NPT or NVT (the programmes: harness/meltquench_protocols.py). Section [melt_quench];
runs t2-meltquench-POTENTIAL-PROTOCOL-rR; melt_quench.lammps.j2."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.meltquench_protocols import VARIANTS as MELT_QUENCH_VARIANTS
from harness.meltquench_protocols import protocols
from harness.schema import StrictModel, fail
from harness.structures import supercell
from harness.tasks.fields import (Damping, Duration, NonNegativeDuration, Pressure, Rate, Repeats, StructureRef,
                                  Supercell, Temperature, Timestep)
from harness.tasks.planning import PlanContext, PlannedRun, Task
from harness.units import fs_to_ps, pa_to_bar, steps_for

TEMPLATE = "melt_quench.lammps.j2"


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


def plan(task: MeltQuenchTask, context: PlanContext) -> list[PlannedRun]:
    """One run per protocol of the variants and repeat; the template gets the step at which each stage ends."""
    pot = context.potential
    cell = supercell(context.structure(task.structure, "[melt_quench].structure"), task.supercell)
    dt = context.timestep_fs(task.timestep_fs)
    steps = context.md_steps(dt, task.dump_interval_ps)
    runs = []
    for protocol in protocols(task):
        heat_end = steps_for((protocol.T_high_K - protocol.T_low_K) / protocol.heating_rate_K_per_ps, dt)
        hold_end = heat_end + (steps_for(protocol.hold_ps, dt) if protocol.hold_ps > 0 else 0)
        quench_end = hold_end + steps_for((protocol.T_high_K - protocol.T_final_K) / protocol.quench_rate_K_per_ps, dt)
        nsteps = quench_end + (steps_for(protocol.anneal_ps, dt) if protocol.anneal_ps > 0 else 0)
        for repeat in range(1, task.repeats + 1):
            params = {"variant": protocol.variant, "ensemble": protocol.ensemble,
                      "T_low_K": protocol.T_low_K, "T_high_K": protocol.T_high_K,
                      "T_final_K": protocol.T_final_K,
                      "heating_rate_K_per_ps": protocol.heating_rate_K_per_ps,
                      "quench_rate_K_per_ps": protocol.quench_rate_K_per_ps, "hold_ps": protocol.hold_ps,
                      "anneal_ps": protocol.anneal_ps,
                      "pressure_Pa": float(task.pressure_Pa), "pressure_bar": pa_to_bar(float(task.pressure_Pa)),
                      "timestep_fs": dt, "dump_interval_ps": float(task.dump_interval_ps),
                      "supercell": list(task.supercell)}
            runs.append(PlannedRun(
                run_id=f"t2-meltquench-{pot.name}-{protocol.label}-r{repeat}", task="melt_quench",
                potential=pot, template=TEMPLATE, structure=cell, params=params,
                nsteps=nsteps, cost=float(cell.natoms * nsteps), triclinic_data=protocol.ensemble == "npt",
                context={**steps, "ensemble": protocol.ensemble, "heat_end": heat_end, "hold_end": hold_end,
                         "quench_end": quench_end, "damping_ps": fs_to_ps(task.thermostat_damping_fs),
                         "barostat_damping_ps": fs_to_ps(task.barostat_damping_fs)}))
    return runs


TASK = Task(name="melt_quench", Settings=MeltQuenchTask, templates=(TEMPLATE,), plan=plan, molecular_dynamics=True)
