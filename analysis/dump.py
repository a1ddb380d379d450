"""Streaming reader for LAMMPS text dumps (``dump custom`` / ``dump atom``), one frame at a time.

Lengths are in Å (LAMMPS ``units metal``), as written in the file. The reader:

* makes one fast byte-level pass to index the frames (file offset and timestep of each),
* keeps only the LAST occurrence of a timestep that appears more than once (a run resumed from a
  restart file rewrites the frames after the restart point), then
* parses the kept frames one by one on demand, so memory holds one frame at a time.

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

    def _header(self, data: bytes, entry: FrameIndex, is_last: bool,
                report: bool = True) -> tuple[int, Box, tuple[str, ...], bytes] | None:
        """(natoms, box, column names, atom block) of a frame, or None when it is cut short (reported by
        :meth:`_truncated` when ``report``)."""
        def cut(why: str) -> None:
            if report:
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
        try:
            box = parse_box(text[4], text[5:8])
        except AnalysisError:
            if not report:
                return None
            raise
        return natoms, box, tuple(text[8].split()[2:]), lines[9]

    def _sorted_frame(self, entry: FrameIndex, natoms: int, box: Box, names: tuple[str, ...],
                      columns: dict[str, np.ndarray], ids: np.ndarray | None) -> Frame:
        if ids is not None:
            order = np.argsort(ids, kind="stable")
            if np.any(order != np.arange(natoms)):
                columns = {k: v[order] for k, v in columns.items()}
        return Frame(timestep=int(entry.timestep), natoms=natoms, box=box, columns=columns, column_names=names)

    def _parse(self, data: bytes, entry: FrameIndex, is_last: bool) -> Frame | None:
        """One frame, token by token (the reference parser; also the fallback of the block parser)."""
        header = self._header(data, entry, is_last)
        if header is None:
            return None
        natoms, box, names, body = header
        ncols = len(names)
        tokens = body.split()
        complete_lines = body.count(b"\n")
        if len(tokens) != natoms * ncols or complete_lines < natoms or (natoms > 0 and not body.rstrip(b" ").endswith(b"\n")):
            if len(tokens) > natoms * ncols:
                raise AnalysisError(f"frame at timestep {entry.timestep} of {self.path} has more values "
                                    f"than {natoms} atoms x {ncols} columns")
            self._truncated(entry, is_last, f"{len(tokens)} of {natoms * ncols} values")
            return None
        wanted = names if self.columns is None else self.columns
        columns: dict[str, np.ndarray] = {}
        for name in wanted:
            if name not in names:
                continue
            j = names.index(name)
            values = tokens[j::ncols]
            try:
                if name in _STRING_COLUMNS:
                    columns[name] = np.array([v.decode("ascii") for v in values])
                elif name in _INT_COLUMNS:
                    columns[name] = np.array(list(map(int, values)), dtype=np.int64)
                else:
                    columns[name] = np.array(list(map(float, values)), dtype=np.float64)
            except ValueError:
                raise AnalysisError(f"non-numeric value in column {name!r} at timestep {entry.timestep} "
                                    f"of {self.path}") from None
        ids = None
        if "id" in names:
            ids = columns["id"] if "id" in columns else np.array(list(map(int, tokens[names.index("id")::ncols])))
        return self._sorted_frame(entry, natoms, box, names, columns, ids)

    def _parse_block(self, chunks: list[bytes], entries: list[FrameIndex], last: int) -> Iterator[Frame]:
        """Frames of a batch, in order. The atom blocks of all well-formed frames that share a column header
        are parsed together by pandas' C parser (one call per batch); a frame whose block does not have
        exactly one line per atom, or a batch that pandas refuses (non-numeric or missing values, 'nan'),
        goes through :meth:`_parse`, which gives the same values or the same error."""
        parsed: list[Frame | None] = [None] * len(chunks)
        headers: list = [None] * len(chunks)
        fast: list[int] = []
        for k, (data, entry) in enumerate(zip(chunks, entries)):
            header = self._header(data, entry, k == last, report=False)
            if header is None:
                continue
            natoms, _, names, body = header
            # one complete line per atom, nothing after the last one
            if natoms > 0 and body.endswith(b"\n") and body.count(b"\n") == natoms and \
                    (not fast or headers[fast[0]][2] == names):
                headers[k] = header
                fast.append(k)
        if fast:
            names = headers[fast[0]][2]
            wanted = [n for n in (names if self.columns is None else self.columns) if n in names]
            block = _read_block([headers[k][3] for k in fast], names, wanted + (["id"] if "id" in names and "id" not in wanted else []),
                                sum(headers[k][0] for k in fast))
            if block is not None:
                start = 0
                for k in fast:
                    natoms, box, names_k, _ = headers[k]
                    columns = {n: block[n][start:start + natoms] for n in wanted}
                    ids = block["id"][start:start + natoms] if "id" in names_k else None
                    parsed[k] = self._sorted_frame(entries[k], natoms, box, names_k, columns, ids)
                    start += natoms
        for k, (data, entry) in enumerate(zip(chunks, entries)):
            frame = parsed[k] if parsed[k] is not None else self._parse(data, entry, k == last)
            if frame is not None:
                yield frame

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
                for frame in self._parse_block(chunks, frames[i:j], last):
                    if self.columns is not None:
                        missing = [c for c in self.columns if c not in frame.column_names]
                        if missing:
                            raise AnalysisError(f"dump {self.path} has no column {', '.join(missing)} "
                                                f"(columns: {' '.join(frame.column_names)})")
                    yield frame
                i = j


def _read_block(bodies: list[bytes], names: tuple[str, ...], wanted: list[str], nrows: int) -> dict[str, np.ndarray] | None:
    """Columns ``wanted`` of the concatenated atom blocks, by pandas' C parser; None if it cannot (then the
    caller parses token by token). 'nan' and other non-numbers make pandas fail, deliberately."""
    import pandas as pd

    if len(set(names)) != len(names):
        return None
    usecols = sorted(names.index(n) for n in wanted)
    dtypes = {}
    for j in usecols:
        name = names[j]
        dtypes[j] = object if name in _STRING_COLUMNS else (np.int64 if name in _INT_COLUMNS else np.float64)
    text = b"".join(bodies)
    table = None
    # single spaces (what LAMMPS writes) parse fastest; any other whitespace makes that fail, never misread
    for separator in (" ", r"\s+"):
        try:
            table = pd.read_csv(io.BytesIO(text), sep=separator, header=None, names=list(range(len(names))),
                                usecols=usecols, dtype=dtypes, na_filter=False, engine="c", skip_blank_lines=False)
            break
        except (ValueError, TypeError, OverflowError, pd.errors.ParserError):
            continue
    if table is None:
        return None
    if len(table) != nrows:
        return None
    out = {}
    for j in usecols:
        values = table[j].to_numpy()
        if names[j] in _STRING_COLUMNS:
            values = values.astype(str)
        elif values.dtype != dtypes[j]:
            return None
        out[names[j]] = values
    return out


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
