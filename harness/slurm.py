"""A Slurm batch script that runs the launcher over the allocated tasks as one MPI world: the cluster's MPI
does the farming, the run locks on the shared filesystem make resubmission resume where the last job stopped."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

# `srun --mpi=pmi2` makes the job's tasks one MPI world with PyPI's MPICH (a plain `srun` starts N singleton
# launchers that only share work through the locks). Clusters whose mpi4py is built on an MPI with PMIx use "pmix".
DEFAULT_SRUN_MPI = "pmi2"


def slurm_script(campaign_dir: Path, ntasks: int, time_limit: str, ranks_per_run: int = 1, partition: str | None = None,
                 gpus_per_node: int = 0, account: str | None = None, srun_mpi: str = DEFAULT_SRUN_MPI,
                 python: str | None = None) -> str:
    python = shlex.quote(python or sys.executable)
    lines = ["#!/bin/bash", f"#SBATCH --job-name=harness-{campaign_dir.name}", f"#SBATCH --ntasks={ntasks}",
             "#SBATCH --cpus-per-task=1", f"#SBATCH --time={time_limit}",
             f"#SBATCH --output={shlex.quote(str(campaign_dir / 'slurm-%j.out'))}"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    if gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    mpi = f" --mpi={srun_mpi}" if srun_mpi else ""
    lines += [
        "",
        "# Each run ends done or failed; a job that is cancelled or reaches its time limit leaves its runs",
        "# resumable: `sbatch` this script again and the next job carries on from the last restart files.",
        "# mpi4py must use the MPI that srun's --mpi plugin speaks (PyPI mpich: pmi2; a cluster MPI built with",
        "# PMIx: --mpi=pmix and `pip install --no-binary mpi4py mpi4py`); `srun --mpi=list` shows the choices.",
        "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}",
        f"srun{mpi} {python} -m harness launch {shlex.quote(str(campaign_dir))} --ranks-per-run {ranks_per_run}",
        "",
    ]
    return "\n".join(lines)
