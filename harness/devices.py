"""Device binding of runs: which GPUs the launcher sees, the accelerator flags a run gets (KOKKOS, GPU package),
and the environment that binds a rank group's runs to one GPU (LAMMPS potentials, MACE through ML-IAP, and
calculator potentials with their own device choice)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from harness.errors import HarnessError
from harness.launch_options import LaunchOptions


def visible_gpus() -> list[str]:
    """The GPUs this launcher may use: $CUDA_VISIBLE_DEVICES when set, else those `nvidia-smi -L` lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def accelerator_for(manifest: dict[str, Any], potential: str, options: LaunchOptions, gpus: list[str]) -> list[str]:
    """The LAMMPS command-line flags of the potential's accelerator that ``options.accelerator`` chooses."""
    flags = manifest["potentials"].get(potential, {}).get("accelerators", {})
    if options.accelerator == "none" or not flags:
        return []
    if options.accelerator == "auto":
        return list(next(iter(flags.values()))) if gpus else []
    if options.accelerator not in flags:
        raise HarnessError(f"potential {potential} has no accelerator {options.accelerator!r} (has: {', '.join(flags)})")
    return list(flags[options.accelerator])


def gpu_binding(gpus: list[str], group: int, accelerator: str = "auto") -> dict[str, str]:
    """The environment that binds rank group ``group``'s runs to one GPU, round robin: with more groups than GPUs
    several runs share a GPU. MACE through the ML-IAP shim then puts its model on that GPU (HARNESS_MACE_DEVICE,
    unless the user set it)."""
    if not gpus or accelerator == "none":
        return {}
    return {"CUDA_VISIBLE_DEVICES": gpus[group % len(gpus)],
            "HARNESS_MACE_DEVICE": os.environ.get("HARNESS_MACE_DEVICE", "cuda")}


def device_environment(manifest: dict[str, Any], potential: str, gpus: list[str], group: int) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES for a calculator run: one GPU per launcher group, round robin; none for device cpu."""
    entry = manifest["potentials"].get(potential, {})
    if entry.get("kind") != "calculator" or not gpus:
        return {}
    if entry["calculator"].get("device") == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}
    return {"CUDA_VISIBLE_DEVICES": gpus[group % len(gpus)]}


def run_environment(manifest: dict[str, Any], potential: str, gpus: list[str], group: int,
                    accelerator: str) -> dict[str, str]:
    """What a run of ``potential`` in rank group ``group`` adds to its environment: the group's GPU, and on top a
    calculator potential's own device choice."""
    return gpu_binding(gpus, group, accelerator) | device_environment(manifest, potential, gpus, group)
