"""Minimum interatomic distance under periodic (orthogonal or triclinic) boundaries, per frame (Task 4).

Distances in Å. A frame has a close contact when some pair is at or below the threshold (1.0 Å by
default, inclusive, as in the paper: "separations <= 1 Å").

Method: atoms are wrapped into the cell in fractional coordinates; periodic images whose fractional
coordinates lie within ``skin / h_i`` of the cell (h_i the perpendicular widths of the cell) are added
as ghosts; a scipy cKDTree over atoms + ghosts gives every atom's nearest neighbour. Any image within
``skin`` of an atom in the cell lies within ``skin`` of the cell, so every pair closer than ``skin`` is
found, for any cell shape. The skin is a real pair distance found from a few sample atoms (so the
minimum lies within it); for sparse cells a nearest-neighbour search with a growing skin is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.spatial import cKDTree

from analysis.dump import Box, DumpReader, choose_position_columns, frame_positions_A, read_columns
from analysis.errors import AnalysisError

DEFAULT_THRESHOLD_A = 1.0
DEFAULT_SKIN_A = 3.0


def _ghosts(fractional: np.ndarray, box: Box, skin_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions of atoms + nearby images, and the index of the atom each point copies.

    Axis by axis, every point within ``skin / h_i`` of a face gets an image across the opposite face;
    images of images give the edge and corner copies.
    """
    margin = skin_A / box.heights_A()
    points = fractional
    owners = np.arange(len(fractional))
    for axis in range(3):
        low = points[:, axis] < margin[axis]
        high = points[:, axis] >= 1.0 - margin[axis]
        plus = points[low].copy()
        plus[:, axis] += 1.0
        minus = points[high].copy()
        minus[:, axis] -= 1.0
        points = np.concatenate([points, plus, minus])
        owners = np.concatenate([owners, owners[low], owners[high]])
    return points @ box.matrix, owners


def _wrapped_fractional(positions_A: np.ndarray, box: Box) -> np.ndarray:
    fractional = box.to_fractional(positions_A)
    fractional -= np.floor(fractional)
    fractional[fractional >= 1.0] = 0.0
    return fractional


def _sampled_upper_bound_A(fractional: np.ndarray, box: Box, samples: int = 6) -> float:
    """A real interatomic distance (so an upper bound on the minimum): the smallest minimum-image (by
    rounding) distance from a few sample atoms to all others."""
    n = len(fractional)
    chosen = np.unique(np.linspace(0, n - 1, min(samples, n)).astype(int))
    columns = np.ascontiguousarray(fractional.T)
    deltas = []
    for k in range(3):
        delta = columns[k][None, :] - columns[k][chosen, None]
        deltas.append(delta - np.rint(delta))
    squared = np.zeros((len(chosen), n))
    for j in range(3):
        component = deltas[0] * box.matrix[0, j] + deltas[1] * box.matrix[1, j] + deltas[2] * box.matrix[2, j]
        squared += component * component
    squared[np.arange(len(chosen)), chosen] = np.inf
    return float(np.sqrt(squared.min()))


def minimum_distance_A(positions_A: np.ndarray, box: Box, skin_A: float = DEFAULT_SKIN_A) -> float:
    """Smallest distance (Å) between two atoms (or an atom and another atom's image) in a periodic cell.

    A real pair distance u from a few sample atoms bounds the minimum from above; all pairs up to u among
    the atoms and their images within u of the cell then contain the minimum. When u is not small compared
    with the cell, a nearest-neighbour search with a growing skin is used instead.
    """
    n = len(positions_A)
    if n < 2:
        return float("inf")
    fractional = _wrapped_fractional(positions_A, box)
    limit = float(box.heights_A().min())
    upper = _sampled_upper_bound_A(fractional, box)
    if upper < 0.5 * limit:
        points, _ = _ghosts(fractional, box, upper)
        tree = cKDTree(points, balanced_tree=False, compact_nodes=False)
        pairs = tree.query_pairs(upper * (1.0 + 1e-9) + 1e-12, output_type="ndarray")
        if len(pairs):
            return float(np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1).min())
    skin = min(skin_A, limit)
    while True:
        points, _ = _ghosts(fractional, box, skin)
        tree = cKDTree(points)
        distances, _ = tree.query(points[:n], k=2)
        nearest = float(distances[:, 1].min())
        if nearest <= skin or skin >= limit:
            return nearest
        skin = min(2.0 * skin, limit)


def count_close_pairs(positions_A: np.ndarray, box: Box, threshold_A: float = DEFAULT_THRESHOLD_A) -> int:
    """Number of distinct pairs (i < j, or an atom and its own image) at distance <= threshold (Å)."""
    n = len(positions_A)
    fractional = _wrapped_fractional(positions_A, box)
    if threshold_A >= box.heights_A().min():
        raise AnalysisError(f"threshold {threshold_A} Å is not smaller than the cell width")
    points, owners = _ghosts(fractional, box, threshold_A)
    tree = cKDTree(points)
    count = 0
    for i, neighbours in enumerate(tree.query_ball_point(points[:n], r=threshold_A)):
        for j in neighbours:
            if j == i:
                continue
            # a pair inside the cell is seen from both atoms; a pair with an image is seen once from each end
            count += 1
    return count // 2


@dataclass
class FrameContacts:
    """Per-frame result: timestep, time in ps (from the first frame), minimum distance in Å, contact flag."""

    timestep: int
    time_ps: float
    min_distance_A: float
    contact: bool


def iter_frame_contacts(path: Path | str, timestep_ps: float = 1.0, threshold_A: float = DEFAULT_THRESHOLD_A,
                        allow_truncated: bool = False) -> Iterator[FrameContacts]:
    """Minimum distance and contact flag of each frame of a dump (wrapped or unwrapped coordinates)."""
    mode, columns = choose_position_columns(read_columns(path))
    reader = DumpReader(path, columns=columns, allow_truncated=allow_truncated)
    first_step: int | None = None
    for frame in reader:
        if first_step is None:
            first_step = frame.timestep
        positions = frame_positions_A(frame, mode)
        d_min = minimum_distance_A(positions, frame.box)
        yield FrameContacts(timestep=frame.timestep, time_ps=(frame.timestep - first_step) * timestep_ps,
                            min_distance_A=d_min, contact=bool(d_min <= threshold_A))


def frame_contacts(path: Path | str, timestep_ps: float = 1.0, threshold_A: float = DEFAULT_THRESHOLD_A,
                   allow_truncated: bool = False) -> list[FrameContacts]:
    return list(iter_frame_contacts(path, timestep_ps, threshold_A, allow_truncated))


class ContactCollector:
    """Per-frame contacts as a callback for :func:`analysis.msd.load_trajectory`, so that one pass over
    the dump serves both the MSD and the contacts; :meth:`finish` returns the per-frame results."""

    def __init__(self, timestep_ps: float = 1.0, threshold_A: float = DEFAULT_THRESHOLD_A):
        self.timestep_ps = timestep_ps
        self.threshold_A = threshold_A
        self._first_step: int | None = None
        self._frames: list[FrameContacts] = []

    def __call__(self, frame, positions_A: np.ndarray) -> None:
        if self._first_step is None:
            self._first_step = frame.timestep
        d_min = minimum_distance_A(positions_A, frame.box)
        self._frames.append(FrameContacts(timestep=frame.timestep,
                                          time_ps=(frame.timestep - self._first_step) * self.timestep_ps,
                                          min_distance_A=d_min, contact=bool(d_min <= self.threshold_A)))

    def finish(self) -> list[FrameContacts]:
        return list(self._frames)
