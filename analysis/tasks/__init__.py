"""The task registry: one module per task, named as the campaign TOML and run.json name it, each owning its
results tables (``analyze``) and its report section (``cell``, ``section``); see analysis/tasks/task.py.

``harness analyze`` (analysis/pipeline.py) and ``harness report`` (analysis/report.py) go through TASKS in this
order. Adding a task = one module here + one entry below (+ its tests, + the render side in harness/tasks/).
"""

from analysis.tasks import conductivity, forces, formation, melt_quench, robustness
from analysis.tasks.task import Task, TaskResults

# In the paper's order (Tasks 1-4), then what the harness adds.
TASKS: tuple[Task, ...] = (formation.TASK, forces.TASK, conductivity.TASK, robustness.TASK, melt_quench.TASK)

__all__ = ["TASKS", "Task", "TaskResults"]
