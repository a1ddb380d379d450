"""The report from hand-written results/ (the report's only input): verdicts, words for missing values,
autoescaping, columns that come and go, the runs sentence, the self-contained folder."""

from __future__ import annotations

import html
import json
import re

import pytest
from markupsafe import escape

from analysis.report import runs_sentence, write_report
from analysis.report_parts import number, plus_minus
from analysis.results import write_csv
from analysis.tasks.conductivity import CONDUCTIVITY_COLUMNS
from analysis.tasks.formation import FORMATION_COLUMNS
from analysis.tasks.robustness import ROBUSTNESS_COLUMNS

EVIL = '<img src=x onerror="alert(1)">&co'
BAND = {"literature_band": "crystal", "band_low_mS_per_cm": 4.0, "band_high_mS_per_cm": 84.0}


def _arrhenius(potential: str, sigma: float | None, flag: str, **extra) -> dict:
    return {"potential": potential, "kind": "arrhenius_298K", "temperature_K": 298.0, "n_repeats": 3, "n_used": 3,
            "sigma_mS_per_cm": sigma, "sigma_err_mS_per_cm": None if sigma is None else 0.1 * sigma,
            "ea_eV": None if sigma is None else 0.21, "ea_err_eV": None if sigma is None else 0.02,
            "n_temperatures": 3 if sigma else 1, "literature_flag": flag, **BAND, **extra}


def _simulated(potential: str, temperature: float, d: float | None) -> dict:
    return {"potential": potential, "kind": "simulated", "temperature_K": temperature, "n_repeats": 1,
            "n_used": int(d is not None), "d_cm2_per_s": d, "d_err_cm2_per_s": None if d is None else d / 10}


def _condition(potential: str, temperature: float, survival: str, frames: int, contacts: int) -> dict:
    survived = {"all": 2, "some": 1, "none": 0}[survival]
    return {"potential": potential, "temperature_K": temperature, "pressure_Pa": 1e9, "pressure_GPa": 1.0,
            "n_repeats": 2, "n_survived": survived, "n_failed": 2 - survived, "n_unfinished": 0,
            "survival": survival, "times_to_failure_ps": ";".join(["0.35"] * (2 - survived)),
            "failure_reasons": ";".join(["lost_atoms"] * (2 - survived)), "n_frames": frames,
            "n_contact_frames": contacts, "close_contact_percent": 100 * contacts / frames if frames else None,
            "close_contact_label": f"{100 * contacts / frames:.0f}%" if frames else "-", "threshold_A": 1.0}


@pytest.fixture()
def campaign(tmp_path):
    results = tmp_path / "results"
    potentials = ["inside-pot", "above-pot", EVIL]
    write_csv(results / "conductivity.csv", CONDUCTIVITY_COLUMNS, [
        _simulated("inside-pot", 600.0, 1e-6), _simulated("inside-pot", 800.0, 4e-6),
        _arrhenius("inside-pot", 23.4, "inside", note="weighted fit"),
        _simulated("above-pot", 600.0, 1e-5), _arrhenius("above-pot", 137.0, "above", note="unweighted fit"),
        _simulated(EVIL, 600.0, None), _arrhenius(EVIL, None, "unknown", note="needs two temperatures")])
    # other engineers add columns (here 'incomplete') and may drop optional ones (here min_distance_A)
    columns = [c for c in ROBUSTNESS_COLUMNS if c != "min_distance_A"] + ["incomplete"]
    write_csv(results / "robustness.csv", columns, [
        {**_condition("inside-pot", 1000.0, "all", 40, 0), "incomplete": 0},
        {**_condition("inside-pot", 16000.0, "some", 30, 3), "incomplete": 0},
        {**_condition("above-pot", 1000.0, "none", 0, 0), "incomplete": 0, "close_contact_label": "—"}])
    write_csv(results / "formation.csv", FORMATION_COLUMNS, [
        {"potential": p, "protocol": "relax", "structure": s, "run_id": f"{p}-{s}", "state": "done", "natoms": 12,
         "energy_eV": -49.3, "energy_per_atom_eV": -4.11, "note": "no E_f: P2S5 missing"}
        for p in potentials for s in ("Li2S", "Li7P3S11")])
    summary = {
        "campaign": "hand-made", "potentials": potentials, "tasks": ["conductivity", "relax", "robustness"],
        "runs_by_state": {"done": 9, "failed": 3},
        "failed_runs": [{"run_id": f"t4-{i}", "task": "robustness", "potential": "above-pot", "reason": "lost_atoms",
                         "message": "ERROR: Lost atoms: original 42 current 41", "time_ps": 0.35} for i in range(3)],
        "unfinished_runs": [],
        "options": {"fit_start_ps": None, "fit_end_ps": None, "n_blocks": 5, "threshold_A": 1.0, "band": "crystal"},
        "formation": {"rmse": {f"{p}/relax": {"potential": p, "protocol": "relax", "rmse_E_f_meV_per_atom": None,
                                              "n_structures": 0, "missing_end_points": ["P2S5"]}
                               for p in potentials},
                      "missing_crystals": ["Li2P2S6", "Li4P2S7"], "reference": None},
        "notes": ["formation: the campaign lacks 2 of the paper's eight crystals"],
    }
    (results / "summary.json").write_text(json.dumps(summary))
    return tmp_path


