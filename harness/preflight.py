"""What `harness launch` checks before it claims a run: the LAMMPS build has the packages every potential of the
campaign needs; no potential gets more MPI ranks per run than it allows (``max_ranks_per_run``); and every
potential that needs a recorded check (MACE through ML-IAP "unified", calculator potentials; harness/check_record.py)
has one that passed for its current files. ``--force-unchecked`` turns a refused check into a warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.check_record import RecordedCheck, calculator_check, mliap_check
from harness.errors import HarnessError
from harness.lammps_env import LammpsBuild


def check_packages(manifest: dict[str, Any], build: LammpsBuild) -> None:
    for name, pot in manifest["potentials"].items():
        missing = [p for p in pot.get("packages", []) if p not in build.packages]
        if missing:
            raise HarnessError(f"potential {name} needs LAMMPS packages {missing} that {build.executable} lacks "
                               f"(set HARNESS_LMP to a LAMMPS build that has them)")


def check_ranks(name: str, entry: dict[str, Any], ranks_per_run: int) -> None:
    limit = entry.get("max_ranks_per_run")
    if limit and ranks_per_run > int(limit):
        raise HarnessError(f"potential {name} runs on at most {limit} MPI rank(s) per run (max_ranks_per_run in "
                           f"{entry.get('source')}); use --ranks-per-run {limit} and more launcher ranks instead")


def required_check(entry: dict[str, Any]) -> RecordedCheck | None:
    """The recorded check a potential of the manifest needs, None if none. Calculator potentials are judged from
    the manifest alone; an ML-IAP potential's file is read (raises HarnessError where it cannot be)."""
    if not entry.get("source"):
        return None
    source = Path(entry["source"])
    if entry.get("kind") == "calculator":
        files = {k: source.parent / f["path"] for k, f in entry.get("calculator", {}).get("files", {}).items()}
        return calculator_check(source, files)
    if not {"ML-IAP", "PYTHON"} <= set(entry.get("packages", [])):
        return None
    from harness.mace import is_mliap_unified
    from harness.potentials import load_potential   # pydantic: only for campaigns with ML-IAP potentials
    potential = load_potential(str(source))
    if not is_mliap_unified(potential):
        return None
    return mliap_check(Path(potential.source), {k: f.path for k, f in potential.files.items()})


def unchecked_because(entry: dict[str, Any]) -> str | None:
    """Why the potential may not be launched without --force-unchecked; None when it may."""
    try:
        check = required_check(entry)
    except HarnessError as exc:
        return f"its potential file cannot be read for the check record ({exc})"
    if check is None:
        return None
    passed, why = check.status()
    return None if passed else why


def launch_gate(manifest: dict[str, Any], build: LammpsBuild, ranks_per_run: int, force_unchecked: bool) -> list[str]:
    """Raise HarnessError at the first potential that may not be launched; returns the warnings of the potentials
    launched anyway (``force_unchecked``)."""
    check_packages(manifest, build)
    warnings = []
    for name, entry in manifest.get("potentials", {}).items():
        check_ranks(name, entry, ranks_per_run)
        why = unchecked_because(entry)
        if why is None:
            continue
        if not force_unchecked:
            raise HarnessError(f"refusing potential {name}: {why}; or launch with --force-unchecked")
        warnings.append(f"potential {name}: {why}; launching anyway (--force-unchecked)")
    return warnings
