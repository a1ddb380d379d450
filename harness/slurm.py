"""A Slurm batch script that runs the launcher over the allocated nodes: the cluster's MPI does the farming."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def slurm_script(campaign_dir: Path, ntasks: int, time_limit: str, ranks_per_run: int = 1, partition: str | None = None,
                 gpus_per_node: int = 0, account: str | None = None) -> str:
    python = shlex.quote(sys.executable)
    lines = ["#!/bin/bash", f"#SBATCH --job-name=harness-{campaign_dir.name}", f"#SBATCH --ntasks={ntasks}",
             "#SBATCH --cpus-per-task=1", f"#SBATCH --time={time_limit}",
             f"#SBATCH --output={shlex.quote(str(campaign_dir / 'slurm-%j.out'))}"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    if gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    lines += [
        "",
        "# Each run ends done or failed; resubmitting this script resumes where the campaign stopped.",
        "# mpi4py must be built against the cluster's MPI (pip install --no-binary mpi4py mpi4py) for srun to work;",
        "# otherwise replace srun by the mpirun that matches the installed mpi4py.",
        "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}",
        f"srun {python} -m harness launch {shlex.quote(str(campaign_dir))} --ranks-per-run {ranks_per_run}",
        "",
    ]
    return "\n".join(lines)
