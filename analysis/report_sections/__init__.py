"""The report's task registry: one module per task, each giving a scorecard cell per potential and a
section (figures, curated and full tables). Adding a task to the report = one module here + one line below."""

from analysis.report_sections import conductivity, forces, formation, melt_quench, robustness
from analysis.report_sections.common import TaskReport

# In the paper's order (Tasks 1-4), then what the harness adds.
TASKS: list[TaskReport] = [formation.TASK, forces.TASK, conductivity.TASK, robustness.TASK, melt_quench.TASK]
