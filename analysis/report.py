"""results/ -> report/index.html (+ PNG figures, + data/*.csv), from Jinja2 templates. Reads only results/.

The page starts with a scorecard: one row per potential, one column per task of the campaign, each cell the
task's headline number and its verdict against the paper's criterion (σ298 inside/above/below the accepted band,
RMSE(E_f) and RMSE(F) with the reference named, conditions fully surviving and close-contact frames), missing
values said in words. A sentence then counts the runs by state and links to the table of failed and unfinished
runs. Each task's scorecard cell and section (figures with captions, curated tables with units, the full table
collapsed) come from that task's module in analysis/tasks/ (the registry is analysis/tasks/__init__.py); the
templates are analysis/report_templates/ (autoescaped: names from campaign files are shown as text).

The folder works on its own, offline, from file:// or any web server: the figures are embedded in index.html
(base64) and also written beside it as PNG; the CSVs of results/ are copied to report/data/ and linked relatively.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from analysis.errors import AnalysisError
from analysis.report_parts import Cell, ReportData, Section, Table, join_words, number, plural, words_for_json
from analysis.results import SUMMARY_NAME
from analysis.tasks import TASKS
from harness.rundir import REPORT_DIR, RESULTS_DIR, read_json, write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "report_templates"
STATE_WORDS = {"done": "finished", "failed": "failed", "pending": "not started", "running": "running or interrupted"}
TASK_WORDS = {"conductivity": "conductivity", "robustness": "robustness", "relax": "formation (relax)",
              "single_point": "formation (single point)", "forces": "forces", "melt_quench": "melt-quench"}


@dataclass
class ScoreRow:
    potential: str
    cells: list[Cell]


@dataclass
class ScoreColumn:
    id: str
    title: str


def environment() -> Environment:
    """The report's Jinja2 environment: autoescaping always on, undefined names are errors."""
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def runs_sentence(summary: dict) -> str:
    """'27 runs: 17 finished, 10 failed (10 robustness).' from summary.json, in words."""
    states = {str(k): int(v) for k, v in (summary.get("runs_by_state") or {}).items()}
    total = sum(states.values())
    if not total:
        return "The campaign lists no runs."
    order = ["done", "failed", "running", "pending"] + sorted(set(states) - set(STATE_WORDS))
    parts = [f"{states[s]} {STATE_WORDS.get(s, s)}" for s in order if states.get(s)]
    text = f"{plural(total, 'run')} in the campaign: {join_words(parts)}."
    failed = summary.get("failed_runs") or []
    if failed:
        by_task: dict[str, int] = {}
        for run in failed:
            task = str(run.get("task", ""))
            by_task[task] = by_task.get(task, 0) + 1
        text += " Failed by task: " + join_words([f"{TASK_WORDS.get(t, t)} {n}" for t, n in sorted(by_task.items())])
        text += "." if set(by_task) != {"robustness"} else " (Task 4 pushes runs to failure on purpose)."
    return text


def problem_runs(data: ReportData) -> Table | None:
    """Failed and unfinished runs, one row each: run, task, potential, state, reason, time reached, message."""
    rows = []
    for run in data.summary.get("failed_runs") or []:
        rows.append([str(run.get("run_id", "")), TASK_WORDS.get(str(run.get("task")), str(run.get("task", ""))),
                     str(run.get("potential", "")), "failed",
                     words_for_json(str(run.get("reason") or "unknown")).replace("_", " "),
                     number(run.get("time_ps"), 3), words_for_json(str(run.get("message") or "–"))])
    for run_id in data.summary.get("unfinished_runs") or []:
        rows.append([str(run_id), "–", "–", "not finished", "–", "–", "pending or running when analysed"])
    if not rows:
        return None
    return Table(["run", "task", "potential", "state", "reason", "time reached (ps)", "message"], rows,
                 "Failed and unfinished runs", None, [False, False, False, False, False, True, False])


