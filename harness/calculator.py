"""Calculator potentials: any model with an ASE calculator, integrated by LAMMPS through ``fix external``.

A potential file with ``kind = "calculator"`` names the calculator by import path and keyword arguments instead
of a pair style; everything else (elements, masses, timestep, ``[files.KEY]`` with sha256) is as for every other
potential::

    name = "chgnet"
    kind = "calculator"
    elements = ["Li", "P", "S"]
    [calculator]
    import = "chgnet.model.dynamics:CHGNetCalculator"   # module:attribute, called with the keyword arguments
    device = "auto"                                     # auto (CUDA when torch sees a GPU), cpu or cuda
    device_kwarg = "use_device"                         # the keyword that receives the device, if any
    python = "sevenn"                                   # optional: the environment .venvs/NAME (or an interpreter)
    [calculator.kwargs]
    model = "{{ files.model }}"                         # model files go in as paths

LAMMPS integrates, thermostats, barostats, dumps and checkpoints exactly as with a pair style; the model's
energy, forces and virial come from Python at every step (harness/calculator_runner.py, copied into every run
folder as ``runner.py``, explains how the callback is kept attached across checkpoint segments). One MPI rank
per run: the model sees the whole cell.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.calculator_launch import envs_dir, interpreter_for
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.potentials import Potential

FIX_ID = "harness_mlip"
RUNNER_NAME = "runner.py"
CONFIG_NAME = "calculator.json"


class CalculatorSpec(BaseModel):
    """The ``[calculator]`` table of a potential file."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    import_path: str = Field(alias="import", pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
                             description="module:attribute (or module:Class.factory) of the calculator")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments (TOML values; strings may "
                                   "hold {{ files.KEY }})")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    device_kwarg: str | None = Field(default=None, pattern=r"^[A-Za-z_]\w*$")
    python: str | None = Field(default=None, description="environment name (.venvs/NAME, made by `harness env "
                               "create NAME`) or path of a Python interpreter; default: the harness's own")
    stress: bool = Field(default=True, description="the calculator gives a stress (needed for the virial/NPT)")


def parse_calculator_table(table: Any, where: str) -> CalculatorSpec:
    """The validated ``[calculator]`` table, or one line naming the field and what is allowed."""
    if not isinstance(table, dict):
        raise HarnessError(f"{where}: kind = \"calculator\" needs a [calculator] table with import = \"module:Class\"")
    try:
        return CalculatorSpec.model_validate(table)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "calculator"
        known = ", ".join(["import", *(f for f in CalculatorSpec.model_fields if f != "import_path")])
        allowed = {"extra_forbidden": f"unknown field (known: {known})",
                   "string_pattern_mismatch": "must look like module.path:Name" if field == "import" else
                   "must be an identifier"}.get(error["type"], error["msg"])
        raise HarnessError(f"{where}: calculator.{field}: {allowed}") from None


def interpreter(spec: CalculatorSpec, source: Path | None = None) -> str:
    """The Python that runs the calculator (harness/calculator_launch.py)."""
    return interpreter_for(spec.python, source)


# ------------------------------------------------------------------------------------------ rendering

def lammps_lines(potential: Potential) -> list[str]:
    """The potential's LAMMPS lines: a stop for plain `lmp`, the model fix with energy and virial."""
    spec = potential.calculator
    assert spec is not None
    message = (f"ERROR: potential {potential.name} is a Python calculator ({spec.import_path}): run this input with "
               f"`python {RUNNER_NAME}` in its folder (plain LAMMPS would integrate it with zero forces)")
    return [
        f"# the model: ASE calculator {spec.import_path}, evaluated by {RUNNER_NAME} (this folder) at every force call",
        f"# run by hand in this folder: {python_hint(spec)} {RUNNER_NAME}",
        f"if \"$(is_defined(variable,harness_runner)) == 0\" then \"print '{message}'\" \"quit 1\"",
        f"fix             {FIX_ID} all external pf/callback 1 1",
        f"fix_modify      {FIX_ID} energy yes virial yes",
        "atom_modify     sort 0 0.0",
        "comm_modify     cutoff 2.0",
    ]


def python_hint(spec: CalculatorSpec) -> str:
    if not spec.python:
        return "python"
    if "/" not in spec.python:
        return str(envs_dir() / spec.python / "bin" / "python")
    return spec.python


def config(potential: Potential, file_paths: dict[str, str]) -> dict[str, Any]:
    """What runner.py reads (calculator.json); ``file_paths`` are the model files as the run folder sees them."""
    spec = potential.calculator
    assert spec is not None
    return {"potential": potential.name, "import": spec.import_path, "kwargs": spec.kwargs, "device": spec.device,
            "device_kwarg": spec.device_kwarg, "stress": spec.stress, "elements": potential.elements,
            "files": {key: {"path": file_paths[key], "sha256": item.sha256} for key, item in potential.files.items()}}


def runner_text() -> str:
    return (Path(__file__).resolve().parent / "calculator_runner.py").read_text()


def run_files(potential: Potential, file_paths: dict[str, str]) -> dict[str, str]:
    return {RUNNER_NAME: runner_text(), CONFIG_NAME: json.dumps(config(potential, file_paths), indent=1) + "\n"}


_ANY_EXTERNAL = re.compile(r"^\s*fix\s+(\S+)\s+\S+\s+external\b", re.M)


def validate_render(potential: Potential, in_lammps: str, where: str) -> None:
    """At render time: the calculator can be found, and the input has no model fix but the bridge's."""
    spec = potential.calculator
    assert spec is not None
    if not spec.python:
        module = spec.import_path.split(":")[0]
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise HarnessError(f"potential file {potential.source}: calculator.import: module {module!r} not found "
                               f"in {sys.executable} (install it, or name its environment in calculator.python)")
    else:
        interpreter(spec, potential.source)
    if not spec.stress and re.search(r"\b(npt|box/relax)\b", in_lammps):
        raise HarnessError(f"potential file {potential.source}: calculator.stress = false, but {where} changes the "
                           "cell under pressure (NPT or box relaxation), which needs the model's stress")
    others = sorted({m for m in _ANY_EXTERNAL.findall(in_lammps) if m != FIX_ID})
    if others:
        raise HarnessError(f"{where}: fix {others[0]} is a fix external; a calculator potential's model fix is "
                           f"{FIX_ID}, made by the potential lines")


def manifest_entry(potential: Potential) -> dict[str, Any]:
    spec = potential.calculator
    if spec is None:
        return {}
    return {"kind": "calculator", "calculator": {
        "import": spec.import_path, "python": spec.python, "device": spec.device,
        "interpreter": interpreter(spec, potential.source) if spec.python else None,   # as resolved at render time
        "files": {key: {"path": str(item.path)} for key, item in potential.files.items()}}}
