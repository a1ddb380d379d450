"""The launcher's MPI world: mpi4py's COMM_WORLD under an MPI launcher (mpirun, mpiexec, srun), else a one-rank
stand-in that never loads MPI; and waiting on MPI without stealing the CPU from the LAMMPS processes."""

from __future__ import annotations

import os
import time
from typing import Any

from harness.lammps_env import MPI_ENV_PREFIXES


class _Done:
    @staticmethod
    def Test() -> bool:  # noqa: N802 (mpi4py's names)
        return True


class SerialWorld:
    """COMM_WORLD of a launcher started without mpirun/srun: one rank, no MPI initialised (mpi4py costs ~0.07 s
    to load). Several such launchers on one campaign still share the work safely through the run locks."""

    def Get_rank(self) -> int:  # noqa: N802
        return 0

    def Get_size(self) -> int:  # noqa: N802
        return 1

    def Split(self, color: int, key: int) -> "SerialWorld":  # noqa: N802
        return self

    def Ibarrier(self) -> _Done:  # noqa: N802
        return _Done()

    def bcast(self, value: Any, root: int = 0) -> Any:
        return value


def under_mpi_launcher(environ: dict[str, str] | None = None) -> bool:
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun), judged by its environment."""
    return any(name.startswith(MPI_ENV_PREFIXES) for name in (os.environ if environ is None else environ))


def world(ranks_per_run: int = 1) -> Any:
    """COMM_WORLD, or a SerialWorld where one rank runs one run at a time and no MPI launcher started us
    (HARNESS_MPI=1 forces MPI)."""
    if ranks_per_run == 1 and not under_mpi_launcher() and os.environ.get("HARNESS_MPI") != "1":
        return SerialWorld()
    from mpi4py import MPI
    return MPI.COMM_WORLD


def wait_without_spinning(request: Any) -> None:
    """Complete a non-blocking MPI request while sleeping: a blocking barrier would busy-wait and steal the CPU
    from the LAMMPS processes of the other ranks."""
    pause = 0.001
    while not request.Test():
        time.sleep(pause)
        pause = min(0.2, pause * 2)