def method_lines(summary: dict) -> list[str]:
    options = summary.get("options") or {}
    lines = []
    fit = (options.get("fit_start_ps"), options.get("fit_end_ps"))
    window = ("the default MSD fit window (10–50 % of one block)" if fit == (None, None)
              else f"MSD fit window {number(fit[0], missing='default')} to {number(fit[1], missing='default')} ps")
    if "n_blocks" in options:
        lines.append(f"Diffusion: {window}, errors from {number(options['n_blocks'])} blocks; Nernst–Einstein "
                     "conductivity; accepted σ298 band: " + str(options.get("band", "crystal")) + ".")
    if "threshold_A" in options:
        lines.append(f"Close contact: an interatomic distance ≤ {number(options['threshold_A'])} Å.")
    if "capture_radius_A" in options:
        lines.append(f"Li jumps: site capture radius {number(options['capture_radius_A'])} Å.")
    if "coordination_cutoff_A" in options:
        lines.append(f"Melt-quench PS4 check: P–S cutoff {number(options['coordination_cutoff_A'])} Å.")
    lines.append("Made by 'harness report' from the campaign's results/ (written by 'harness analyze'); "
                 "methods and column meanings: docs/results.md of the harness.")
    return lines


def _embedded(out: Path, sections: list[Section]) -> dict[str, str]:
    images = {}
    for section in sections:
        for figure in section.figures:
            data = base64.b64encode((out / figure.file).read_bytes()).decode("ascii")
            images[figure.file] = f"data:image/png;base64,{data}"
    return images


def _copy_tables(results_dir: Path, out: Path) -> list[str]:
    """results/*.csv -> report/data/ (the report folder then stands alone); returns the file names."""
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for path in sorted(results_dir.glob("*.csv")):
        shutil.copyfile(path, data_dir / path.name)
        names.append(path.name)
    return names


def _copy_snapshots(results_dir: Path, out: Path) -> None:
    """results/snapshots/*.png -> report/snapshots/ (the page shows them by relative path)."""
    target = out / "snapshots"
    for old in target.glob("*.png"):
        old.unlink()
    pictures = sorted((results_dir / "snapshots").glob("*.png"))
    if pictures:
        target.mkdir(parents=True, exist_ok=True)
    for path in pictures:
        shutil.copyfile(path, target / path.name)


def write_report(campaign_dir: Path) -> Path:
    """Write report/index.html, its PNGs and data/*.csv from results/ only; return the path of index.html."""
    campaign_dir = Path(campaign_dir)
    results_dir = campaign_dir / RESULTS_DIR
    summary_path = results_dir / SUMMARY_NAME
    if not summary_path.is_file():
        raise AnalysisError(f"no results/summary.json in {campaign_dir} (run 'harness analyze' first)")
    summary = read_json(summary_path)
    out = campaign_dir / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    _copy_snapshots(results_dir, out)
    data = ReportData(results_dir, out, summary)
    present = [task for task in TASKS if task.present(data)]
    sections = [s for s in (task.section(data) for task in present) if s is not None]
    columns = [ScoreColumn(task.name, task.column) for task in present]
    scorecard = [ScoreRow(p, [task.cell(data, p) for task in present]) for p in data.potentials]
    not_run = join_words([task.column for task in TASKS if task not in present])
    campaign = str(summary.get("campaign") or campaign_dir.name)
    sha = str(summary.get("campaign_sha256") or "")
    meta = (f"Campaign {campaign}" + (f" (campaign file sha256 {sha[:12]}…)" if sha else "")
            + f"; {plural(len(data.potentials), 'potential')}: {join_words(data.potentials) or 'none'}.")
    problems = problem_runs(data)
    page = environment().get_template("page.html.j2").render(
        title=f"LiPS-25 benchmark report: {campaign}", meta=meta, columns=columns, scorecard=scorecard,
        not_run=not_run, runs_sentence=runs_sentence(summary), problem_runs=problems, sections=sections,
        images=_embedded(out, sections), notes=[str(n) for n in summary.get("notes") or []],
        method=method_lines(summary), files=_copy_tables(results_dir, out))
    index = out / "index.html"
    write_text_atomic(index, page)
    return index
