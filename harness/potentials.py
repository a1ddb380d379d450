"""Potentials are data: one TOML file per potential (pair_style, pair_coeff, files with sha256, elements,
masses, required LAMMPS packages, suggested timestep, accelerator flags). Adding a pair style needs no Python."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.elements import mass_amu
from harness.errors import HarnessError
from harness.paths import potentials_dir

_KNOWN_KEYS = {"name", "description", "elements", "pair_style", "pair_coeff", "commands", "packages",
               "timestep_fs", "masses", "files", "accelerator", "max_ranks_per_run", "citation",
               "kind", "calculator"}


@dataclass
class PotentialFile:
    key: str
    path: Path
    sha256: str | None


@dataclass
class Potential:
    name: str
    source: Path
    elements: list[str]
    pair_style: str
    pair_coeff: list[str]
    commands: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    timestep_fs: float = 1.0
    masses: dict[str, float] = field(default_factory=dict)
    files: dict[str, PotentialFile] = field(default_factory=dict)
    accelerators: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""
    max_ranks_per_run: int | None = None
    kind: str = "pair"                  # "pair" (LAMMPS pair style) or "calculator" (harness/calculator.py)
    calculator: Any = None              # harness.calculator.CalculatorSpec for kind = "calculator"

    def pair_lines(self, file_paths: dict[str, str]) -> list[str]:
        """The LAMMPS lines that define this potential, with ``{{ elements }}`` and ``{{ files.KEY }}`` filled in."""
        if self.calculator is not None:
            from harness.calculator import lammps_lines
            return lammps_lines(self)
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
        context = {"elements": " ".join(self.elements), "files": file_paths}
        lines = []
        for template in (f"pair_style      {self.pair_style}", *(f"pair_coeff      {c}" for c in self.pair_coeff),
                         *self.commands):
            try:
                lines.append(env.from_string(template).render(**context))
            except jinja2.UndefinedError as exc:
                raise HarnessError(f"potential {self.name} ({self.source}): {exc.message} in line {template!r}") from None
        return lines


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_potential(name_or_path: str, search: list[Path] | None = None) -> Path:
    """A potential named NAME is ``NAME.toml`` in the given folders, ./potentials, or the shipped potentials."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or "/" in name_or_path:
        if candidate.is_file():
            return candidate
        raise HarnessError(f"potential file {name_or_path} does not exist")
    folders = [*(search or []), Path.cwd() / "potentials", potentials_dir()]
    for folder in folders:
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return path
    known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.toml")})
    raise HarnessError(f"unknown potential {name_or_path!r} (known: {', '.join(known) or 'none'})")


def list_potentials(search: list[Path] | None = None) -> list[Path]:
    seen: dict[str, Path] = {}
    for folder in [*(search or []), Path.cwd() / "potentials", potentials_dir()]:
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen.setdefault(path.stem, path)
    return list(seen.values())


def load_potential(name_or_path: str, search: list[Path] | None = None) -> Potential:
    path = find_potential(name_or_path, search)
    where = f"potential file {path}"
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{where}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise HarnessError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_KNOWN_KEYS))})")
    kind = data.get("kind", "pair")
    if kind not in ("pair", "calculator"):
        raise HarnessError(f"{where}: field 'kind' must be \"pair\" or \"calculator\", got {kind!r}")
    calculator = None
    if kind == "calculator":   # the [calculator] table is validated by its own schema
        from harness.calculator import parse_calculator_table
        calculator = parse_calculator_table(data.get("calculator"), where)
        data.setdefault("pair_style", "")
        data.setdefault("pair_coeff", [])
        if data.setdefault("max_ranks_per_run", 1) != 1:
            raise HarnessError(f"{where}: field 'max_ranks_per_run': a calculator potential runs on one MPI rank per "
                               "run (the model sees the whole cell)")
    elif "calculator" in data:
        raise HarnessError(f"{where}: a [calculator] table needs kind = \"calculator\"")
    for key in ("elements", "pair_style", "pair_coeff"):
        if key not in data:
            raise HarnessError(f"{where}: missing field {key!r}")
    elements = data["elements"]
    if not isinstance(elements, list) or not elements or not all(isinstance(e, str) for e in elements):
        raise HarnessError(f"{where}: field 'elements' must be a non-empty list of element symbols")
    repeated = sorted({e for e in elements if elements.count(e) > 1})
    if repeated:
        raise HarnessError(f"{where}: field 'elements' lists {', '.join(repeated)} more than once (one atom type each)")
    if not isinstance(data["pair_coeff"], list):
        raise HarnessError(f"{where}: field 'pair_coeff' must be a list of strings")
    timestep = float(data.get("timestep_fs", 1.0))
    if timestep <= 0:
        raise HarnessError(f"{where}: field 'timestep_fs' must be positive, got {timestep}")
    masses = {}
    for element in elements:
        given = data.get("masses", {}).get(element)
        try:
            masses[element] = float(given) if given is not None else mass_amu(element)
        except KeyError as exc:
            raise HarnessError(f"{where}: {exc.args[0]}") from None
    files = {}
    for key, spec in data.get("files", {}).items():
        if not isinstance(spec, dict) or "path" not in spec:
            raise HarnessError(f"{where}: files.{key} needs a 'path'")
        file_path = (path.parent / spec["path"]).resolve()
        files[key] = PotentialFile(key=key, path=file_path, sha256=spec.get("sha256"))
    accelerators = {}
    for kind, spec in data.get("accelerator", {}).items():
        args = spec.get("args") if isinstance(spec, dict) else None
        if not isinstance(args, list):
            raise HarnessError(f"{where}: accelerator.{kind} needs a list 'args'")
        accelerators[kind] = [str(a) for a in args]
    return Potential(
        name=str(data.get("name", path.stem)), source=path, elements=list(elements), pair_style=str(data["pair_style"]),
        pair_coeff=[str(c) for c in data["pair_coeff"]], commands=[str(c) for c in data.get("commands", [])],
        packages=[str(p) for p in data.get("packages", [])], timestep_fs=timestep, masses=masses, files=files,
        accelerators=accelerators, description=str(data.get("description", "")),
        max_ranks_per_run=data.get("max_ranks_per_run"), kind=kind, calculator=calculator,
    )


def verify_files(potential: Potential) -> list[str]:
    """Problems with the potential's files (missing, hash mismatch); empty when all is well."""
    problems = []
    for item in potential.files.values():
        if not item.path.is_file():
            problems.append(f"potential {potential.name}: file {item.path} (files.{item.key}) does not exist")
        elif item.sha256 and sha256_of(item.path) != item.sha256:
            problems.append(f"potential {potential.name}: sha256 of {item.path} does not match files.{item.key}.sha256")
    return problems
