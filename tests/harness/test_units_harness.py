import math

import pytest

from harness import units


def test_pressure_conversions_to_lammps_bar():
    assert units.pa_to_bar(1e12) == pytest.approx(1e7, rel=1e-12)
    assert units.pa_to_bar(1e5) == pytest.approx(1.0)
    assert units.bar_to_pa(units.pa_to_bar(3.3e9)) == pytest.approx(3.3e9)


@pytest.mark.parametrize("text, expected_pa", [("1 GPa", 1e9), ("1e5 Pa", 1e5), ("10 bar", 1e6), ("2.5kbar", 2.5e8),
                                               ("1 atm", 101325.0), (1e6, 1e6), (7, 7.0)])
def test_parse_pressure(text, expected_pa):
    assert units.parse_pressure_pa(text) == pytest.approx(expected_pa)


@pytest.mark.parametrize("bad", ["1 psi", "GPa", "", True])
def test_parse_pressure_rejects(bad):
    with pytest.raises(ValueError):
        units.parse_pressure_pa(bad)


def test_steps_and_times():
    assert units.steps_for(500.0, 2.0) == 250_000
    assert units.steps_for(0.1, 1.0) == 100
    assert units.fs_to_ps(2.0) == 0.002
    with pytest.raises(ValueError):
        units.steps_for(0.0, 1.0)


def test_nernst_einstein_by_hand():
    # 224 Li in 14028 Å^3 at 298 K with D = 1e-6 cm^2/s, computed here from SI constants.
    n_per_m3 = 224 / (14028e-30)
    sigma_s_per_m = n_per_m3 * (1.602176634e-19) ** 2 * 1e-10 / (1.380649e-23 * 298.0)
    expected_ms_per_cm = sigma_s_per_m / 100 * 1000
    assert units.nernst_einstein_ms_per_cm(1e-6, 224, 14028.0, 298.0) == pytest.approx(expected_ms_per_cm, rel=1e-12)
    assert units.a2_per_ps_to_cm2_per_s(1.0) == pytest.approx(1e-4)
    assert math.isclose(units.cm2_per_s_to_a2_per_ps(1e-4), 1.0)
