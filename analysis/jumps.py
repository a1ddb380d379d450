"""Li jump statistics: hops between sites and residence times on them (the LiPS-25 paper's outlook).

Units: Å, ps; the jump diffusion coefficient in cm^2/s.

* Sites: the positions of the selected atoms (Li) in a reference frame (the first by default), i.e. the
  sites of the starting (crystal) structure; or sites given explicitly (``sites_A``).
* Assignment with hysteresis: an atom belongs to a site once it comes within ``capture_radius_A`` of it
  (nearest site under periodic, triclinic boundaries), and keeps that site until another site captures it.
  An excursion that does not reach another site's capture sphere is not a hop, nor is vibration. At the
  start every atom is assigned to its nearest site (its own one when the sites come from the first frame).
* A hop is a change of assigned site between two frames. Residence time: the time between two consecutive
  hops of one atom (complete residences only; the first and the last stay of each atom are cut by the
  trajectory ends, are counted separately and do not enter the mean). A back hop returns to the site the
  atom left with its previous hop (correlated back-and-forth motion, one cause of a Haven ratio > 1).
* Hop length: the minimum-image distance between the two sites. The uncorrelated-hop estimate of the
  tracer diffusion coefficient is D_jump = (sum of squared hop lengths) / (6 N t) for N atoms over the
  time t, to compare with D from the MSD.

Hops faster than the frame interval are not seen: statistics are those of the dump's time resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from analysis.contacts import _ghosts, _wrapped_fractional
from analysis.dump import (Box, DumpReader, Frame, choose_position_columns, frame_positions_A, read_columns,
                           select_atoms)
from analysis.errors import AnalysisError
from harness.units import a2_per_ps_to_cm2_per_s

DEFAULT_CAPTURE_RADIUS_A = 1.0


@dataclass
class JumpResult:
    """Hop counts and residence times (see the module docstring); times in ps, lengths in Å."""

    natoms: int
    nsites: int
    nframes: int
    duration_ps: float
    capture_radius_A: float
    min_site_separation_A: float
    n_hops: int
    n_back_hops: int
    hops_per_atom: np.ndarray
    residence_ps: np.ndarray
    n_censored: int
    hop_length_A: np.ndarray
    mode: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def hop_rate_per_atom_per_ps(self) -> float:
        return self.n_hops / (self.natoms * self.duration_ps) if self.duration_ps > 0 else float("nan")

    @property
    def d_jump_cm2_per_s(self) -> float:
        if self.duration_ps <= 0:
            return float("nan")
        return a2_per_ps_to_cm2_per_s(float((self.hop_length_A ** 2).sum()) / (6.0 * self.natoms * self.duration_ps))

    def summary(self) -> dict:
        residence = self.residence_ps
        return {
            "n_atoms": self.natoms, "n_sites": self.nsites, "nframes": self.nframes,
            "duration_ps": self.duration_ps, "capture_radius_A": self.capture_radius_A,
            "min_site_separation_A": self.min_site_separation_A, "n_hops": self.n_hops,
            "hop_rate_per_atom_per_ps": self.hop_rate_per_atom_per_ps,
            "fraction_atoms_hopped": float(np.mean(self.hops_per_atom > 0)) if self.natoms else float("nan"),
            "n_residences": int(len(residence)), "n_censored_residences": self.n_censored,
            "mean_residence_ps": float(residence.mean()) if len(residence) else float("nan"),
            "median_residence_ps": float(np.median(residence)) if len(residence) else float("nan"),
            "back_hop_fraction": self.n_back_hops / self.n_hops if self.n_hops else float("nan"),
            "mean_hop_length_A": float(self.hop_length_A.mean()) if self.n_hops else float("nan"),
            "d_jump_cm2_per_s": self.d_jump_cm2_per_s, "coordinates": self.mode,
        }


class JumpCollector:
    """Per-frame callback for :func:`analysis.msd.load_trajectory` (``on_frame``), so that the MSD and the
    jumps share one pass over the dump; or feed it frames yourself. :meth:`finish` returns the result.

    ``timestep_ps`` is the MD time step (frame times come from the dump's timesteps); ``species`` or
    ``atom_type`` select the atoms, as in the MSD; ``reference_frame`` is the frame whose positions define
    the sites, unless ``sites_A`` (Cartesian, Å) is given."""

    def __init__(self, timestep_ps: float, species: str | None = "Li", atom_type: int | None = None,
                 capture_radius_A: float = DEFAULT_CAPTURE_RADIUS_A, reference_frame: int = 0,
                 sites_A: np.ndarray | None = None):
        if timestep_ps <= 0:
            raise AnalysisError(f"timestep must be positive, got {timestep_ps} ps")
        if capture_radius_A <= 0:
            raise AnalysisError(f"capture radius must be positive, got {capture_radius_A} Å")
        if reference_frame < 0:
            raise AnalysisError(f"reference frame must be >= 0, got {reference_frame}")
        self.timestep_ps = timestep_ps
        self.species, self.atom_type = species, atom_type
        self.capture_radius_A = float(capture_radius_A)
        self.reference_frame = reference_frame
        self._given_sites = None if sites_A is None else np.asarray(sites_A, dtype=float).reshape(-1, 3)
        self._mask: np.ndarray | None = None
        self._pending: list[tuple[int, Box, np.ndarray]] = []  # frames before the reference frame
        self._count = 0
        self._sites_fractional: np.ndarray | None = None
        self._site_box: Box | None = None
        self._min_separation = float("nan")
        self._steps: list[int] = []
        # per atom: current site, previous site (before the last hop), time of the last hop (None: none yet)
        self._site = self._previous = self._last_hop = None
        self._hops: np.ndarray | None = None
        self._residence: list[float] = []
        self._lengths: list[float] = []
        self._back = 0

    # -- sites ------------------------------------------------------------------------------------
    def _set_sites(self, positions_A: np.ndarray, box: Box) -> None:
        self._sites_fractional = _wrapped_fractional(positions_A, box)
        self._site_box = box
        if len(positions_A) > 1:
            points, owners = _ghosts(self._sites_fractional, box, float(box.heights_A().min()) * 0.49)
            tree = cKDTree(points)
            distances, _ = tree.query(points[:len(positions_A)], k=2)
            self._min_separation = float(distances[:, 1].min())

    def _assign(self, positions_A: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """Nearest site of each atom within the capture radius (-1: none) and its distance (Å). Sites are
        kept at fixed fractional coordinates of the current cell (they follow an NPT cell)."""
        radius = self.capture_radius_A
        if radius >= 0.5 * float(box.heights_A().min()):
            raise AnalysisError(f"capture radius {radius} Å is not smaller than half the cell width")
        points, owners = _ghosts(self._sites_fractional, box, radius)
        tree = cKDTree(points)
        atoms = _wrapped_fractional(positions_A, box) @ box.matrix
        distances, index = tree.query(atoms, k=1, distance_upper_bound=radius)
        found = np.isfinite(distances)
        site = np.full(len(atoms), -1, dtype=np.int64)
        site[found] = owners[index[found]]
        return site, distances

    def _nearest_sites(self, positions_A: np.ndarray, box: Box) -> np.ndarray:
        """Nearest site of every atom, whatever the distance (the starting assignment)."""
        points, owners = _ghosts(self._sites_fractional, box, float(box.heights_A().min()) * 0.49)
        _, index = cKDTree(points).query(_wrapped_fractional(positions_A, box) @ box.matrix, k=1)
        return owners[index].astype(np.int64)

    def _site_distance_A(self, first: np.ndarray, second: np.ndarray, box: Box) -> np.ndarray:
        delta = self._sites_fractional[first] - self._sites_fractional[second]
        delta -= np.rint(delta)
        return np.sqrt(((delta @ box.matrix) ** 2).sum(axis=1))

    # -- frames -----------------------------------------------------------------------------------
    def __call__(self, frame: Frame, positions_A: np.ndarray) -> None:
        if self._mask is None:
            self._mask = select_atoms(frame, species=self.species, atom_type=self.atom_type)
        selected = positions_A[self._mask]
        index = self._count
        self._count += 1
        if self._sites_fractional is None:
            if self._given_sites is not None:
                self._set_sites(self._given_sites, frame.box)
            elif index == self.reference_frame:
                self._set_sites(selected, frame.box)
            else:
                self._pending.append((frame.timestep, frame.box, selected.copy()))
                return
            for step, box, earlier in self._pending:
                self._step(step, box, earlier)
            self._pending.clear()
        self._step(frame.timestep, frame.box, selected)

    def _step(self, timestep: int, box: Box, positions_A: np.ndarray) -> None:
        self._steps.append(timestep)
        time_ps = (timestep - self._steps[0]) * self.timestep_ps
        if self._site is None:
            self._site = self._nearest_sites(positions_A, box)
            self._previous = np.full(len(positions_A), -1, dtype=np.int64)
            self._last_hop = np.full(len(positions_A), np.nan)
            self._hops = np.zeros(len(positions_A), dtype=np.int64)
            return
        captured, _ = self._assign(positions_A, box)
        moved = np.flatnonzero((captured >= 0) & (captured != self._site))
        if not len(moved):
            return
        new = captured[moved]
        old = self._site[moved]
        self._lengths.extend(self._site_distance_A(old, new, box).tolist())
        self._back += int(np.count_nonzero(self._previous[moved] == new))
        last = self._last_hop[moved]
        complete = np.isfinite(last)
        self._residence.extend((time_ps - last[complete]).tolist())
        self._last_hop[moved] = time_ps
        self._previous[moved] = old
        self._site[moved] = new
        self._hops[moved] += 1

    def finish(self, mode: str = "") -> JumpResult:
        if self._count == 0:
            raise AnalysisError("no frames for the jump analysis")
        if self._sites_fractional is None:
            raise AnalysisError(f"reference frame {self.reference_frame} is beyond the last frame "
                                f"({self._count} frames)")
        if len(self._steps) < 2:
            raise AnalysisError("need at least 2 frames for jump statistics")
        duration = (self._steps[-1] - self._steps[0]) * self.timestep_ps
        hops = self._hops
        # each atom has one censored first stay, plus one censored last stay if it hopped at least once
        censored = int(len(hops) + np.count_nonzero(hops > 0))
        return JumpResult(natoms=int(len(hops)), nsites=int(len(self._sites_fractional)), nframes=len(self._steps),
                          duration_ps=float(duration), capture_radius_A=self.capture_radius_A,
                          min_site_separation_A=self._min_separation, n_hops=int(hops.sum()),
                          n_back_hops=self._back, hops_per_atom=hops.copy(),
                          residence_ps=np.array(self._residence, dtype=float), n_censored=censored,
                          hop_length_A=np.array(self._lengths, dtype=float), mode=mode)


def jumps_from_dump(path: Path | str, timestep_ps: float, species: str | None = "Li", atom_type: int | None = None,
                    capture_radius_A: float = DEFAULT_CAPTURE_RADIUS_A, reference_frame: int = 0,
                    sites_A: np.ndarray | None = None, allow_truncated: bool = False) -> JumpResult:
    """Jump statistics of one species from a dump (wrapped or unwrapped coordinates), one frame in memory."""
    names = read_columns(path)
    mode, position_columns = choose_position_columns(names)
    wanted = list(position_columns) + [c for c in ("id", "element", "type") if c in names]
    collector = JumpCollector(timestep_ps, species=species, atom_type=atom_type, capture_radius_A=capture_radius_A,
                              reference_frame=reference_frame, sites_A=sites_A)
    reader = DumpReader(path, columns=wanted, allow_truncated=allow_truncated)
    natoms = None
    for frame in reader:
        if natoms is None:
            natoms = frame.natoms
            if "id" in wanted:  # rows are sorted by id: the selection made on the first frame holds
                reader.set_columns([c for c in wanted if c not in ("element", "type")])
        elif frame.natoms != natoms:
            raise AnalysisError(f"atom count changes from {natoms} to {frame.natoms} at timestep "
                                f"{frame.timestep} of {path}")
        collector(frame, frame_positions_A(frame, mode))
    return collector.finish(mode=mode)
