"""harness.units conversions used by the analysis, checked against hand calculations."""

from __future__ import annotations

import pytest

from harness.units import a2_per_ps_to_cm2_per_s, cm2_per_s_to_a2_per_ps, nernst_einstein_ms_per_cm


def test_diffusion_units():
    # 1 Å^2/ps = 1e-16 cm^2 / 1e-12 s = 1e-4 cm^2/s
    assert a2_per_ps_to_cm2_per_s(1.0) == pytest.approx(1e-4)
    assert cm2_per_s_to_a2_per_ps(3e-6) == pytest.approx(3e-2)


def test_nernst_einstein_hand_calculation():
    # 224 Li in 6000 Å^3, D = 1e-6 cm^2/s, 600 K, in SI: sigma = n e^2 D / (k_B T) [S/m]; 1 S/m = 10 mS/cm
    n_per_m3 = 224 / 6000e-30
    sigma_s_per_m = n_per_m3 * 1.602176634e-19**2 * 1e-10 / (1.380649e-23 * 600.0)
    assert nernst_einstein_ms_per_cm(1e-6, 224, 6000.0, 600.0) == pytest.approx(10 * sigma_s_per_m, rel=1e-9)
