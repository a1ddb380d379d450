"""Li jump statistics on synthetic trajectories with planted hops (known counts and residence times)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from analysis.cli import main as analyze_main
from analysis.errors import AnalysisError
from analysis.jumps import jumps_from_dump
from analysis_testdata import write_trajectory

SPACING = 3.0
ORTHO_SITES = np.diag([4 * SPACING] * 3)
TRICLINIC_SITES = np.array([[12.0, 0.0, 0.0], [2.0, 12.0, 0.0], [-1.5, 1.0, 12.0]])
NFRAMES = 100
DT_PS = 0.5  # one frame = 1 step of 0.5 ps


def _planted(cell: np.ndarray, seed: int = 0) -> tuple[np.ndarray, dict]:
    """64 Li on a 4x4x4 grid of sites (fractional), vibrating 0.05 Å, with planted events:

    * atom 0 hops to the site across the -x boundary at frame 20, then on to the next site at frame 50;
    * atoms 5 and 6 (neighbours along z) swap sites at frame 70;
    * atom 9 makes an excursion 1.4 Å off its site (frames 30-35) and comes back: no hop;
    * atom 12 hops to a neighbour at frame 40 and back at frame 45 (a back hop).
    """
    rng = np.random.default_rng(seed)
    grid = np.array(list(itertools.product(range(4), repeat=3)), dtype=float)  # index = 16 i + 4 j + k
    fractional_sites = (grid + 0.5) / 4.0
    site_of = np.tile(np.arange(64), (NFRAMES, 1))
    offset = np.zeros((NFRAMES, 64, 3))
    # atom 0 at (0,0,0): -x neighbour across the boundary is (3,0,0) = 48, then (3,1,0) = 52
    site_of[20:, 0] = 48
    site_of[50:, 0] = 52
    site_of[70:, 5], site_of[70:, 6] = 6, 5
    direction = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    offset[30:36, 9] = 1.4 * direction
    neighbour = 12 + 16  # (1,3,0)
    site_of[40:45, 12] = neighbour
    positions = fractional_sites[site_of] @ cell + offset + rng.normal(0.0, 0.05, (NFRAMES, 64, 3))
    expected = {"n_hops": 6, "n_back_hops": 1, "residence_ps": sorted([30 * DT_PS, 5 * DT_PS]),
                "hops_per_atom": {0: 2, 5: 1, 6: 1, 12: 2}, "sites_A": fractional_sites @ cell}
    return positions, expected


@pytest.mark.parametrize("cell,mode", [(ORTHO_SITES, "unwrapped"), (TRICLINIC_SITES, "wrapped"),
                                       (TRICLINIC_SITES, "image")])
def test_planted_hops_and_residence_times(tmp_path, cell, mode):
    positions, expected = _planted(cell)
    elements = ["Li"] * 64
    path = write_trajectory(tmp_path / "t.lammpstrj", positions, cell, mode, elements, steps_per_frame=1,
                            shuffle_seed=3)
    result = jumps_from_dump(path, DT_PS, species="Li", capture_radius_A=1.0)
    assert result.natoms == 64 and result.nsites == 64 and result.nframes == NFRAMES
    assert result.duration_ps == pytest.approx((NFRAMES - 1) * DT_PS)
    assert result.n_hops == expected["n_hops"]
    assert result.n_back_hops == expected["n_back_hops"]
    assert sorted(result.residence_ps.tolist()) == pytest.approx(expected["residence_ps"])
    hops = {i: int(n) for i, n in enumerate(result.hops_per_atom) if n}
    assert hops == expected["hops_per_atom"]
    # site-to-site distances: one grid step of the (possibly sheared) cell along a, b, c, c (swap), a, a
    lengths = sorted(result.hop_length_A.tolist())
    expected_lengths = sorted([np.linalg.norm(cell[0] / 4), np.linalg.norm(cell[1] / 4)]
                              + [np.linalg.norm(cell[2] / 4)] * 2 + [np.linalg.norm(cell[0] / 4)] * 2)
    assert lengths == pytest.approx(expected_lengths, abs=0.3)  # sites = first frame, with its vibration
    ideal = jumps_from_dump(path, DT_PS, species="Li", capture_radius_A=1.0, sites_A=expected["sites_A"])
    assert ideal.n_hops == expected["n_hops"]
    assert sorted(ideal.hop_length_A.tolist()) == pytest.approx(expected_lengths, rel=1e-9)
    summary = result.summary()
    assert summary["n_censored_residences"] == 64 + 4
    assert summary["back_hop_fraction"] == pytest.approx(1 / 6)
    assert summary["fraction_atoms_hopped"] == pytest.approx(4 / 64)
    assert summary["hop_rate_per_atom_per_ps"] == pytest.approx(6 / (64 * (NFRAMES - 1) * DT_PS))
    d_jump_a2_ps = sum(x * x for x in expected_lengths) / (6 * 64 * (NFRAMES - 1) * DT_PS)
    assert ideal.summary()["d_jump_cm2_per_s"] == pytest.approx(d_jump_a2_ps * 1e-4, rel=1e-9)


def test_capture_radius_decides_what_is_a_hop(tmp_path):
    """With a capture radius larger than the excursion's distance to the neighbouring site, the excursion
    of atom 9 (1.4 Å off its site, about 2 Å from every other site) is not a hop for any radius below half
    the 3 Å site spacing, and a small radius misses no planted hop."""
    positions, expected = _planted(ORTHO_SITES)
    path = write_trajectory(tmp_path / "t.lammpstrj", positions, ORTHO_SITES, "unwrapped", ["Li"] * 64)
    assert jumps_from_dump(path, DT_PS, capture_radius_A=1.45).n_hops == expected["n_hops"]
    assert jumps_from_dump(path, DT_PS, capture_radius_A=0.3).n_hops == expected["n_hops"]


def test_cli_jumps_json_and_errors(tmp_path, capsys):
    positions, expected = _planted(ORTHO_SITES)
    path = write_trajectory(tmp_path / "t.lammpstrj", positions, ORTHO_SITES, "unwrapped", ["Li"] * 64)
    assert analyze_main(["jumps", str(path), "--timestep-ps", str(DT_PS), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["n_hops"] == expected["n_hops"]
    assert output["mean_residence_ps"] == pytest.approx(np.mean(expected["residence_ps"]))
    assert analyze_main(["jumps", str(path), "--timestep-ps", str(DT_PS), "--capture-radius", "7"]) == 2
    assert "capture radius" in capsys.readouterr().err
    assert analyze_main(["jumps", str(path), "--timestep-ps", str(DT_PS), "--species", "Na"]) == 2
    with pytest.raises(AnalysisError, match="reference frame"):
        jumps_from_dump(path, DT_PS, reference_frame=500)
