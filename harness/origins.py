"""Where every default of a campaign comes from: the paper (with the sentence) or a harness choice (with why).

One table, used by both ``docs/defaults.md`` (``python -m harness.origins > docs/defaults.md``) and
``harness render CAMPAIGN --explain`` (the resolved parameters of a campaign with this origin column). Quotes are
from the LiPS-25 paper's "BENCHMARK TASKS" and "EXPERIMENTS" sections and the data-set description (Iter1/Iter2);
"harness choice" marks a value the main text does not give. tests/harness/test_origins.py checks that every field
of every campaign section has an entry here, and that docs/defaults.md is this module's output.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from pydantic.fields import FieldInfo

from harness.campaign import TASKS, Campaign, CampaignSettings

PAPER = "paper"
CHOICE = "harness choice"


@dataclass(frozen=True)
class Origin:
    kind: str     # PAPER or CHOICE
    note: str     # PAPER: the sentence (quoted); CHOICE: one line why


def paper(quote: str, note: str = "") -> Origin:
    return Origin(PAPER, f"\u201c{quote}\u201d" + (f" ({note})" if note else ""))


def choice(why: str) -> Origin:
    return Origin(CHOICE, why)


T3 = ("500 ps NVT anneals across the relevant temperature regime of 400–800 K are carried out on 672-atom "
      "supercells.")
T4 = ("We perform 100 ps NPT simulations on a 1008-atom random-hard-sphere structure generated using buildcell, "
      "and relaxed in a fixed cell with the corresponding potential.")
T4_GRID = "Simulations are carried out across a grid of temperatures (1000–16,000 K) and pressures (10^6 – 10^12 Pa)."
T2 = ("DFT snapshots were computed every 5 ps from a NequIP-driven melt–quench trajectory of a 672-atom Li7P3S11 "
      "supercell between 300 and 1500 K.")
TIMESTEP = choice("the main text gives no MD time step: each potential file suggests one (`timestep_fs`)")
THERMOSTAT = choice("not given in the main text; 100 fs (~100 steps) is the usual Nosé–Hoover choice in LAMMPS")
BAROSTAT = choice("not given in the main text; 1000 fs (~1000 steps) is the usual Nosé–Hoover barostat choice")

ORIGINS: dict[str, dict[str, Origin]] = {
    "campaign": {
        "name": choice("a label for the campaign directory and report"),
        "potentials": choice("no default: a campaign must name the potentials it benchmarks"),
        "seed": choice("any fixed number: every run's LAMMPS seed derives from it and the run id (reproducible)"),
        "wall_time_s": choice("one day per run: a safety limit, not physics"),
        "restart_every_ps": choice("checkpoint cadence for resumable runs, not physics"),
        "thermo_every_ps": choice("progress and finite-energy checks; does not change the trajectory"),
        "timestep_fs": TIMESTEP,
        "templates": choice("the shipped templates unless the user overrides them"),
    },
    "conductivity": {
        "structure": paper("In this benchmark, we evaluate the ionic mobility in crystalline Li7P3S11"),
        "supercell": paper(T3, "672 atoms = 16 cells of 42 atoms; the 4 x 2 x 2 shape is the harness's"),
        "temperatures_K": paper(T3, "the range; five points 100 K apart are the harness's reading"),
        "duration_ps": paper(T3),
        "equilibration_ps": choice("the main text gives no equilibration; 10 ps before the 500 ps production"),
        "repeats": paper("Performance for the predicted magnitude of ionic conductivity, σ298, averaged over three "
                         "repeats (Task 3)."),
        "dump_interval_ps": choice("MSD sampling (not given); 1 ps gives 500 time origins per run"),
        "thermostat_damping_fs": THERMOSTAT,
        "timestep_fs": TIMESTEP,
    },
    "robustness": {
        "formula": choice("the main text does not give the composition; Li7P3S11 (48 formula units = 1008 atoms) "
                          "is the composition the other tasks use"),
        "natoms": paper(T4),
        "density_g_cm3": choice("buildcell's settings are not given; 1.87 g/cm^3 is the DFT density of "
                                "crystalline Li7P3S11"),
        "min_distance_A": choice("buildcell's minimum separations are not given; per-pair defaults near bond "
                                 "lengths (harness/structures.py DEFAULT_MIN_DISTANCE_A)"),
        "temperatures_K": paper(T4_GRID, "the range; the doubling series 1000, 2000, ..., 16000 K is the "
                                "harness's reading of Figure 4"),
        "pressures_Pa": paper(T4_GRID, "the range; one point per decade is the harness's reading of Figure 4"),
        "duration_ps": paper(T4),
        "repeats": paper("a green marker denotes that all three repeats completed 100 ps"),
        "dump_interval_ps": paper("the number of frames (sampled at 1 ps intervals) containing interatomic "
                                  "separations ≤ 1 Å"),
        "relax": paper(T4),
        "relax_max_iterations": choice("the paper gives no limit; 1000 conjugate-gradient iterations"),
        "relax_force_tolerance_eV_per_A": choice("the paper gives no tolerance; 1e-3 eV/Å (LAMMPS applies it to the "
                                                 "norm of the whole force vector)"),
        "thermostat_damping_fs": THERMOSTAT,
        "barostat_damping_fs": BAROSTAT,
        "timestep_fs": TIMESTEP,
    },
    "melt_quench": {
        "structure": paper(T2),
        "supercell": paper(T2, "672 atoms = 16 cells of 42 atoms; the 4 x 2 x 2 shape is the harness's"),
        "variants": paper("Evenly spaced snapshots are taken from an NPT melt–quench simulation of Li7P3S11.",
                          "Figure 2c; the iter1/iter2 variants carry the data-set Iter1/Iter2 grids"),
        "T_low_K": paper(T2),
        "T_high_K": paper(T2),
        "heating_rate_K_per_ps": choice("the Task 2 trajectory's rates are not given in the main text; 10 K/ps "
                                        "(120 ps per ramp), slower than the data set's 50–100 K/ps cycles"),
        "quench_rate_K_per_ps": choice("as the heating rate: not given in the main text for Task 2"),
        "hold_ps": choice("no hold is given; 50 ps at T_high melts the 672-atom cell"),
        "anneal_ps": choice("no anneal after the Task 2 quench is given (0); Iter2's post-quench anneal has no "
                            "stated length (10 ps, harness/meltquench_protocols.py)"),
        "pressure_Pa": choice("not given for Task 2; 1 bar (the data set was sampled 'at ambient pressure (1 atm)')"),
        "dump_interval_ps": paper(T2),
        "thermostat_damping_fs": THERMOSTAT,
        "barostat_damping_fs": BAROSTAT,
        "repeats": paper(T2, "one trajectory"),
        "timestep_fs": TIMESTEP,
    },
    "forces": {
        "reference": choice("no default: the LiPS-25 DFT snapshots are not shipped; give an extxyz with forces"),
    },
    "formation": {
        "structures": choice("no default: list the crystals you have (the paper's eight plus both end-points; "
                             "`harness analyze` names the missing ones)"),
        "single_point": choice("no default: the second protocol needs reference-relaxed structures"),
        "relax_box": paper("E_f/atom values are obtained from the crystal structures relaxed with the "
                           "corresponding method (MLIP or DFT)", "relaxed: positions and cell"),
        "relax_max_iterations": choice("the paper gives no minimizer settings; at most 2000 conjugate-gradient "
                                       "iterations (and 10 times as many force evaluations) per `minimize`"),
        "relax_force_tolerance_eV_per_A": choice("the paper gives no tolerance; 1e-4 eV/Å, tighter than Task 4's "
                                                 "1e-3 (LAMMPS applies it to the norm of the whole force vector)"),
        "relax_energy_tolerance": choice("0: off, the force tolerance or the iteration limit stops the minimizer "
                                         "(LAMMPS etol, a relative energy change per iteration)"),
        "relax_box_vmax": choice("LAMMPS fix box/relax vmax (the value of its documentation's example): no cell "
                                 "length changes by more than 0.1 % in one iteration"),
        "reference": choice("no default: the reference E_f (DFT in the paper) comes from the user"),
    },
}

# Defaults of `harness analyze` (analysis.pipeline.Options), documented in the same table.
ANALYSIS_ORIGINS: dict[str, tuple[str, Origin]] = {
    "threshold_A": ("1.0 Å", paper("the number of close-contact events, defined as the number of frames "
                                   "(sampled at 1 ps intervals) containing interatomic separations ≤ 1 Å")),
    "fit_start_ps, fit_end_ps": ("10 % to 50 % of a block", choice(
        "the paper gives no MSD fit window; the window skips the ballistic start and the noisy long lags")),
    "n_blocks": ("5", choice("D's error bar: standard error over 5 consecutive blocks (not in the paper)")),
    "Arrhenius weighting": ("1/s², s = err(D)/D", choice(
        "the paper gives no weighting; weighted when every D has an error bar, else unweighted")),
    "coordination_cutoff_A": ("2.5 Å", choice("P–S bond 2.05 Å; 2.5 Å lies in the gap before the next shell")),
    "capture_radius_A": ("1.0 Å", choice("Li site capture radius of the jump analysis (beyond the paper)")),
}


def campaign_sections() -> dict[str, type]:
    return {"campaign": CampaignSettings, **TASKS}


def missing_origins() -> list[str]:
    """``section.field`` of every campaign field without an entry in ORIGINS (and entries for no field)."""
    problems = []
    for section, cls in campaign_sections().items():
        names = set(cls.model_fields)
        known = set(ORIGINS.get(section, {}))
        problems += [f"{section}.{n} has no origin" for n in sorted(names - known)]
        problems += [f"{section}.{n} is not a field" for n in sorted(known - names)]
    return problems


def _default(field: FieldInfo) -> object:
    """A schema field's default (None where the field is required)."""
    return field.get_default(call_default_factory=True) if not field.is_required() else None


