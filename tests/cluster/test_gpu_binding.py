"""Device binding without a GPU: several runs per GPU (round robin over rank groups), and the MACE shim's device
choice (the shim itself is exercised on CPU by tests/mace and bench/gpu_check.py --device cpu)."""

import pytest

from harness.devices import gpu_binding


def test_runs_are_bound_round_robin_and_share_gpus(monkeypatch):
    monkeypatch.delenv("HARNESS_MACE_DEVICE", raising=False)
    assert gpu_binding([], 3) == {}
    assert gpu_binding(["0", "1"], 0, "none") == {}
    bound = [gpu_binding(["0", "1"], group)["CUDA_VISIBLE_DEVICES"] for group in range(5)]
    assert bound == ["0", "1", "0", "1", "0"]
    assert [gpu_binding(["3"], g) for g in range(4)] == [{"CUDA_VISIBLE_DEVICES": "3",
                                                          "HARNESS_MACE_DEVICE": "cuda"}] * 4   # 4 runs, 1 GPU
    monkeypatch.setenv("HARNESS_MACE_DEVICE", "cpu")
    assert gpu_binding(["0"], 0)["HARNESS_MACE_DEVICE"] == "cpu"      # the user's choice wins


def test_mace_shim_device_choice():
    shim = pytest.importorskip("harness.mace_shim", reason="torch + mace-torch not installed")
    assert shim.select_device(None, cuda_available=True) == "cpu"
    assert shim.select_device("auto", cuda_available=True) == "cuda"
    assert shim.select_device("auto", cuda_available=False) == "cpu"
    assert shim.select_device("cuda:1", cuda_available=True) == "cuda:1"
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        shim.select_device("cuda", cuda_available=False)
    with pytest.raises(RuntimeError, match="expected cpu, cuda"):
        shim.select_device("tpu", cuda_available=True)
