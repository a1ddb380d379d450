"""harness render: campaign file + potentials -> a campaign directory of standalone LAMMPS runs.

Everything is validated and rendered in memory first; files are written only when nothing failed, so a bad
input never leaves a half-written campaign. Re-rendering the same campaign changes nothing that finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from harness import __version__
from harness.campaign import Campaign, load_campaign
from harness.errors import HarnessError
from harness.paths import structures_dir, templates_dir
from harness.potentials import Potential, load_potential, verify_files
from harness.rundir import read_status, sha256_of, write_json_atomic, write_text_atomic
from harness.structures import Structure, read_cif, write_lammps_data
from harness.tasks import REGISTRY, PlanContext, PlannedRun
from harness.tasks.planning import structure_label  # noqa: F401 (re-exported: callers use render.structure_label)
from harness.units import fs_to_ps

MANIFEST_FORMAT = 1
# The files a run directory owns after rendering; anything else in it is output of a launch.
RENDERED_FILES = ("in.lammps", "data.lmp", "run.json", "reference.lammpstrj", "reference.extxyz",
                  "runner.py", "calculator.json")   # the last two: calculator potentials (harness/calculator.py)


def run_seed(campaign_seed: int, run_id: str) -> int:
    """A deterministic LAMMPS seed (1 .. 9e8) for each run, from the campaign seed and the run id."""
    digest = hashlib.sha256(f"{campaign_seed}:{run_id}".encode()).hexdigest()
    return int(digest[:12], 16) % 900_000_000 + 1


def find_structure(name: str, campaign_dir: Path) -> Path:
    """A structure is a CIF path (relative to the campaign file) or a name NAME matching NAME.cif or NAME_*.cif
    in the campaign's structures/ folder, ./inputs/structures or the shipped structure library."""
    direct = (campaign_dir / name)
    if direct.suffix.lower() == ".cif":
        if direct.is_file():
            return direct
        raise HarnessError(f"structure file {direct} does not exist")
    folders = [campaign_dir / "structures", Path.cwd() / "inputs" / "structures", structures_dir()]
    for folder in folders:
        if not folder.is_dir():
            continue
        exact = folder / f"{name}.cif"
        if exact.is_file():
            return exact
        matches = sorted(p for p in folder.glob(f"{name}_*.cif") if "PROTOTYPE" not in p.name)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise HarnessError(f"structure name {name!r} is ambiguous in {folder}: {', '.join(p.name for p in matches)}")
    known = sorted({p.name.split("_")[0] for f in folders if f.is_dir() for p in f.glob("*.cif")})
    raise HarnessError(f"unknown structure {name!r} (known: {', '.join(known)}; or give a path to a .cif file)")


