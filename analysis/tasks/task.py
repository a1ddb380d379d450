"""What one task is to the analysis and the report (the interface every module of analysis/tasks/ fills in).

A task module turns the runs of its run.json task names into results/*.csv (``analyze``, called by
``harness analyze``: analysis/pipeline.py) and those tables into its scorecard cell and report section (``cell``
and ``section``, called by ``harness report``: analysis/report.py, which reads only results/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from analysis.report_parts import Cell, ReportData, Section
from analysis.results import Options, ResultTable, Summary
from analysis.runs import RunInfo
from analysis.snapshots import Shot


@dataclass
class TaskResults:
    """What a task's analysis gives back: its tables (written to results/ in this order) and the OVITO pictures
    it asks for (rendered by the pipeline for every task together, indexed in results/snapshots.csv)."""

    tables: list[ResultTable]
    shots: list[Shot] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    """A task in the registry (analysis/tasks/__init__.py).

    ``name`` is the task's name in the campaign TOML and its report section id; ``consumes`` the run.json task
    names whose runs it analyses (formation: the ``relax`` and ``single_point`` runs); ``column`` its scorecard
    header. ``analyze(campaign_dir, runs, options, summary)`` gets the runs of each name of ``consumes`` in turn
    (each in manifest order) and adds notes and numbers to ``summary``; ``cell(data, potential)`` and
    ``section(data)`` read only results/ (through ``data``)."""

    name: str
    consumes: tuple[str, ...]
    column: str
    analyze: Callable[[Path, list[RunInfo], Options, Summary], TaskResults]
    cell: Callable[[ReportData, str], Cell]
    section: Callable[[ReportData], Section | None]

    def present(self, data: ReportData) -> bool:
        """Whether the analysed campaign had runs of this task (summary.json ``tasks``)."""
        return any(t in data.tasks for t in self.consumes)
