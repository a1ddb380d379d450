"""Task 1, formation energies: crystals relaxed with the potential (relax) and/or evaluated as given (single_point),
for E_f along the Li2S-P2S5 tie line (analysis/). Section [formation]; runs t1-relax-POTENTIAL-CRYSTAL and
t1-single-POTENTIAL-CRYSTAL; relax.lammps.j2 and single_point.lammps.j2. The optional reference CSV is checked at
render (harness/formation_reference.py) and copied into the campaign as formation_reference.csv."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from pydantic import Field, Strict, model_validator

from harness.errors import HarnessError
from harness.formation_reference import read_reference
from harness.schema import OptionalPathText, StrictModel, fail
from harness.structures import Structure
from harness.tasks.fields import BoxChange, EnergyTolerance, ForceTolerance, Iterations, StructureRef
from harness.tasks.planning import PlanContext, PlannedRun, Task, structure_label

# the two protocols: (run.json task and template stem, part of the run id, the section's field that lists them)
PROTOCOLS = (("relax", "relax", "structures"), ("single_point", "single", "single_point"))
TEMPLATES = tuple(f"{kind}.lammps.j2" for kind, _, _ in PROTOCOLS)
REFERENCE_FILE = "formation_reference.csv"   # the reference's copy in the campaign folder (analyze reads it)
# The FormationTask fields a relax run carries in its params (run.json) for relax.lammps.j2.
RELAX_SETTINGS = ("relax_max_iterations", "relax_force_tolerance_eV_per_A", "relax_energy_tolerance", "relax_box_vmax")


class FormationTask(StrictModel):
    """Task 1: energies of crystals relaxed with the potential and/or single points on given (DFT-relaxed) ones."""
    structures: list[StructureRef] = Field(default_factory=list)        # relaxed with the potential
    single_point: list[StructureRef] = Field(default_factory=list)      # evaluated as given
    relax_box: Annotated[bool, Strict()] = True
    # the minimizer of relax.lammps.j2 (each of its `minimize` commands; 10 force evaluations per iteration allowed)
    relax_max_iterations: Iterations = 2000
    relax_force_tolerance_eV_per_A: ForceTolerance = 1.0e-4            # of the norm of the whole force vector
    relax_energy_tolerance: EnergyTolerance = 0.0                       # relative energy change per iteration; 0: off
    relax_box_vmax: BoxChange = 0.001                                   # largest fractional cell change per iteration
    reference: OptionalPathText = ""                                    # reference CSV for analysis (optional)

    @model_validator(mode="after")
    def _something(self) -> FormationTask:
        if not (self.structures or self.single_point):
            raise fail("list crystals under 'structures' (relaxed) or 'single_point'")
        return self


def formula_label(structure: Structure) -> str:
    """The reduced formula of a cell, elements in alphabetical order: 'Li14P6S22' -> 'Li7P3S11'."""
    counts = structure.counts()
    divisor = math.gcd(*counts.values())
    return "".join(f"{s}{n // divisor if n // divisor > 1 else ''}" for s, n in sorted(counts.items()))


def plan(task: FormationTask, context: PlanContext) -> list[PlannedRun]:
    """One run per crystal and protocol: all relaxations first, then all single points."""
    pot = context.potential
    runs = []
    for kind, short, field_name in PROTOCOLS:
        for index, name in enumerate(getattr(task, field_name)):
            crystal = context.structure(name, f"[formation].{field_name}[{index}]")
            params: dict[str, object] = {"structure": crystal.name, "formula": formula_label(crystal)}
            if kind == "relax":
                params["relax_box"] = bool(task.relax_box)
                params.update({setting: getattr(task, setting) for setting in RELAX_SETTINGS})
            runs.append(PlannedRun(
                run_id=f"t1-{short}-{pot.name}-{crystal.name}", task=kind, potential=pot,
                template=f"{kind}.lammps.j2", structure=crystal, params=params, nsteps=1,
                cost=float(crystal.natoms * (task.relax_max_iterations if kind == "relax" else 1)), triclinic_data=True))
    return runs


def campaign_files(task: FormationTask, campaign_file: Path) -> dict[str, str]:
    """The reference CSV, when given, copied into the campaign; read now with the reader analyze will use, so a bad
    file stops render rather than the analysis."""
    if not task.reference:
        return {}
    reference = campaign_file.parent / task.reference
    try:
        text = reference.read_text()
    except OSError as exc:
        raise HarnessError(f"campaign {campaign_file}: [formation].reference: cannot read {reference}: "
                           f"{exc.strerror}") from None
    known = {structure_label(n) for n in [*task.structures, *task.single_point]}
    try:
        read_reference(reference, known)
    except HarnessError as exc:
        raise HarnessError(f"[formation].reference: {exc}") from None
    return {REFERENCE_FILE: text}


TASK = Task(name="formation", Settings=FormationTask, templates=TEMPLATES, plan=plan, campaign_files=campaign_files)
