"""The task registry of the render side: one module per LiPS-25 task (and the melt-quench protocol), named after its
campaign section. Each module holds that section's strict schema (``Settings``), its run planner (``plan``: the runs
of one potential) and the names of its templates, and exposes them as ``TASK`` (a harness.tasks.planning.Task).
campaign.py builds the campaign file's schema from this registry and render.py plans every task through it.

Adding a task: a module here (schema, planner, ``TASK``), one entry below, its template in templates/, its entries in
harness/origins.py (where each default comes from), its tests; on the analysis side, its analysis module.
"""

from __future__ import annotations

from typing import Any

from harness.tasks import conductivity, forces, formation, melt_quench, robustness
from harness.tasks.planning import PlanContext, PlannedRun, Task

# In the campaign file's order: the order of the sections in docs/defaults.md and in error messages, and of the
# runs of each potential in manifest.json. Any: each entry is a Task of its own section's settings model.
REGISTRY: tuple[Task[Any], ...] = (conductivity.TASK, robustness.TASK, melt_quench.TASK, forces.TASK, formation.TASK)

__all__ = ["REGISTRY", "PlanContext", "PlannedRun", "Task"]
