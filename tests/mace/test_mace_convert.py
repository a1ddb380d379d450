"""add-mace: conversion of a MACE model to an ML-IAP potential file, and one-line errors for bad input."""

import pickle
import tomllib

import pytest
import torch

from harness.cli import main
from harness.errors import HarnessError
from harness.mace import MACE_CRITERIA, add_mace, make_tiny_model
from harness.parity import CellResult
from harness.potentials import load_potential, verify_files


def test_add_mace_writes_a_potential_with_hashes_and_one_rank(tiny_model, tmp_path, capsys):
    code = main(["potentials", "add-mace", str(tiny_model), "--name", "my-mace", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    data = tomllib.loads((tmp_path / "my-mace.toml").read_text())
    assert data["pair_style"] == "mliap unified {{ files.model }} 0" and data["max_ranks_per_run"] == 1
    assert data["packages"] == ["ML-IAP", "PYTHON"] and data["elements"] == ["Li", "P", "S"]
    pot = load_potential(str(tmp_path / "my-mace.toml"))
    assert verify_files(pot) == [] and pot.files["model"].sha256
    lines = pot.pair_lines({"model": "M.pkl"})
    assert lines[0].split() == ["pair_style", "mliap", "unified", "M.pkl", "0"]
    assert lines[1].split() == ["pair_coeff", "*", "*", "Li", "P", "S"]
    with open(pot.files["model"].path, "rb") as handle:
        wrapped = pickle.load(handle)
    assert type(wrapped).__name__ == "MliapMace" and wrapped.element_types == ["Li", "P", "S"]
    assert wrapped.rcutfac == pytest.approx(2.5)


def test_element_subset_and_order_follow_elements_option(tiny_model, tmp_path):
    path = add_mace(tiny_model, "ps-only", ["S", "P"], tmp_path)
    assert load_potential(str(path)).elements == ["S", "P"]


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("harness: error:"), err
    return err


def test_not_a_mace_model_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "junk.model").write_text("not a model\n")
    err = _one_line_error(["potentials", "add-mace", str(tmp_path / "junk.model"), "--name", "x", "--out",
                           str(tmp_path)], capsys)
    assert "is not a MACE model" in err
    torch.save({"weights": torch.zeros(3)}, tmp_path / "dict.model")
    err = _one_line_error(["potentials", "add-mace", str(tmp_path / "dict.model"), "--name", "x", "--out",
                           str(tmp_path)], capsys)
    assert "is not a MACE model" in err


def test_multi_head_model_is_refused_with_what_to_do(tiny_model, tmp_path, capsys):
    model = torch.load(tiny_model, weights_only=False)
    model.heads = ["pbe", "r2scan"]
    torch.save(model, tmp_path / "two-heads.model")
    err = _one_line_error(["potentials", "add-mace", str(tmp_path / "two-heads.model"), "--name", "x", "--out",
                           str(tmp_path)], capsys)
    assert "multi-head" in err and "mace_select_head" in err


def test_elements_missing_from_the_model_are_refused(tiny_model, tmp_path, capsys):
    err = _one_line_error(["potentials", "add-mace", str(tiny_model), "--name", "x", "--elements", "Li", "P", "Se",
                           "--out", str(tmp_path)], capsys)
    assert "no element(s) ['Se']" in err


def test_existing_potential_needs_force(tiny_model, tmp_path):
    add_mace(tiny_model, "again", None, tmp_path)
    with pytest.raises(HarnessError, match="exists"):
        add_mace(tiny_model, "again", None, tmp_path)
    add_mace(tiny_model, "again", None, tmp_path, force=True)


def test_parity_criteria_catch_a_flipped_virial():
    good = CellResult("c", 10, 1e-9, 1e-9, 1e-9, pressure_bar=5000.0, pressure_fd_bar=5000.2, criteria=MACE_CRITERIA)
    assert good.failures() == []
    flipped = CellResult("c", 10, 1e-9, 1e-9, 1e-9, pressure_bar=-5000.0, pressure_fd_bar=5000.2, criteria=MACE_CRITERIA)
    assert any("wrong sign" in f for f in flipped.failures())
    off = CellResult("c", 10, 2e-6, 2e-5, 2e-5, pressure_bar=1.0, pressure_fd_bar=1.0, criteria=MACE_CRITERIA)
    assert len(off.failures()) == 3


def _weights(path):
    return {k: v for k, v in torch.load(path, weights_only=False).state_dict().items() if v.is_floating_point()}


def test_tiny_model_follows_its_seed_elements_and_precision(tmp_path):
    first = _weights(make_tiny_model(tmp_path / "a.model", seed=3))
    again = _weights(make_tiny_model(tmp_path / "b.model", seed=3))
    other = _weights(make_tiny_model(tmp_path / "c.model", seed=4))
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)           # same seed: the same model
    assert any(not torch.equal(first[k], other[k]) for k in first)       # another seed: another model
    assert all(v.dtype == torch.float64 for v in first.values())
    model = torch.load(make_tiny_model(tmp_path / "d.model", elements=("Na", "Cl"), float64=False),
                       weights_only=False)
    assert [int(z) for z in model.atomic_numbers] == [11, 17] and float(model.r_max) == pytest.approx(5.0)
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())


def test_kokkos_variant_uses_the_official_wrapper_and_accelerator_flags(tiny_model, tmp_path):
    path = add_mace(tiny_model, "gpu-mace", None, tmp_path, kokkos=True)
    pot = load_potential(str(path))
    assert "KOKKOS" in pot.packages and pot.accelerators["kokkos"][:2] == ["-k", "on"]
    assert pot.max_ranks_per_run is None and not pot.commands
    with open(pot.files["model"].path, "rb") as handle:
        assert type(pickle.load(handle)).__name__ == "LAMMPS_MLIAP_MACE"
