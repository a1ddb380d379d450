"""Potentials are data: one TOML file per potential (pair_style, pair_coeff, files with sha256, elements,
masses, required LAMMPS packages, suggested timestep, accelerator flags). Adding a pair style needs no Python.

``PotentialFileModel`` is the strict schema of that file (README "Potential files"); ``Potential`` is what the
rest of the harness uses once the file has passed it."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import jinja2
from pydantic import AfterValidator, Field, Strict, ValidationError, field_validator, model_validator

from harness.elements import MASS_AMU
from harness.errors import HarnessError
from harness.paths import potentials_dir
from harness.rundir import sha256_of  # noqa: F401 (re-exported: callers use potentials.sha256_of)
from harness.schema import (Element, Line, NonEmptyLine, PathText, StrictModel, error_line, fail, integer, name_pattern,
                            number)

if TYPE_CHECKING:
    from harness.calculator import CalculatorSpec


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
    kind: str = "pair"                              # "pair" (a LAMMPS pair style) or "calculator" (harness/calculator.py)
    calculator: CalculatorSpec | None = None        # the [calculator] table of kind = "calculator"

    def pair_lines(self, file_paths: dict[str, str]) -> list[str]:
        """The LAMMPS lines that define this potential, with ``{{ elements }}`` and ``{{ files.KEY }}`` filled in."""
        if self.calculator is not None:
            from harness.calculator import lammps_lines
            return lammps_lines(self)
        return [_render_line(template, self.line_context(file_paths), f"potential {self.name} ({self.source})")
                for _, template in self.templates()]

    def templates(self) -> list[tuple[str, str]]:
        """(field path, line template) of every LAMMPS line the potential contributes, in order."""
        if self.calculator is not None:   # its lines come from harness/calculator.py, not from templates
            return []
        return [("pair_style", f"pair_style      {self.pair_style}"),
                *((f"pair_coeff[{i}]", f"pair_coeff      {c}") for i, c in enumerate(self.pair_coeff)),
                *((f"commands[{i}]", c) for i, c in enumerate(self.commands))]

    def line_context(self, file_paths: dict[str, str]) -> dict[str, object]:
        return {"elements": " ".join(self.elements), "files": file_paths}


_LINE_ENVIRONMENT = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)


def _render_line(template: str, context: dict[str, object], where: str) -> str:
    try:
        return _LINE_ENVIRONMENT.from_string(template).render(**context)
    except jinja2.UndefinedError as exc:
        raise HarnessError(f"{where}: {exc.message} in line {template!r}") from None
    except jinja2.TemplateError as exc:
        raise HarnessError(f"{where}: {' '.join(str(exc).split())} in line {template!r}") from None


# ------------------------------------------------------------------------------------------ the schema

def _file_key(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise fail(f"file key {value!r} must be a name usable as {{{{ files.KEY }}}} (letters, digits, _)")
    return value


def _package(value: str) -> str:
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]*", value):
        raise fail(f"{value!r} is not a LAMMPS package name (upper case, e.g. 'ML-SNAP', 'KOKKOS')")
    return value


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise fail(f"expected 64 hexadecimal digits (the output of sha256sum), got {value!r}")
    return value.lower()


class FileSpec(StrictModel):
    path: PathText = Field(description="relative to the potential file")
    sha256: Annotated[str, Strict(), AfterValidator(_sha256)] | None = None


class AcceleratorSpec(StrictModel):
    args: list[Line] = Field(description="LAMMPS command-line flags, e.g. [\"-k\", \"on\", \"g\", \"1\"]")


FileKey = Annotated[str, Strict(), AfterValidator(_file_key)]
AcceleratorName = Annotated[str, Strict(), AfterValidator(name_pattern("accelerator name"))]
PotentialName = Annotated[NonEmptyLine, AfterValidator(name_pattern("potential name"))]
Package = Annotated[str, Strict(), AfterValidator(_package)]
PotentialTimestep = number(at_least=0.01, maximum=100.0, unit="fs")
Mass = number(maximum=1000.0, unit="amu")
RankCount = integer(minimum=1, maximum=1_000_000)


class PotentialFileModel(StrictModel):
    kind: Literal["pair"] = "pair"
    name: PotentialName | None = None           # default: the file name without .toml
    description: Line = ""
    citation: Line = ""
    elements: Annotated[list[Element], Field(min_length=1, description="element order = LAMMPS atom types")]
    pair_style: NonEmptyLine = Field(description="the pair_style arguments")
    pair_coeff: Annotated[list[NonEmptyLine], Field(min_length=1, description="a list of pair_coeff arguments")]
    commands: list[Line] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)
    timestep_fs: PotentialTimestep = 1.0
    masses: dict[Element, Mass] = Field(default_factory=dict)
    files: dict[FileKey, FileSpec] = Field(default_factory=dict)
    accelerator: dict[AcceleratorName, AcceleratorSpec] = Field(default_factory=dict)
    max_ranks_per_run: RankCount | None = None

    @field_validator("elements")
    @classmethod
    def _once_each(cls, elements: list[str]) -> list[str]:
        repeated = sorted({e for e in elements if elements.count(e) > 1})
        if repeated:
            raise fail(f"lists {', '.join(repeated)} more than once (one atom type each)")
        return elements

    @model_validator(mode="after")
    def _masses_and_files(self) -> PotentialFileModel:
        for element in self.masses:
            if element not in self.elements:
                raise fail(f"[masses].{element}: {element!r} is not one of elements {self.elements}")
        for element in self.elements:
            if element not in self.masses and element not in MASS_AMU:
                raise fail(f"no default mass for element {element!r}: give it under [masses] in the potential file")
        names: dict[str, str] = {}
        for key, spec in self.files.items():
            base = Path(spec.path).name
            if base in names:
                raise fail(f"[files.{key}] and [files.{names[base]}] are both named {base!r} (they are copied "
                           "into one folder)")
            names[base] = key
        return self


class CalculatorPotentialFileModel(PotentialFileModel):
    """kind = "calculator": an ASE calculator instead of a pair style (harness/calculator.py validates the
    [calculator] table itself, with its own messages); one MPI rank per run, the model sees the whole cell."""
    kind: Literal["calculator"]                  # type: ignore[assignment]
    pair_style: Line = ""
    pair_coeff: list[NonEmptyLine] = Field(default_factory=list)
    calculator: dict[str, object] | None = None  # None: parse_calculator_table says what is missing
    max_ranks_per_run: Literal[1] | None = Field(default=1, description="a calculator potential runs on one MPI "
                                                  "rank per run (the model sees the whole cell)")


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
    except OSError as exc:
        raise HarnessError(f"cannot read {where}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HarnessError(f"{where}: not a UTF-8 text (TOML) file") from None
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{where}: invalid TOML: {exc}") from None
    except RecursionError:
        raise HarnessError(f"{where}: invalid TOML: nested too deeply") from None
    kind = data.get("kind", "pair")
    if kind not in ("pair", "calculator"):
        raise HarnessError(f"{where}: kind: must be \"pair\" or \"calculator\", got {kind!r}")
    if kind == "pair" and "calculator" in data:
        raise HarnessError(f"{where}: a [calculator] table needs kind = \"calculator\"")
    model: type[PotentialFileModel] = CalculatorPotentialFileModel if kind == "calculator" else PotentialFileModel
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        raise HarnessError(f"{where}: {error_line(exc, model, _table_depth)}") from None
    calculator = None
    if isinstance(spec, CalculatorPotentialFileModel):
        from harness.calculator import parse_calculator_table
        calculator = parse_calculator_table(spec.calculator, where)
    potential = Potential(
        name=spec.name or path.stem, source=path, elements=list(spec.elements), pair_style=spec.pair_style,
        pair_coeff=list(spec.pair_coeff), commands=list(spec.commands), packages=list(spec.packages),
        timestep_fs=spec.timestep_fs, masses={e: spec.masses.get(e, MASS_AMU.get(e, 0.0)) for e in spec.elements},
        files={key: PotentialFile(key=key, path=(path.parent / f.path).resolve(), sha256=f.sha256)
               for key, f in spec.files.items()},
        accelerators={kind: list(a.args) for kind, a in spec.accelerator.items()},
        description=spec.description, max_ranks_per_run=spec.max_ranks_per_run, kind=spec.kind,
        calculator=calculator,
    )
    if spec.name is None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", potential.name):
        raise HarnessError(f"{where}: the potential takes its name from the file, {potential.name!r}, which may hold "
                           "only letters, digits and . _ + - (it names folders and run ids); set name = \"...\"")
    placeholders = {key: f"FILE_{key}" for key in potential.files}
    for field_name, template in potential.templates():   # every placeholder must fill in: checked now, not at render
        _render_line(template, potential.line_context(placeholders), f"{where}: {field_name}")
    return potential


def _table_depth(loc: tuple[str | int, ...]) -> int:
    """[masses] is one table, [files.KEY] and [accelerator.NAME] are tables of tables."""
    return {"masses": 1, "files": 2, "accelerator": 2}.get(str(loc[0]), 0) if loc else 0


def verify_files(potential: Potential) -> list[str]:
    """Problems with the potential's files (missing, hash mismatch); empty when all is well."""
    problems = []
    for item in potential.files.values():
        if not item.path.is_file():
            problems.append(f"potential {potential.name} ({potential.source}): file {item.path} (files.{item.key}) "
                            "does not exist")
        elif item.sha256 and sha256_of(item.path) != item.sha256:
            problems.append(f"potential {potential.name} ({potential.source}): sha256 of {item.path} does not match "
                            f"files.{item.key}.sha256")
    return problems