def _visible_text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r'src="data:[^"]*"', "", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _scorecard(page: str) -> str:
    return _visible_text(page.split('<section id="scorecard">')[1].split("</section>")[0])


def test_scorecard_gives_verdicts_against_the_band_and_words_for_missing_values(campaign):
    page = write_report(campaign).read_text()
    card = _scorecard(page)
    assert "σ298 23.4 ± 2.3\u00a0mS/cm" in card and "inside the accepted band (4–84 mS/cm)" in card
    assert "above the accepted band" in card
    assert "no σ298: 0 of 1 temperature gave a positive D" in card
    assert card.count("no E_f: no P2S5 in the campaign") == 3
    assert "1 of 2 conditions fully survived" in card and "1 condition lost a repeat" in card and "close contacts (≤ 1 Å) in 4.3% of 70 frames" in card
    assert "0 of 1 condition fully survived" in card and "no frames written" in card
    assert "Not in this campaign: Task 2 · RMSE(F) and Melt-quench" in card
    text = _visible_text(page)
    assert not re.search(r"\b(None|nan|NaN|null)\b", text)
    assert "12 runs in the campaign: 9 finished and 3 failed" in text and "{" not in text


def test_every_potential_has_a_row_and_names_are_escaped(campaign):
    page = write_report(campaign).read_text()
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>', page)
    assert [html.unescape(r) for r in rows] == ["inside-pot", "above-pot", EVIL]
    assert EVIL not in page and "<img src=x" not in page and str(escape(EVIL)) in page


def test_tables_render_the_columns_that_exist_and_link_a_copy_of_each_csv(campaign):
    page = write_report(campaign).read_text()
    robustness = page.split('<section id="robustness">')[1].split("</section>")[0]
    assert re.search(r'<th scope="col"[^>]*>incomplete</th>', robustness)  # the full table shows a new column
    assert "closest pair" not in robustness                          # a dropped optional column is left out
    assert "T (K)" in robustness and "p (GPa)" in robustness and "lost atoms, lost atoms" in robustness
    assert '<div class="table-scroll">' in robustness and "<details" in robustness
    for name in ("conductivity.csv", "robustness.csv", "formation.csv"):
        assert f'href="data/{name}"' in page
        assert (campaign / "report" / "data" / name).read_bytes() == (campaign / "results" / name).read_bytes()
    assert (campaign / "report" / "robustness.png").stat().st_size > 1000
    assert "src=\"data:image/png;base64," in page


def test_runs_sentence_counts_in_words():
    assert runs_sentence({"runs_by_state": {"done": 2}}) == "2 runs in the campaign: 2 finished."
    text = runs_sentence({"runs_by_state": {"done": 1, "failed": 1, "pending": 2},
                          "failed_runs": [{"task": "conductivity"}]})
    assert text == ("4 runs in the campaign: 1 finished, 1 failed and 2 not started. "
                    "Failed by task: conductivity 1.")


@pytest.mark.parametrize("value, digits, expected", [
    (2.345e-6, 3, "2.35 × 10⁻⁶"), (1e12, 3, "1 × 10¹²"), (9.999e-5, 3, "1 × 10⁻⁴"), (23.456, 3, "23.5"),
    (1000.0, 3, "1000"), (16000.0, 3, "16000"), (0.0, 3, "0"), (7, 3, "7"), (float("nan"), 3, "–"),
    (None, 3, "–"), ("inside", 3, "inside")])
def test_number_text(value, digits, expected):
    assert number(value, digits) == expected


@pytest.mark.parametrize("value, error, expected", [
    (613.2, 370.0, "610 ± 370"), (23.4, 2.34, "23.4 ± 2.3"), (0.12, 0.024, "0.120 ± 0.024"),
    (7.1e-5, 1.1e-5, "(7.1 ± 1.1) × 10⁻⁵"), (5.0, None, "5"), (float("nan"), 1.0, "–")])
def test_value_with_error(value, error, expected):
    assert plus_minus(value, error) == expected


def test_missing_number_in_words():
    assert number(float("nan"), missing="no value") == "no value"


def test_no_positive_diffusion_coefficient_still_gives_a_figure_and_words(campaign):
    write_csv(campaign / "results" / "conductivity.csv", CONDUCTIVITY_COLUMNS, [
        _simulated("inside-pot", 600.0, None), _arrhenius("inside-pot", None, "unknown", note="no fit")])
    page = write_report(campaign).read_text()
    assert (campaign / "report" / "arrhenius.png").stat().st_size > 1000
    assert "no σ298: 0 of 1 temperature gave a positive D" in _scorecard(page)