def plan_runs(campaign: Campaign, potentials: list[Potential]) -> list[PlannedRun]:
    """Every run of the campaign: for each potential, each task of the registry that the campaign has, in the
    registry's order (harness/tasks/). Each structure file is read once."""
    campaign_dir = campaign.source.parent
    structure_cache: dict[str, Structure] = {}

    def structure(name: str, field: str) -> Structure:
        if name not in structure_cache:
            try:
                path = find_structure(name, campaign_dir)
            except HarnessError as exc:
                raise HarnessError(f"campaign {campaign.source}: {field}: {exc}") from None
            structure_cache[name] = read_cif(path, name=structure_label(name))
        return structure_cache[name]

    runs: list[PlannedRun] = []
    for pot in potentials:
        context = PlanContext(settings=campaign.settings, source=campaign.source, potential=pot, structure=structure)
        for task in REGISTRY:
            settings = campaign.tasks.get(task.name)
            if settings is not None:
                runs += task.plan(settings, context)
    ids = [r.run_id for r in runs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise HarnessError(f"campaign {campaign.source}: two runs would share the id {duplicates[0]!r}: give "
                           "potentials distinct names, and temperatures or pressures that differ in their first "
                           "6 digits")
    return runs


def campaign_files(campaign: Campaign) -> dict[str, str]:
    """The files the campaign's tasks add to the campaign folder (e.g. formation_reference.csv), each checked."""
    files: dict[str, str] = {}
    for task in REGISTRY:
        settings = campaign.tasks.get(task.name)
        if settings is not None:
            files.update(task.campaign_files(settings, campaign.source))
    return files


def render_run(run: PlannedRun, campaign: Campaign, environment: jinja2.Environment) -> None:
    """Fill ``run.files`` with the text of every rendered file (nothing is written here)."""
    pot = run.potential
    seed = run_seed(campaign.settings.seed, run.run_id)
    file_paths = {key: f"../../potentials/{pot.name}/{item.path.name}" for key, item in pot.files.items()}
    run_record = {
        "run_id": run.run_id, "task": run.task, "potential": pot.name, "elements": pot.elements,
        "natoms": run.structure.natoms, "counts": {e: run.structure.counts().get(e, 0) for e in pot.elements},
        "structure": run.structure.name, "seed": seed, "repeat": _repeat_of(run.run_id),
        "params": run.params, "nsteps": run.nsteps, "wall_time_s": campaign.settings.wall_time_s,
        "volume_A3": run.structure.volume_a3,
        # the model files by content: a changed file changes run.json, so re-rendering reruns the run
        "potential_files_sha256": {key: item.sha256 or sha256_of(item.path) for key, item in pot.files.items()},
    }
    context = {
        "run": run_record, "params": run.params, "potential": pot, "potential_lines": pot.pair_lines(file_paths),
        "timestep_ps": fs_to_ps(run.params.get("timestep_fs", pot.timestep_fs)), "nsteps": run.nsteps,
        "wall_time_s": float(campaign.settings.wall_time_s), **run.context,
    }
    try:
        text = environment.get_template(run.template).render(**context)
    except jinja2.UndefinedError as exc:
        raise HarnessError(f"template {run.template}: {exc.message} (run {run.run_id})") from None
    except jinja2.TemplateError as exc:
        raise HarnessError(f"template {run.template}: {exc}") from None
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.lmp"
        write_lammps_data(run.structure, data_path, pot.elements, pot.masses, force_triclinic=run.triclinic_data)
        data_text = data_path.read_text()
    run.files = {"in.lammps": text, "data.lmp": data_text,
                 "run.json": json.dumps(run_record, indent=1) + "\n", **run.extra_files}
    if pot.calculator is not None:   # the runner that executes in.lammps with the model attached
        from harness.calculator import run_files, validate_render
        validate_render(pot, text, f"template {run.template} (run {run.run_id})")
        run.files.update(run_files(pot, file_paths))


def _repeat_of(run_id: str) -> int:
    last = run_id.rsplit("-", 1)[-1]
    return int(last[1:]) if last.startswith("r") and last[1:].isdigit() else 1


def template_environment(override: Path | None = None) -> jinja2.Environment:
    """Templates from ``override`` (a user's folder) first, then the shipped ones. Undefined variables are errors."""
    folders = [str(override)] if override else []
    return jinja2.Environment(loader=jinja2.FileSystemLoader([*folders, str(templates_dir())]),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=False)


def campaign_fingerprint(campaign: Campaign, potentials: list[Potential]) -> str:
    digest = hashlib.sha256(campaign.text.encode())
    for pot in potentials:
        digest.update(pot.source.read_bytes())
    return digest.hexdigest()


def _check_writable(out_dir: Path) -> None:
    """Fail early, before anything is written, if ``out_dir`` cannot be created or written to."""
    if out_dir.exists() and not out_dir.is_dir():
        raise HarnessError(f"output directory {out_dir} exists and is not a directory")
    probe_parent = out_dir
    while not probe_parent.exists() and probe_parent != probe_parent.parent:
        probe_parent = probe_parent.parent
    if not probe_parent.is_dir():
        raise HarnessError(f"output directory {out_dir} is not writable ({probe_parent} is not a directory)")
    try:
        with tempfile.NamedTemporaryFile(dir=probe_parent, prefix=".harness-write-test-"):
            pass
    except OSError as exc:
        raise HarnessError(f"output directory {out_dir} is not writable ({probe_parent}: {exc.strerror})") from None


def render_campaign(campaign_path: Path, out_dir: Path, force: bool = False) -> dict[str, Any]:
    """Render a campaign into ``out_dir``; returns the manifest. See docs/run-directory.md for the layout."""
    campaign = load_campaign(campaign_path)
    _check_writable(out_dir)
    search = [campaign_path.parent / "potentials", campaign_path.parent.parent / "potentials"]
    potentials = [load_potential(name, search) for name in campaign.settings.potentials]
    names = [p.name for p in potentials]
    if len(set(names)) != len(names):
        raise HarnessError(f"campaign {campaign_path}: potential listed twice in [campaign].potentials")
    for pot in potentials:
        problems = verify_files(pot)
        if problems:
            raise HarnessError(problems[0])
    runs = plan_runs(campaign, potentials)
    override = None
    if campaign.settings.templates:
        override = campaign_path.parent / campaign.settings.templates
        if not override.is_dir():
            raise HarnessError(f"campaign {campaign_path}: [campaign].templates: folder {override} does not exist")
    environment = template_environment(override)
    for run in runs:
        render_run(run, campaign, environment)
    fingerprint = campaign_fingerprint(campaign, potentials)
    extra_files = campaign_files(campaign)

    manifest_path = out_dir / "manifest.json"
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        if old.get("campaign_sha256") != fingerprint and not force:
            raise HarnessError(f"{out_dir} holds a different campaign ({old.get('campaign', '?')}); "
                               "use --force to re-render it (finished runs whose inputs are unchanged are kept)")
    elif out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise HarnessError(f"output directory {out_dir} is not empty and holds no campaign; use --force or another --out")

    manifest = {
        "format": MANIFEST_FORMAT, "campaign": campaign.settings.name, "campaign_sha256": fingerprint,
        "campaign_file": str(campaign_path.resolve()), "harness_version": __version__,
        "potentials": {p.name: {"source": str(p.source), "elements": p.elements, "packages": p.packages,
                                "accelerators": p.accelerators, "max_ranks_per_run": p.max_ranks_per_run,
                                "files": {k: {"name": f.path.name, "sha256": f.sha256} for k, f in p.files.items()},
                                **_calculator_entry(p)}
                       for p in potentials},
        "runs": [{"run_id": r.run_id, "task": r.task, "potential": r.potential.name, "dir": f"runs/{r.run_id}",
                  "nsteps": r.nsteps, "cost": r.cost} for r in runs],
    }
    fresh = not out_dir.exists()
    target = out_dir
    if fresh:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.rendering-", dir=out_dir.parent))
    try:
        _write_campaign(target, campaign, potentials, runs, manifest, extra_files)
    except OSError as exc:
        if fresh:
            shutil.rmtree(target, ignore_errors=True)
        raise HarnessError(f"cannot write campaign to {out_dir}: {exc.strerror} ({exc.filename})") from None
    if fresh:
        os.rename(target, out_dir)
    return manifest


def _calculator_entry(potential: Potential) -> dict[str, Any]:
    if potential.calculator is None:
        return {}
    from harness.calculator import manifest_entry
    return manifest_entry(potential)


def _write_campaign(target: Path, campaign: Campaign, potentials: list[Potential], runs: list[PlannedRun],
                    manifest: dict[str, Any], extra_files: dict[str, str]) -> None:
    (target / "runs").mkdir(parents=True, exist_ok=True)
    _write_if_changed(target / "campaign.toml", campaign.text)
    for name, text in extra_files.items():
        _write_if_changed(target / name, text)
    for pot in potentials:
        folder = target / "potentials" / pot.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pot.source, folder / pot.source.name)
        for item in pot.files.values():
            destination = folder / item.path.name
            wanted = item.sha256 or sha256_of(item.path)   # verified against the file at load when given
            if not destination.is_file() or sha256_of(destination) != wanted:
                shutil.copy2(item.path, destination)
    for run in runs:
        run_dir = target / "runs" / run.run_id
        run_dir.mkdir(exist_ok=True)
        unchanged = all((run_dir / name).is_file() and (run_dir / name).read_text() == text
                        for name, text in run.files.items())
        if unchanged:
            continue  # same inputs: keep whatever the run has produced (done, or partial with restarts)
        state = read_status(run_dir).get("state")
        if state not in (None, "pending"):
            # Inputs changed (only possible with --force): old outputs describe another run, clear them.
            for entry in run_dir.iterdir():
                if entry.name not in RENDERED_FILES:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        for name, text in run.files.items():
            write_text_atomic(run_dir / name, text)
        write_json_atomic(run_dir / "status.json", {"state": "pending", "reason": None, "message": None, "step": 0,
                                                    "nsteps": run.nsteps, "time_ps": 0.0, "attempts": 0})
    _write_if_changed(target / "manifest.json", json.dumps(manifest, indent=1) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)


def describe(manifest: dict[str, Any]) -> str:
    by_task: dict[str, int] = {}
    for run in manifest["runs"]:
        by_task[run["task"]] = by_task.get(run["task"], 0) + 1
    parts = ", ".join(f"{n} {task}" for task, n in by_task.items())
    return f"{len(manifest['runs'])} runs ({parts}) for potentials {', '.join(manifest['potentials'])}"

