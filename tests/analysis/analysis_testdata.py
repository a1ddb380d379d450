"""Synthetic inputs for the analysis tests, written independently of the code under test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ORTHO = np.diag([12.0, 11.0, 10.0])
TRICLINIC = np.array([[12.0, 0.0, 0.0], [3.0, 11.0, 0.0], [-2.0, 2.5, 10.0]])


def random_walk_A(natoms: int, nframes: int, d_A2_per_ps: float, dt_ps: float, seed: int,
                  cell: np.ndarray = ORTHO) -> np.ndarray:
    """Unwrapped positions (nframes, natoms, 3) of independent Gaussian walkers with diffusion coefficient D."""
    rng = np.random.default_rng(seed)
    start = rng.random((natoms, 3)) @ cell
    steps = rng.normal(0.0, np.sqrt(2.0 * d_A2_per_ps * dt_ps), size=(nframes - 1, natoms, 3))
    return np.concatenate([start[None], start[None] + np.cumsum(steps, axis=0)])


def wrap(positions_A: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wrap positions into the cell (origin 0); return wrapped positions and integer image flags."""
    fractional = positions_A @ np.linalg.inv(cell)
    images = np.floor(fractional)
    return (fractional - images) @ cell, images.astype(int)


def box_header(cell: np.ndarray, origin: np.ndarray | None = None) -> str:
    """LAMMPS ``ITEM: BOX BOUNDS`` block for a restricted triclinic (or orthogonal) cell."""
    lo = np.zeros(3) if origin is None else origin
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = (map(float, row) for row in cell)
    xlo, ylo, zlo = map(float, lo)
    xhi, yhi, zhi = xlo + lx, ylo + ly, zlo + lz
    if xy == 0 and xz == 0 and yz == 0:
        return f"ITEM: BOX BOUNDS pp pp pp\n{xlo} {xhi}\n{ylo} {yhi}\n{zlo} {zhi}\n"
    xlo_b = xlo + min(0.0, xy, xz, xy + xz)
    xhi_b = xhi + max(0.0, xy, xz, xy + xz)
    ylo_b = ylo + min(0.0, yz)
    yhi_b = yhi + max(0.0, yz)
    return (f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{xlo_b!r} {xhi_b!r} {xy!r}\n{ylo_b!r} {yhi_b!r} {xz!r}\n"
            f"{zlo!r} {zhi!r} {yz!r}\n")


def frame_text(timestep: int, cell: np.ndarray, columns: dict[str, list], order: list[str]) -> str:
    natoms = len(columns[order[0]])
    lines = [f"ITEM: TIMESTEP\n{timestep}\nITEM: NUMBER OF ATOMS\n{natoms}\n", box_header(cell),
             f"ITEM: ATOMS {' '.join(order)}\n"]
    for i in range(natoms):
        lines.append(" ".join(repr(columns[c][i]) if isinstance(columns[c][i], float) else str(columns[c][i])
                              for c in order) + "\n")
    return "".join(lines)


def write_trajectory(path: Path, positions_A: np.ndarray, cell: np.ndarray, mode: str, elements: list[str],
                     steps_per_frame: int = 1, shuffle_seed: int | None = None) -> Path:
    """Dump with ``mode`` 'unwrapped' (xu yu zu), 'image' (x y z ix iy iz) or 'wrapped' (x y z)."""
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    with open(path, "w") as handle:
        for k, frame in enumerate(positions_A):
            ids = list(range(1, len(frame) + 1))
            columns: dict[str, list] = {"id": ids, "element": list(elements)}
            if mode == "unwrapped":
                order = ["id", "element", "xu", "yu", "zu"]
                values = frame
            else:
                values, images = wrap(frame, cell)
                order = ["id", "element", "x", "y", "z"] + (["ix", "iy", "iz"] if mode == "image" else [])
                for j, name in enumerate(("ix", "iy", "iz")):
                    columns[name] = [int(v) for v in images[:, j]]
            for j, name in enumerate(order[2:5]):
                columns[name] = [float(v) for v in values[:, j]]
            if rng is not None:
                perm = rng.permutation(len(frame))
                columns = {c: [v[i] for i in perm] for c, v in columns.items()}
            handle.write(frame_text(k * steps_per_frame, cell, columns, order))
    return path


def write_run(campaign: Path, run_id: str, task: str, potential: str, params: dict, state: str = "done",
              counts: dict | None = None, structure: str = "Li7P3S11", repeat: int = 1,
              reason: str | None = None, time_ps: float | None = None) -> Path:
    directory = campaign / "runs" / run_id
    directory.mkdir(parents=True, exist_ok=True)
    counts = counts or {"Li": 0, "P": 0, "S": 0}
    spec = {"run_id": run_id, "task": task, "potential": potential, "elements": ["Li", "P", "S"],
            "natoms": sum(counts.values()), "counts": counts, "structure": structure, "seed": 1,
            "repeat": repeat, "params": params, "nsteps": 1000}
    (directory / "run.json").write_text(json.dumps(spec))
    status = {"state": state, "reason": reason, "message": "ERROR: Lost atoms" if reason else None,
              "step": 0, "nsteps": 1000, "time_ps": time_ps, "wall_s": 1.0, "attempts": 1,
              "updated": "2026-11-25T14:00:00Z"}
    (directory / "status.json").write_text(json.dumps(status))
    return directory


def write_manifest(campaign: Path, runs: list[tuple[str, str, str]]) -> None:
    entries = [{"run_id": r, "task": t, "potential": p, "dir": f"runs/{r}", "cost": 1.0} for r, t, p in runs]
    (campaign / "manifest.json").write_text(json.dumps({"format": 1, "campaign": "test", "campaign_sha256": "0",
                                                        "harness_version": "0", "runs": entries}))
