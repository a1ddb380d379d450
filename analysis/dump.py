"""Streaming reader for LAMMPS text dumps (``dump custom`` / ``dump atom``), one frame at a time.

Lengths are in Å (LAMMPS ``units metal``), as written in the file. The reader:

* makes one fast byte-level pass to index the frames (file offset and timestep of each),
* keeps only the LAST occurrence of a timestep that appears more than once (a run resumed from a
  restart file rewrites the frames after the restart point), then
* parses the kept frames on demand in batches (pandas' C parser, one call per batch of frames), so memory
  holds one batch at a time. That is the only parsing path; tests/analysis/test_analysis_reader_fast.py checks
  it against a token-by-token reference parser.

A final frame cut short (the writer crashed) raises :class:`AnalysisError` unless
``allow_truncated=True``, in which case it is dropped with a warning.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from analysis.errors import AnalysisError

_MARK = b"ITEM: TIMESTEP"
_CHUNK_BYTES = 1 << 24
_BATCH_BYTES = 1 << 22
_INT_COLUMNS = {"id", "type", "ix", "iy", "iz", "mol", "proc"}
_STRING_COLUMNS = {"element"}


@dataclass(frozen=True)
class Box:
    """A periodic cell: ``matrix`` rows are the cell vectors a, b, c (Å); ``origin`` is (xlo, ylo, zlo) in Å."""

    matrix: np.ndarray
    origin: np.ndarray
    triclinic: bool

    @functools.cached_property
    def volume_A3(self) -> float:
        return float(abs(np.linalg.det(self.matrix)))

    @functools.cached_property
    def inverse(self) -> np.ndarray:
        return np.linalg.inv(self.matrix)

    def heights_A(self) -> np.ndarray:
        """Perpendicular widths of the cell along its three lattice directions (Å): 1 / |column i of the
        inverse|, the spacing of the lattice planes of fractional coordinate i."""
        return self._heights

    @functools.cached_property
    def _heights(self) -> np.ndarray:
        return 1.0 / np.sqrt((self.inverse ** 2).sum(axis=0))

    def to_fractional(self, positions_A: np.ndarray) -> np.ndarray:
        return (positions_A - self.origin) @ self.inverse

    def to_cartesian(self, fractional: np.ndarray) -> np.ndarray:
        return fractional @ self.matrix + self.origin


@dataclass
class Frame:
    """One dump frame. ``columns`` maps column name -> array (float64, int64, or str for ``element``),
    rows sorted by atom id when the dump has an ``id`` column."""

    timestep: int
    natoms: int
    box: Box
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    column_names: tuple[str, ...] = ()

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise AnalysisError(f"dump frame at timestep {self.timestep} has no column {name!r} "
                                f"(columns: {' '.join(self.column_names)})")
        return self.columns[name]


@dataclass(frozen=True)
class FrameIndex:
    offset: int
    end: int
    timestep: int | None


def parse_box(header_line: str, lines: Sequence[str]) -> Box:
    """Box from ``ITEM: BOX BOUNDS ...`` and its three lines (orthogonal or restricted triclinic)."""
    try:
        values = [[float(v) for v in line.split()] for line in lines]
    except ValueError:
        raise AnalysisError(f"cannot read box bounds: {' | '.join(lines)}") from None
    words = header_line.split()[3:]
    if "abc" in words:
        raise AnalysisError("general triclinic dumps ('BOX BOUNDS abc origin') are not supported; "
                            "dump with the default restricted triclinic box")
    triclinic = "xy" in words
    if triclinic:
        if any(len(v) < 3 for v in values):
            raise AnalysisError("triclinic box bounds need three numbers per line")
        (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo_b, zhi_b, yz) = (v[:3] for v in values)
        xlo = xlo_b - min(0.0, xy, xz, xy + xz)
        xhi = xhi_b - max(0.0, xy, xz, xy + xz)
        ylo = ylo_b - min(0.0, yz)
        yhi = yhi_b - max(0.0, yz)
        zlo, zhi = zlo_b, zhi_b
    else:
        if any(len(v) < 2 for v in values):
            raise AnalysisError("box bounds need two numbers per line")
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = (v[:2] for v in values)
        xy = xz = yz = 0.0
    matrix = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return Box(matrix=matrix, origin=np.array([xlo, ylo, zlo]), triclinic=triclinic)


class DumpReader:
    """Index a dump file and iterate over its frames.

    >>> reader = DumpReader(path, columns=["id", "element", "xu", "yu", "zu"])
    >>> for frame in reader: ...

    ``columns`` lists the columns to parse (others are skipped); ``None`` parses all.
    ``len(reader)`` is the number of frames that will be yielded (one fewer if a truncated last frame
    is dropped). ``deduplicate=False`` keeps every frame, for dumps whose frames share a timestep
    (single points written by ``run 0`` or ``rerun``).
    """

    def __init__(self, path: Path | str, columns: Sequence[str] | None = None, allow_truncated: bool = False,
                 deduplicate: bool = True):
        self.path = Path(path)
        self.deduplicate = deduplicate
        self.columns = None if columns is None else tuple(columns)
        self.allow_truncated = allow_truncated
        self.dropped_truncated = False
        if not self.path.is_file():
            raise AnalysisError(f"dump file not found: {self.path}")
        self._frames = self._build_index()

    def __len__(self) -> int:
        return len(self._frames)

    def set_columns(self, columns: Sequence[str] | None) -> None:
        """Change the columns parsed from the next frame on (e.g. drop 'element' after the first frame)."""
        self.columns = None if columns is None else tuple(columns)

    @property
    def timesteps(self) -> list[int]:
        return [int(f.timestep) for f in self._frames if f.timestep is not None]

    # -- indexing ---------------------------------------------------------------------------
    def _scan_offsets(self) -> tuple[list[int], list[int | None | bool]]:
        """Byte offsets of the 'ITEM: TIMESTEP' lines and, where the chunk holds it, the timestep that follows
        (None: unreadable; False: not in this chunk, to be read at the offset)."""
        offsets: list[int] = []
        steps: list[int | None | bool] = []
        keep = len(_MARK) - 1
        with open(self.path, "rb") as handle:
            base = 0
            tail = b""
            while True:
                chunk = handle.read(_CHUNK_BYTES)
                if not chunk:
                    break
                data = tail + chunk
                start = 0
                while True:
                    hit = data.find(_MARK, start)
                    if hit < 0:
                        break
                    if hit == 0 or data[hit - 1:hit] == b"\n":
                        offsets.append(base - len(tail) + hit)
                        head = data[hit:hit + 128].split(b"\n", 3)
                        if len(head) > 2:
                            try:
                                steps.append(int(head[1].split()[0]))
                            except (ValueError, IndexError):
                                steps.append(None)
                        else:
                            steps.append(False)
                    start = hit + 1
                tail = data[-keep:] if len(data) >= keep else data
                base += len(chunk)
        return offsets, steps

    def _build_index(self) -> list[FrameIndex]:
        size = self.path.stat().st_size
        if size == 0:
            raise AnalysisError(f"dump file is empty: {self.path}")
        offsets, steps = self._scan_offsets()
        if not offsets:
            raise AnalysisError(f"not a LAMMPS dump (no 'ITEM: TIMESTEP' line): {self.path}")
        entries: list[FrameIndex] = []
        with open(self.path, "rb") as handle:
            for i, offset in enumerate(offsets):
                end = offsets[i + 1] if i + 1 < len(offsets) else size
                timestep = steps[i]
                if timestep is False or (timestep is not None and end - offset < 128):
                    handle.seek(offset)
                    head = handle.read(min(128, end - offset)).split(b"\n")
                    timestep = None
                    if len(head) > 2:
                        try:
                            timestep = int(head[1].split()[0])
                        except (ValueError, IndexError):
                            timestep = None
                entries.append(FrameIndex(offset=offset, end=end, timestep=timestep))
        # keep the last occurrence of each timestep: a later frame with a timestep <= an earlier one
        # supersedes every earlier frame at or after that timestep (resume from a restart file).
        if not self.deduplicate:
            return entries
        kept: list[FrameIndex] = []
        for entry in entries:
            if entry.timestep is not None:
                while kept and kept[-1].timestep is not None and kept[-1].timestep >= entry.timestep:
                    kept.pop()
            kept.append(entry)
        return kept

    # -- parsing ----------------------------------------------------------------------------
    def _truncated(self, entry: FrameIndex, is_last: bool, why: str) -> None:
        where = f"timestep {entry.timestep}" if entry.timestep is not None else f"byte {entry.offset}"
        if not is_last:
            raise AnalysisError(f"corrupt frame at {where} in {self.path}: {why}")
        if self.allow_truncated:
            warnings.warn(f"dropping truncated final frame at {where} of {self.path}: {why}", stacklevel=3)
            self.dropped_truncated = True
            return
        raise AnalysisError(f"truncated dump {self.path}: final frame at {where} is incomplete ({why})")

    def _header(self, data: bytes, entry: FrameIndex, is_last: bool) -> tuple[int, Box, tuple[str, ...], bytes] | None:
        """(natoms, box, column names, atom block) of a frame, or None when it is cut short (reported by
        :meth:`_truncated`)."""
        def cut(why: str) -> None:
            self._truncated(entry, is_last, why)

        lines = data.split(b"\n", 9)
        if len(lines) < 10 or entry.timestep is None:
            cut("header cut short")
            return None
        text = [line.decode("ascii", "replace").strip() for line in lines[:9]]
        if text[2] != "ITEM: NUMBER OF ATOMS" or not text[4].startswith("ITEM: BOX BOUNDS") \
                or not text[8].startswith("ITEM: ATOMS"):
            cut("unexpected header lines")
            return None
        try:
            natoms = int(text[3])
        except ValueError:
            cut(f"bad atom count {text[3]!r}")
            return None
        box = parse_box(text[4], text[5:8])
        return natoms, box, tuple(text[8].split()[2:]), lines[9]

    def _sorted_frame(self, entry: FrameIndex, natoms: int, box: Box, names: tuple[str, ...],
                      columns: dict[str, np.ndarray], ids: np.ndarray | None) -> Frame:
        if ids is not None:
            order = np.argsort(ids, kind="stable")
            if np.any(order != np.arange(natoms)):
                columns = {k: v[order] for k, v in columns.items()}
        return Frame(timestep=int(entry.timestep), natoms=natoms, box=box, columns=columns, column_names=names)

    def _atom_block(self, data: bytes, entry: FrameIndex, is_last: bool) -> tuple[int, Box, tuple[str, ...], bytes] | None:
        """The header and atom block of a frame whose block has exactly one complete line per atom; a frame cut
        short is reported by :meth:`_truncated` (None when it is dropped), one with extra values is an error."""
        header = self._header(data, entry, is_last)
        if header is None:
            return None
        natoms, box, names, body = header
        lines = body.count(b"\n")
        whole_lines = lines == natoms and (natoms == 0 or body.endswith(b"\n"))
        if whole_lines and body.count(b" ") == natoms * (len(names) - 1):
            return header      # LAMMPS's own spacing: the count of values is right, no need to split
        values = len(body.split())
        if whole_lines and values == natoms * len(names):
            return header
        if values > natoms * len(names) or lines > natoms:
            raise AnalysisError(f"frame at timestep {entry.timestep} of {self.path} has more values "
                                f"than {natoms} atoms x {len(names)} columns")
        self._truncated(entry, is_last, f"{values} of {natoms * len(names)} values")
        return None

    def _parse_batch(self, chunks: list[bytes], entries: list[FrameIndex], last: int) -> Iterator[Frame]:
        """Frames of a batch, in order: the atom blocks of consecutive frames with the same columns are parsed
        together by pandas' C parser (one call per run of frames), the one parsing path of this reader."""
        blocks = [(entry, self._atom_block(data, entry, k == last)) for k, (data, entry) in enumerate(zip(chunks, entries))]
        blocks = [(entry, block) for entry, block in blocks if block is not None]
        start = 0
        while start < len(blocks):
            names = blocks[start][1][2]
            stop = start + 1
            while stop < len(blocks) and blocks[stop][1][2] == names:
                stop += 1
            run = blocks[start:stop]
            wanted = [n for n in (names if self.columns is None else self.columns) if n in names]
            parse = wanted + (["id"] if "id" in names and "id" not in wanted else [])
            if len(set(names)) != len(names):
                raise AnalysisError(f"dump {self.path} repeats a column name: {' '.join(names)}")
            table = _read_block([block[3] for _, block in run], names, parse)
            # a refused run: the frames before the bad one are yielded, then the bad frame and column are named
            for entry, (natoms, box, _, body) in run:
                if table is None:
                    frame_table = _read_block([body], names, parse)
                    if frame_table is None:
                        bad = next((n for n in parse if _read_block([body], names, [n]) is None), "?")
                        raise AnalysisError(f"non-numeric value in column {bad!r} at timestep {entry.timestep} "
                                            f"of {self.path}")
                    columns = {n: frame_table[n] for n in parse}
                else:
                    columns = {n: table[n][:natoms] for n in parse}
                    table = {n: v[natoms:] for n, v in table.items()}
                ids = columns["id"] if "id" in names else None
                yield self._sorted_frame(entry, natoms, box, names, {n: columns[n] for n in wanted}, ids)
            start = stop

    def __iter__(self) -> Iterator[Frame]:
        frames = self._frames
        count = len(frames)
        with open(self.path, "rb") as handle:
            i = 0
            while i < count:
                # a batch: consecutive frames that lie back to back in the file, up to _BATCH_BYTES
                # (the first batch is one frame, so that set_columns() after it applies to the rest)
                j = i + 1
                size = frames[i].end - frames[i].offset
                while i > 0 and j < count and frames[j].offset == frames[j - 1].end \
                        and size + frames[j].end - frames[j].offset <= _BATCH_BYTES:
                    size += frames[j].end - frames[j].offset
                    j += 1
                handle.seek(frames[i].offset)
                span = handle.read(frames[j - 1].end - frames[i].offset)
                base = frames[i].offset
                chunks = [span[e.offset - base:e.end - base] for e in frames[i:j]]
                last = count - 1 - i if j == count else -1
                for frame in self._parse_batch(chunks, frames[i:j], last):
                    if self.columns is not None:
                        missing = [c for c in self.columns if c not in frame.column_names]
                        if missing:
                            raise AnalysisError(f"dump {self.path} has no column {', '.join(missing)} "
                                                f"(columns: {' '.join(frame.column_names)})")
                    yield frame
                i = j


