"""What every task's planner shares: ``Task`` (one entry of the registry in harness/tasks/__init__.py),
``PlannedRun`` (one run as render will write it), ``PlanContext`` (one potential's view of the campaign, with a
structure lookup that reads each crystal once), and the timestep and MD step arithmetic of the MD tasks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from harness.schema import StrictModel
from harness.structures import Structure
from harness.units import steps_for

if TYPE_CHECKING:
    from harness.campaign import CampaignSettings
    from harness.potentials import Potential


@dataclass
class PlannedRun:
    """One run of the campaign: what it is (task, potential, parameters written to run.json) and what its template
    needs beyond the shared context (``context``); render fills ``files`` with the rendered text."""
    run_id: str
    task: str                    # run.json "task": the section name, or the protocol (formation: relax, single_point)
    potential: Potential
    template: str
    structure: Structure
    params: dict[str, Any]
    nsteps: int
    cost: float
    context: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, str] = field(default_factory=dict)   # name -> text
    triclinic_data: bool = False
    files: dict[str, str] = field(default_factory=dict)         # rendered name -> text


def structure_label(name: str) -> str:
    """The name a structure goes by in run ids and results: the file stem when it was given as a path."""
    return Path(name).stem if name.lower().endswith(".cif") else name


@dataclass(frozen=True)
class PlanContext:
    """One potential's view of the campaign while its runs are planned."""
    settings: CampaignSettings
    source: Path                                 # the campaign file: errors name it, paths are relative to its folder
    potential: Potential
    structure: Callable[[str, str], Structure]   # (name or .cif path, field for errors) -> the crystal, read once

    @property
    def campaign_dir(self) -> Path:
        return self.source.parent

    def timestep_fs(self, task_timestep_fs: float | None) -> float:
        """The task's timestep, else the campaign's, else the one the potential suggests."""
        if task_timestep_fs:
            return float(task_timestep_fs)
        if self.settings.timestep_fs:
            return float(self.settings.timestep_fs)
        return self.potential.timestep_fs

    def md_steps(self, dt_fs: float, dump_interval_ps: float) -> dict[str, int]:
        """Dump, thermo and restart intervals in steps: thermo divides dump, restart is a multiple of dump."""
        dump_every = steps_for(dump_interval_ps, dt_fs)
        thermo_every = min(steps_for(self.settings.thermo_every_ps, dt_fs), dump_every)
        while dump_every % thermo_every:
            thermo_every -= 1
        restart_every = max(dump_every, steps_for(self.settings.restart_every_ps, dt_fs))
        restart_every = int(math.ceil(restart_every / dump_every)) * dump_every
        return {"dump_every": dump_every, "thermo_every": thermo_every, "restart_every": restart_every}


SettingsT = TypeVar("SettingsT", bound=StrictModel)


def no_campaign_files(settings: StrictModel, campaign_file: Path) -> dict[str, str]:
    """The default of Task.campaign_files: the task adds no file to the campaign folder."""
    return {}


@dataclass(frozen=True)
class Task(Generic[SettingsT]):
    """A task as render sees it. ``name`` is its campaign section ([name]); ``Settings`` that section's strict schema;
    ``templates`` the templates its runs render (templates/NAME); ``plan`` its runs for one potential;
    ``campaign_files`` the files it adds to the campaign folder (name -> text), checked at render;
    ``molecular_dynamics`` whether its runs (run.json task = ``name``) are MD of ``nsteps`` timesteps, which
    ``harness plan`` calibrates on and times per step."""
    name: str
    Settings: type[SettingsT]
    templates: tuple[str, ...]
    plan: Callable[[SettingsT, PlanContext], list[PlannedRun]]
    campaign_files: Callable[[SettingsT, Path], dict[str, str]] = no_campaign_files
    molecular_dynamics: bool = False
