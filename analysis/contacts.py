"""Minimum interatomic distance under periodic (orthogonal or triclinic) boundaries, per frame (Task 4).

Distances in Å. A frame has a close contact when some pair is at or below the threshold (1.0 Å by
default, inclusive, as in the paper: "separations <= 1 Å").

Method: atoms are wrapped into the cell in fractional coordinates; periodic images whose fractional
coordinates lie within ``skin / h_i`` of the cell (h_i the perpendicular widths of the cell) are added
as ghosts; a scipy cKDTree over atoms + ghosts gives every atom's nearest neighbour within the skin. Any
image within ``skin`` of an atom in the cell lies within ``skin`` of the cell, so every pair closer than
``skin`` is found, for any cell shape. The skin is a real pair distance (so the minimum lies within it):
the smallest of a few sample atoms' minimum-image distances and, along a trajectory, of the previous
frame's closest pairs measured again (:class:`MinimumDistanceTracker`); for sparse cells a
nearest-neighbour search with a growing skin is used.
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


def _pair_distances_A(fractional: np.ndarray, box: Box, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Distances of the given atom pairs to the image picked by rounding fractional differences: real
    interatomic distances, so each is an upper bound on the minimum."""
    delta = fractional[first] - fractional[second]
    delta -= np.rint(delta)
    return np.sqrt(((delta @ box.matrix) ** 2).sum(axis=1))


def _minimum_distance(positions_A: np.ndarray, box: Box, hint: tuple[np.ndarray, np.ndarray] | None = None,
                      skin_A: float = DEFAULT_SKIN_A,
                      keep: int = 16) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
    """The minimum distance and the ``keep`` closest pairs found (atom indices), for the next frame's hint."""
    n = len(positions_A)
    if n < 2:
        return float("inf"), None
    fractional = _wrapped_fractional(positions_A, box)
    limit = float(box.heights_A().min())
    upper = float("inf")
    if hint is not None and len(hint[0]):
        upper = float(_pair_distances_A(fractional, box, *hint).min())
    if not upper < 0.5 * limit:
        upper = min(upper, _sampled_upper_bound_A(fractional, box))
    if upper < 0.5 * limit:
        points, owners = _ghosts(fractional, box, upper)
        tree = cKDTree(points, balanced_tree=False, compact_nodes=False)
        # every pair within `upper` has an atom in the cell as one end: its nearest other point is enough
        distances, neighbours = tree.query(points[:n], k=2, distance_upper_bound=upper * (1.0 + 1e-9) + 1e-12)
        nearest = distances[:, 1]
        found = np.flatnonzero(np.isfinite(nearest))
        if len(found):
            if len(found) > keep:
                found = found[np.argpartition(nearest[found], keep)[:keep]]
            partners = owners[neighbours[found, 1]]
            distinct = partners != found
            return float(nearest[np.isfinite(nearest)].min()), (found[distinct], partners[distinct])
    skin = min(skin_A, limit)
    while True:
        points, _ = _ghosts(fractional, box, skin)
        tree = cKDTree(points)
        distances, _ = tree.query(points[:n], k=2)
        nearest = float(distances[:, 1].min())
        if nearest <= skin or skin >= limit:
            return nearest, None
        skin = min(2.0 * skin, limit)


def minimum_distance_A(positions_A: np.ndarray, box: Box, skin_A: float = DEFAULT_SKIN_A) -> float:
    """Smallest distance (Å) between two atoms (or an atom and another atom's image) in a periodic cell.

    A real pair distance u from a few sample atoms bounds the minimum from above; the nearest neighbour of
    every atom within u, among the atoms and their images within u of the cell, then gives the minimum.
    When u is not small compared with the cell, a nearest-neighbour search with a growing skin is used.
    """
    return _minimum_distance(positions_A, box, None, skin_A)[0]


class MinimumDistanceTracker:
    """:func:`minimum_distance_A` frame after frame of one trajectory, exact for every frame and faster:
    the closest pairs of the previous frame, measured again in this frame, are real distances and usually a
    much tighter upper bound than the sampled one, so the neighbour search covers a thinner shell."""

    def __init__(self) -> None:
        self._hint: tuple[np.ndarray, np.ndarray] | None = None
        self._natoms = -1

    def __call__(self, positions_A: np.ndarray, box: Box) -> float:
        if len(positions_A) != self._natoms:
            self._hint, self._natoms = None, len(positions_A)
        d_min, self._hint = _minimum_distance(positions_A, box, self._hint)
        return d_min


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
    tracker = MinimumDistanceTracker()
    for frame in reader:
        if first_step is None:
            first_step = frame.timestep
        positions = frame_positions_A(frame, mode)
        d_min = tracker(positions, frame.box)
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
        self._tracker = MinimumDistanceTracker()

    def __call__(self, frame, positions_A: np.ndarray) -> None:
        if self._first_step is None:
            self._first_step = frame.timestep
        d_min = self._tracker(positions_A, frame.box)
        self._frames.append(FrameContacts(timestep=frame.timestep,
                                          time_ps=(frame.timestep - self._first_step) * self.timestep_ps,
                                          min_distance_A=d_min, contact=bool(d_min <= self.threshold_A)))

    def finish(self) -> list[FrameContacts]:
        return list(self._frames)
