"""The task registry drives analyze and report: one module per task, named as run.json and the campaign name it;
a task added to the registry gets its tables written and its section shown without touching pipeline or report."""

from __future__ import annotations

import importlib
import json

from analysis import pipeline, report
from analysis.report_parts import Cell, ReportData, Section, full_table
from analysis.results import ResultTable
from analysis.runs import load_runs
from analysis.tasks import TASKS, Task, TaskResults
from analysis_testdata import write_manifest, write_run

# The run.json task names render writes (harness/campaign.py): formation's runs are relax and single-point runs.
RUN_TASKS = {"relax", "single_point", "forces", "conductivity", "robustness", "melt_quench"}


def test_one_module_per_task_in_the_papers_order():
    assert [task.name for task in TASKS] == ["formation", "forces", "conductivity", "robustness", "melt_quench"]
    for task in TASKS:
        assert importlib.import_module(f"analysis.tasks.{task.name}").TASK is task
    consumed = [name for task in TASKS for name in task.consumes]
    assert len(consumed) == len(set(consumed)) and set(consumed) == RUN_TASKS
    assert dict((t.name, t.consumes) for t in TASKS)["formation"] == ("relax", "single_point")


def _phonons(campaign_dir, runs, options, summary) -> TaskResults:
    summary.data["phonons"] = {"n_runs": len(runs)}
    rows = [{"potential": r.potential, "run_id": r.run_id, "state": r.state} for r in runs]
    return TaskResults([ResultTable("phonons.csv", ["potential", "run_id", "state"], rows)])


def _phonon_cell(data: ReportData, potential: str) -> Cell:
    return Cell("42 THz", "no pass mark", "info")


def _phonon_section(data: ReportData) -> Section:
    return Section("phonons", "Task 5: phonons", ["Made by the added task."],
                   full=[full_table(data.table("phonons.csv"), "phonons.csv")])


PHONONS = Task("phonons", ("phonons",), "Task 5 · phonons", _phonons, _phonon_cell, _phonon_section)


def test_an_added_task_is_analysed_and_reported(tmp_path, monkeypatch):
    write_manifest(tmp_path, [("p1", "phonons", "toy"), ("p2", "phonons", "toy"), ("x1", "elastic", "toy")])
    write_run(tmp_path, "p1", "phonons", "toy", {})
    write_run(tmp_path, "p2", "phonons", "toy", {}, state="failed", reason="lammps_error")
    write_run(tmp_path, "x1", "elastic", "toy", {})
    (tmp_path / "runs" / "p1" / "status.json").write_text("{damaged")   # a damaged status.json is pending
    pipeline.analyze_campaign(tmp_path)
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["files"] == [] and summary["notes"] == ["tasks not analysed here: elastic, phonons"]

    monkeypatch.setattr(pipeline, "TASKS", (*TASKS, PHONONS))
    monkeypatch.setattr(report, "TASKS", (*TASKS, PHONONS))
    pipeline.analyze_campaign(tmp_path)
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["files"] == ["phonons.csv"] and summary["phonons"] == {"n_runs": 2}
    assert summary["notes"] == ["tasks not analysed here: elastic"]
    assert summary["runs_by_state"] == {"pending": 1, "running": 0, "done": 1, "failed": 1}
    assert (tmp_path / "results" / "phonons.csv").read_text().splitlines() == [
        "potential,run_id,state", "toy,p1,pending", "toy,p2,failed"]
    page = report.write_report(tmp_path).read_text()
    assert '<section id="phonons"' in page and "Task 5 · phonons" in page and "42 THz" in page


def test_load_runs_reads_through_the_run_directory_contract(tmp_path):
    write_manifest(tmp_path, [("a", "conductivity", "toy"), ("b", "conductivity", "toy")])
    write_run(tmp_path, "a", "conductivity", "toy", {"temperature_K": 600.0}, repeat=2)
    write_run(tmp_path, "b", "conductivity", "toy", {"temperature_K": 800.0})
    (tmp_path / "runs" / "b" / "status.json").unlink()
    manifest, runs = load_runs(tmp_path)
    assert manifest["campaign"] == "test"
    assert [(r.run_id, r.state, r.repeat, r.params) for r in runs] == [
        ("a", "done", 2, {"temperature_K": 600.0}), ("b", "pending", 1, {"temperature_K": 800.0})]
