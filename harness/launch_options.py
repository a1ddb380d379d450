"""The options of `harness launch` (harness/cli.py sets them from its flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LaunchOptions:
    ranks_per_run: int = 1
    wall_time_s: float | None = None   # overrides the campaign's per-run limit
    retry_failed: bool = False
    lmp: str | None = None
    accelerator: str = "auto"          # "auto": the potential's flags when a GPU is visible; "none"; or a kind
    progress_every_s: float = 15.0
    only: str | None = None            # run ids containing this text
    kill_grace_s: float = 30.0         # LAMMPS's own `timer timeout` stops a run at the wall limit; a hang is
                                       # killed this much later
    force_unchecked: bool = False      # launch potentials whose recorded check (MACE parity, calculator) failed or
                                       # never ran
    host: str | None = None            # the host name in locks and status (default $HARNESS_HOST or the machine's)
    heartbeat_timeout_s: float | None = None  # another host's lock is stale after this (default 120 s)
    take_over: bool = False            # wait for runs other launchers hold; take them over if their heartbeat stops
