"""Task 2, forces: single points of the potential on every frame of a reference extxyz that carries forces and
energies (LAMMPS ``rerun`` over the frames written as a dump). Section [forces]; run t2-forces-POTENTIAL;
forces.lammps.j2. The run folder holds the reference itself (reference.extxyz) and its dump (reference.lammpstrj)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field

from harness.errors import HarnessError
from harness.schema import StrictModel
from harness.structures import Structure, read_extxyz, write_rerun_dump
from harness.tasks.fields import FilePath
from harness.tasks.planning import PlanContext, PlannedRun, Task

TEMPLATE = "forces.lammps.j2"


class ForcesTask(StrictModel):
    """Task 2: single-point forces of the potential on every frame of a reference extxyz (with reference forces)."""
    reference: FilePath = Field(description="give the extxyz file with reference forces")


def reference_frames(path: Path) -> list[Structure]:
    """The frames of the reference, each with forces and an energy (Task 2 compares both), all of one size."""
    frames = read_extxyz(path)
    if len({f.natoms for f in frames}) != 1:
        raise HarnessError(f"reference file {path}: all frames must have the same number of atoms")
    for index, frame in enumerate(frames):
        if "forces" not in frame.info:
            raise HarnessError(f"reference file {path}: frame {index} has no forces (Properties=...:forces:R:3)")
        if frame.info.get("energy_eV") is None:
            raise HarnessError(f"reference file {path}: frame {index} has no energy=... (eV) in its comment line")
    return frames


def rerun_dump_text(frames: list[Structure], elements: list[str]) -> str:
    """The frames as the LAMMPS text dump that ``rerun`` reads (types in the potential's element order)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.lammpstrj"
        write_rerun_dump(frames, path, elements)
        return path.read_text()


def plan(task: ForcesTask, context: PlanContext) -> list[PlannedRun]:
    """One run: every frame of the reference, evaluated once."""
    pot = context.potential
    ref_path = context.campaign_dir / task.reference
    frames = reference_frames(ref_path)
    params = {"reference": "reference.extxyz", "reference_source": str(ref_path.resolve()), "nframes": len(frames)}
    return [PlannedRun(
        run_id=f"t2-forces-{pot.name}", task="forces", potential=pot, template=TEMPLATE,
        structure=frames[0], params=params, nsteps=len(frames), cost=float(frames[0].natoms * len(frames) * 10),
        triclinic_data=True,
        extra_files={"reference.lammpstrj": rerun_dump_text(frames, pot.elements),
                     "reference.extxyz": ref_path.read_text()})]


TASK = Task(name="forces", Settings=ForcesTask, templates=(TEMPLATE,), plan=plan)