def _show(value: object) -> str:
    if value is None:
        return "(none)"
    if value == "" or value == [] or value == {}:
        return "(empty)"
    return str(value).replace("|", "\\|")


def defaults_markdown() -> str:
    """docs/defaults.md: one table of every default with its origin."""
    lines = ["# Defaults and where they come from", "",
             "Generated by `python -m harness.origins > docs/defaults.md` from `harness/origins.py` (the same table",
             "`harness render CAMPAIGN --explain` prints with a campaign's resolved values). **paper**: the value is",
             "the LiPS-25 paper's (the sentence is quoted); **harness choice**: the paper's main text does not give",
             "it, and the line says why this value. Fields a campaign omits take these defaults.", "",
             "| field | default | origin | source |", "|---|---|---|---|"]
    for section, cls in campaign_sections().items():
        for name, field in cls.model_fields.items():
            origin = ORIGINS[section][name]
            lines.append(f"| `[{section}].{name}` | {_show(_default(field))} | {origin.kind} | {origin.note} |")
    for name, (value, origin) in ANALYSIS_ORIGINS.items():
        lines.append(f"| analyze: {name} | {value} | {origin.kind} | {origin.note} |")
    return "\n".join(lines) + "\n"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def explain(campaign: Campaign) -> str:
    """The resolved parameters of a campaign: value, default, whether the campaign file set it, and the default's
    origin (long values are cut to 40 characters)."""
    data = tomllib.loads(campaign.text)
    rows: list[tuple[str, ...]] = [("parameter", "value", "default", "set by", "origin of the default")]
    for section, cls in campaign_sections().items():
        if section == "campaign":
            task: object = campaign.settings
        elif section in campaign.tasks:
            task = campaign.tasks[section]
        else:
            continue
        given = data.get(section, {})
        for name, field in cls.model_fields.items():
            origin = ORIGINS[section][name]
            rows.append((f"[{section}].{name}", _short(_show(getattr(task, name))),
                         _short(_show(_default(field))), "campaign file" if name in given else "default",
                         f"{origin.kind}: {origin.note}"))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    return "".join("  ".join(f"{cell:<{w}}" for cell, w in zip(row[:4], width)) + f"  {row[4]}\n" for row in rows)


if __name__ == "__main__":
    print(defaults_markdown(), end="")
