"""Melt-quench protocols: the ``[melt_quench].variants`` of a campaign expanded into concrete temperature programmes.

``npt`` / ``nvt``: the task's own fields (T_low_K -> T_high_K -> T_low_K at heating_rate_K_per_ps and
quench_rate_K_per_ps, hold_ps at T_high_K, then anneal_ps at the final temperature), in that ensemble. This is
the Task 2 trajectory ("a NequIP-driven melt–quench trajectory of a 672-atom Li7P3S11 supercell between 300 and
1500 K"; its rates are not given in the main text, so they are harness choices: see docs/defaults.md).

``iter1`` / ``iter2``: the paper's active-learning cycles of the LiPS-25 data set, one run per grid point:
  Iter1 "NVT MQ cycles of 300 K -> T_melt -> 300 K (T_melt = 1000, 1500 K; quench rates 50, 100 K/ps)":
        4 runs (T_melt x rate);
  Iter2 "NPT MQ cycles of 300 K -> 1500 K -> T_quench (T_quench = 300, 400, 500 K; quench rate 50 K/ps)",
        with data taken "only within the anneal post melt–quench": 3 runs, each ending with an anneal at T_quench.
The paper gives no heating rate, hold or anneal length for them: heating runs at the cycle's quench rate, the hold
is the task's hold_ps, and the anneal is anneal_ps (Iter2: ITER2_ANNEAL_PS when anneal_ps is not set); all three
are harness choices. ``nvt_iter1`` and ``npt_iter2`` are accepted spellings of ``iter1`` and ``iter2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.tasks.melt_quench import MeltQuenchTask

PAPER_PRESETS: dict[str, dict[str, Any]] = {
    "iter1": {"ensemble": "nvt", "T_low_K": 300.0, "T_high_K": (1000.0, 1500.0), "quench_rate_K_per_ps": (50.0, 100.0),
              "T_final_K": (300.0,)},
    "iter2": {"ensemble": "npt", "T_low_K": 300.0, "T_high_K": (1500.0,), "quench_rate_K_per_ps": (50.0,),
              "T_final_K": (300.0, 400.0, 500.0)},
}
ALIASES = {"nvt_iter1": "iter1", "npt_iter2": "iter2"}
VARIANTS = ("npt", "nvt", *PAPER_PRESETS, *ALIASES)
ITER2_ANNEAL_PS = 10.0   # harness choice: the paper's Iter2 anneal after the quench has no stated length


@dataclass(frozen=True)
class MeltQuenchProtocol:
    """One temperature programme: heat T_low -> T_high, hold, quench T_high -> T_final, anneal at T_final."""

    variant: str            # npt, nvt, iter1, iter2
    label: str              # its part of the run id, e.g. "npt", "iter1-Tm1000-q50", "iter2-Tq400"
    ensemble: str           # npt or nvt
    T_low_K: float
    T_high_K: float
    T_final_K: float
    heating_rate_K_per_ps: float
    quench_rate_K_per_ps: float
    hold_ps: float
    anneal_ps: float


def protocols(task: MeltQuenchTask) -> list[MeltQuenchProtocol]:
    """Every protocol of a MeltQuenchTask's variants, in the order given (duplicates dropped)."""
    out: list[MeltQuenchProtocol] = []
    for given in task.variants:
        variant = ALIASES.get(given, given)
        if variant in ("npt", "nvt"):
            out.append(MeltQuenchProtocol(
                variant, variant, variant, float(task.T_low_K), float(task.T_high_K), float(task.T_low_K),
                float(task.heating_rate_K_per_ps), float(task.quench_rate_K_per_ps), float(task.hold_ps),
                float(task.anneal_ps or 0.0)))
            continue
        preset = PAPER_PRESETS[variant]
        anneal = task.anneal_ps if task.anneal_ps is not None else (ITER2_ANNEAL_PS if variant == "iter2" else 0.0)
        for t_high in preset["T_high_K"]:
            for rate in preset["quench_rate_K_per_ps"]:
                for t_final in preset["T_final_K"]:
                    label = (f"{variant}-Tm{t_high:g}-q{rate:g}" if variant == "iter1" else f"{variant}-Tq{t_final:g}")
                    out.append(MeltQuenchProtocol(
                        variant, label, preset["ensemble"], preset["T_low_K"], t_high, t_final, rate, rate,
                        float(task.hold_ps), float(anneal)))
    unique: dict[str, MeltQuenchProtocol] = {}
    for protocol in out:
        unique.setdefault(protocol.label, protocol)
    return list(unique.values())
