"""Campaign files (inputs/*.toml): which tasks, potentials, structures and protocol parameters to run.

Defaults are the LiPS-25 paper's protocols (Fragapane & Deringer, JCTC 2026). Every field can be overridden;
units are in the field names (K, Pa, ps, fs, Å, g/cm^3). The file is validated by one strict schema (pydantic v2):
[campaign] (CampaignSettings below) and one section per task of the registry (harness/tasks/: each task's module
holds its section's model). Unknown sections or fields, wrong types, non-finite or out-of-range numbers, bad units
and unknown elements are errors of one line naming the file and the field (README "Campaign files" lists the ranges).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, create_model, model_validator

from harness.errors import HarnessError
from harness.schema import NonEmptyLine, OptionalPathText, StrictModel, error_line, fail
from harness.tasks import REGISTRY
from harness.tasks.conductivity import ConductivityTask  # noqa: F401 (the section models, re-exported)
from harness.tasks.fields import Duration, PotentialRef, Seed, Timestep, WallTime
from harness.tasks.forces import ForcesTask  # noqa: F401
from harness.tasks.formation import FormationTask  # noqa: F401
from harness.tasks.melt_quench import MeltQuenchTask  # noqa: F401
from harness.tasks.robustness import RobustnessTask  # noqa: F401


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


# Each task's section name -> its schema, in the registry's order (docs/defaults.md, harness/origins.py).
TASKS: dict[str, type[StrictModel]] = {task.name: task.Settings for task in REGISTRY}


class _CampaignSections(StrictModel):
    """The rule across sections: at least one task table besides [campaign]."""

    @model_validator(mode="after")
    def _some_task(self) -> _CampaignSections:
        if all(getattr(self, name) is None for name in TASKS):
            raise fail(f"no tasks (add at least one of [{'], ['.join(TASKS)}])")
        return self


# The whole file: [campaign], then one optional table per task of the registry.
CampaignFile = create_model(
    "CampaignFile", __base__=_CampaignSections, __doc__="The whole file: [campaign] and at least one task table.",
    campaign=(CampaignSettings, ...), **{name: (settings | None, None) for name, settings in TASKS.items()})


@dataclass
class Campaign:
    settings: CampaignSettings
    tasks: dict[str, StrictModel]   # section name -> its settings (a model of harness/tasks/), given ones only
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