_NAN_TOKENS = ["nan", "-nan", "NaN", "-NaN", "NAN", "-NAN"]   # what printf writes for a NaN; inf parses as a number


def _read_block(bodies: list[bytes], names: tuple[str, ...], wanted: list[str]) -> dict[str, np.ndarray] | None:
    """Columns ``wanted`` of the concatenated atom blocks (one line per atom), by pandas' C parser; None if a line
    has a missing, extra or non-numeric value ('nan' and 'inf' are numbers: a run that blew up wrote them)."""
    import pandas as pd

    usecols = sorted(names.index(n) for n in wanted)
    dtypes = {}
    for j in usecols:
        name = names[j]
        dtypes[j] = object if name in _STRING_COLUMNS else (np.int64 if name in _INT_COLUMNS else np.float64)
    text = b"".join(bodies)
    nrows = text.count(b"\n")
    if nrows == 0:
        return {names[j]: np.array([], dtype=str if dtypes[j] is object else dtypes[j]) for j in usecols}
    # single spaces (what LAMMPS writes) parse fastest; any other whitespace makes that fail, never misread
    for separator in (" ", r"\s+"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")   # pandas warns (and drops data) on a line with an extra value
                table = pd.read_csv(io.BytesIO(text), sep=separator, header=None, names=list(range(len(names))),
                                    usecols=usecols or None, dtype=dtypes, engine="c", skip_blank_lines=False,
                                    index_col=False, na_filter=True, keep_default_na=False, na_values=_NAN_TOKENS)
        except (ValueError, TypeError, OverflowError, pd.errors.ParserError, pd.errors.ParserWarning):
            continue
        if len(table) != nrows:
            continue
        out = {}
        for j in usecols:
            values = table[j].to_numpy()
            if names[j] in _STRING_COLUMNS:
                values = values.astype(str)
            elif values.dtype != dtypes[j]:
                break
            out[names[j]] = values
        else:
            return out
    return None


def read_columns(path: Path | str) -> tuple[str, ...]:
    """Column names of the first frame (read from its ``ITEM: ATOMS`` line)."""
    with open(path, "rb") as handle:
        for _ in range(64):
            line = handle.readline()
            if not line:
                break
            if line.startswith(b"ITEM: ATOMS"):
                return tuple(line.decode("ascii", "replace").split()[2:])
    raise AnalysisError(f"no 'ITEM: ATOMS' line at the start of {path}")


def iter_frames(path: Path | str, columns: Sequence[str] | None = None,
                allow_truncated: bool = False) -> Iterator[Frame]:
    """Frames of a dump, one at a time (see :class:`DumpReader`)."""
    return iter(DumpReader(path, columns=columns, allow_truncated=allow_truncated))


def choose_position_columns(names: Sequence[str]) -> tuple[str, list[str]]:
    """Which coordinates a dump offers, best first.

    Returns (mode, columns): ``"unwrapped"`` (xu yu zu), ``"image"`` (x y z ix iy iz),
    ``"wrapped"`` (x y z), ``"scaled_image"`` (xs ys zs ix iy iz) or ``"scaled"`` (xs ys zs).
    """
    present = set(names)
    if {"xu", "yu", "zu"} <= present:
        return "unwrapped", ["xu", "yu", "zu"]
    if {"x", "y", "z", "ix", "iy", "iz"} <= present:
        return "image", ["x", "y", "z", "ix", "iy", "iz"]
    if {"x", "y", "z"} <= present:
        return "wrapped", ["x", "y", "z"]
    if {"xs", "ys", "zs", "ix", "iy", "iz"} <= present:
        return "scaled_image", ["xs", "ys", "zs", "ix", "iy", "iz"]
    if {"xs", "ys", "zs"} <= present:
        return "scaled", ["xs", "ys", "zs"]
    raise AnalysisError("dump has no coordinate columns (need xu yu zu, or x y z [ix iy iz], or xs ys zs); "
                        f"columns: {' '.join(names)}")


def frame_positions_A(frame: Frame, mode: str) -> np.ndarray:
    """Cartesian positions (natoms, 3) in Å; with image flags these are unwrapped, otherwise as stored."""
    if mode == "unwrapped":
        return np.column_stack([frame.column("xu"), frame.column("yu"), frame.column("zu")])
    if mode in ("scaled", "scaled_image"):
        fractional = np.column_stack([frame.column("xs"), frame.column("ys"), frame.column("zs")])
        positions = frame.box.to_cartesian(fractional)
    else:
        positions = np.column_stack([frame.column("x"), frame.column("y"), frame.column("z")])
    if mode in ("image", "scaled_image"):
        images = np.column_stack([frame.column("ix"), frame.column("iy"), frame.column("iz")]).astype(np.float64)
        positions = positions + images @ frame.box.matrix
    return positions


def select_atoms(frame: Frame, species: str | None = None, atom_type: int | None = None) -> np.ndarray:
    """Boolean mask of the atoms of one species (``element`` column) or LAMMPS type (``type`` column)."""
    if species is not None:
        if "element" not in frame.column_names:
            raise AnalysisError(f"cannot select species {species!r}: dump has no 'element' column "
                                "(use the atom type instead)")
        mask = frame.column("element") == species
    elif atom_type is not None:
        mask = frame.column("type") == atom_type
    else:
        mask = np.ones(frame.natoms, dtype=bool)
    if not mask.any():
        label = species if species is not None else f"type {atom_type}"
        raise AnalysisError(f"no atoms of {label} in the dump")
    return mask
