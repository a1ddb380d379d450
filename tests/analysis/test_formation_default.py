"""The shipped Task 1 set: every crystal of the default campaign in both protocols, with a reference E_f."""

from __future__ import annotations

from pathlib import Path

from analysis import formation
from harness.campaign import load_campaign
from harness.render import find_structure, structure_label
from harness.structures import read_cif

INPUTS = Path(__file__).resolve().parents[2] / "inputs"
SHIPPED = {"Li2S", "P2S5", "Li2P2S6", "Li7P3S11", "beta-Li3PS4", "gamma-Li3PS4", "LT-Li7PS6"}


def test_default_campaign_runs_both_protocols_on_every_shipped_crystal():
    task = load_campaign(INPUTS / "default.toml").tasks["formation"]
    relaxed = {formation.canonical_name(structure_label(n)) for n in task.structures}
    single = {formation.canonical_name(structure_label(n)) for n in task.single_point}
    assert relaxed == single == SHIPPED
    for name in [*task.structures, *task.single_point]:
        crystal = read_cif(find_structure(name, INPUTS))
        formation.tie_line_x(crystal.counts())   # on the Li2S-P2S5 line, or it raises
    assert formation.missing_crystals(relaxed) == ["Li4P2S7", "alpha-Li3PS4", "HT-Li7PS6"]


def test_reference_gives_e_f_for_every_non_end_point():
    reference, note = formation.read_reference(INPUTS / "reference" / "formation_chgnet.csv", SHIPPED)
    assert note is None and set(reference) == SHIPPED - set(formation.END_POINTS)
    assert all(-300.0 < value < 0.0 for value in reference.values())   # stable against the end-points
