"""The recorded `harness potentials check` of a potential: ``NAME.check.json`` beside the potential file, what it
is valid for (the sha256 of the potential file, of its model files and of the harness code the check ran through)
and whether it still holds. Two kinds of potential record one: MACE through ML-IAP "unified" (its parity check,
harness/mace.py) and calculator potentials (harness/calculator_check.py); `harness launch` refuses a potential
whose record is missing, failed or stale (harness/preflight.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.rundir import sha256_of, write_json_atomic

CALCULATOR_RUNNER = Path(__file__).with_name("calculator_runner.py")


def check_record_path(source: Path) -> Path:
    """Where the check of the potential file ``source`` is recorded."""
    return source.with_name(f"{source.stem}.check.json")


@dataclass(frozen=True)
class RecordedCheck:
    source: Path               # the potential file
    files: dict[str, Path]     # its model files, by key
    code: dict[str, Path]      # harness code the check ran through, by name
    what: str                  # how messages name the check

    @property
    def path(self) -> Path:
        return check_record_path(self.source)

    def fingerprint(self) -> dict[str, str]:
        prints = {"toml": sha256_of(self.source), **{name: sha256_of(path) for name, path in self.code.items()}}
        for key, path in sorted(self.files.items()):
            prints[f"files.{key}"] = sha256_of(path) if path.is_file() else "missing"
        return prints

    def status(self) -> tuple[bool, str]:
        """(passed, why) from the record; a stale record counts as never run."""
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return False, f"its {self.what} never ran (run `harness potentials check {self.source}`)"
        if record.get("fingerprint") != self.fingerprint():
            return False, (f"its files changed since the {self.what} recorded in {self.path} (run `harness potentials "
                           f"check {self.source}` again)")
        if not record.get("passed"):
            return False, f"its {self.what} failed: {record.get('reason', 'see ' + str(self.path))}"
        return True, f"{self.what} passed"

    def write(self, record: dict[str, Any]) -> None:
        write_json_atomic(self.path, record)


def mliap_check(source: Path, files: dict[str, Path]) -> RecordedCheck:
    """The parity check of a MACE potential through ML-IAP against ASE's MACECalculator."""
    return RecordedCheck(source, files, {}, "parity check")


def calculator_check(source: Path, files: dict[str, Path]) -> RecordedCheck:
    """The check of a calculator potential: LAMMPS through the bridge (the runner) against the calculator in ASE."""
    return RecordedCheck(source, files, {"runner": CALCULATOR_RUNNER}, "check")
