"""The dump reader's one parsing path (pandas, in batches) against a token-by-token reference parser kept here
as the oracle, its errors on malformed frames, and the frame-to-frame minimum-distance tracker against brute
force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analysis import dump as dump_module
from analysis.contacts import MinimumDistanceTracker, minimum_distance_A
from analysis.dump import Box, DumpReader
from analysis.errors import AnalysisError
from analysis_testdata import TRICLINIC, frame_text


def _parse_tokens(reader, data, entry, is_last):
    """The token-by-token reference parser (the reader's former slow path), kept here as the oracle."""
    header = reader._header(data, entry, is_last)
    if header is None:
        return None
    natoms, box, names, body = header
    ncols = len(names)
    tokens = body.split()
    if len(tokens) != natoms * ncols or body.count(b"\n") < natoms:
        return None
    wanted = names if reader.columns is None else reader.columns
    columns = {}
    for name in wanted:
        if name not in names:
            continue
        values = tokens[names.index(name)::ncols]
        if name in dump_module._STRING_COLUMNS:
            columns[name] = np.array([v.decode("ascii") for v in values])
        elif name in dump_module._INT_COLUMNS:
            columns[name] = np.array(list(map(int, values)), dtype=np.int64)
        else:
            columns[name] = np.array(list(map(float, values)), dtype=np.float64)
    ids = np.array(list(map(int, tokens[names.index("id")::ncols]))) if "id" in names else None
    return reader._sorted_frame(entry, natoms, box, names, columns, ids)


def _reference_frames(path, columns=None):
    """Every frame through the token-by-token oracle."""
    reader = DumpReader(path, columns=columns)
    out = []
    with open(path, "rb") as handle:
        for k, entry in enumerate(reader._frames):
            handle.seek(entry.offset)
            frame = _parse_tokens(reader, handle.read(entry.end - entry.offset), entry, k == len(reader._frames) - 1)
            if frame is not None:
                out.append(frame)
    return out


def _write(path, nframes, natoms, seed, order=("id", "type", "element", "x", "y", "z", "ix", "iy", "iz"),
           shuffle=True, nan_frame=None):
    rng = np.random.default_rng(seed)
    text = []
    for k in range(nframes):
        perm = rng.permutation(natoms) if shuffle else np.arange(natoms)
        columns = {"id": [int(i + 1) for i in perm], "type": [int(i % 3 + 1) for i in perm],
                   "element": [["Li", "P", "S"][i % 3] for i in perm],
                   "ix": [int(v) for v in rng.integers(-3, 4, natoms)], "iy": [0] * natoms,
                   "iz": [int(v) for v in rng.integers(-1, 2, natoms)]}
        for name in ("x", "y", "z"):
            columns[name] = [float(v) for v in rng.normal(0, 5, natoms)]
        if nan_frame == k:
            columns["y"][1] = "nan"
        text.append(frame_text(10 * k, TRICLINIC, columns, list(order)))
    path.write_text("".join(text))
    return path


@pytest.mark.parametrize("columns", [None, ["id", "x", "y", "z"], ["element", "x", "ix"]])
def test_block_parser_equals_reference(tmp_path, monkeypatch, columns):
    monkeypatch.setattr(dump_module, "_BATCH_BYTES", 3000)  # several batches of several frames
    path = _write(tmp_path / "t.lammpstrj", 12, 17, seed=1)
    slow = _reference_frames(path, columns)
    fast = list(DumpReader(path, columns=columns))
    assert [f.timestep for f in fast] == [f.timestep for f in slow] == [10 * k for k in range(12)]
    for a, b in zip(fast, slow):
        assert a.column_names == b.column_names
        assert sorted(a.columns) == sorted(b.columns)
        for name in a.columns:
            assert a.columns[name].dtype.kind == b.columns[name].dtype.kind
            assert np.array_equal(a.columns[name], b.columns[name]), name
        assert np.array_equal(a.box.matrix, b.box.matrix)


def test_block_parser_reads_nan_and_odd_spacing(tmp_path, monkeypatch):
    monkeypatch.setattr(dump_module, "_BATCH_BYTES", 4000)
    path = _write(tmp_path / "t.lammpstrj", 6, 9, seed=2, nan_frame=3)
    text = path.read_text().replace("\n1 ", "\n 1  ")  # leading and doubled spaces on some lines
    path.write_text(text)
    fast = list(DumpReader(path))
    slow = _reference_frames(path)
    assert np.isnan(fast[3].column("y")).sum() == 1
    for a, b in zip(fast, slow):
        for name in a.columns:
            nan = a.columns[name].dtype.kind == "f"
            assert np.array_equal(a.columns[name], b.columns[name], equal_nan=nan), name


def test_block_parser_reports_bad_value_after_good_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(dump_module, "_BATCH_BYTES", 1 << 20)
    path = _write(tmp_path / "t.lammpstrj", 5, 4, seed=3, shuffle=False)
    lines = path.read_text().splitlines(keepends=True)
    index = [i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")][3] + 10
    tokens = lines[index].split()
    tokens[3] = "abc"  # the x column
    lines[index] = " ".join(tokens) + "\n"
    path.write_text("".join(lines))
    seen = []
    with pytest.raises(AnalysisError, match="non-numeric value"):
        for frame in DumpReader(path, columns=["id", "x"]):
            seen.append(frame.timestep)
    assert seen == [0, 10, 20]


@pytest.mark.parametrize("change, message", [
    (lambda line: line + " 7", "more values than 4 atoms x 9 columns"),            # an extra value on a line
    (lambda line: line.rsplit(" ", 1)[0], "corrupt frame at timestep 20"),          # a value missing on a line
    (lambda line: line.replace(" ", "  "), None),                                   # odd spacing: still read
    (lambda line: line.replace(" ", "\t", 2), None),
])
def test_malformed_atom_lines(tmp_path, change, message):
    path = _write(tmp_path / "t.lammpstrj", 5, 4, seed=4, shuffle=False)
    lines = path.read_text().splitlines()
    index = [i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")][2] + 10
    lines[index] = change(lines[index])
    path.write_text("\n".join(lines) + "\n")
    if message is None:
        fast = list(DumpReader(path))
        for a, b in zip(fast, _reference_frames(path)):
            assert all(np.array_equal(a.columns[n], b.columns[n]) for n in a.columns)
        assert len(fast) == 5
    else:
        with pytest.raises(AnalysisError, match=message):
            list(DumpReader(path))


def test_a_final_frame_cut_short_is_an_error_or_dropped(tmp_path):
    path = _write(tmp_path / "t.lammpstrj", 4, 5, seed=5)
    text = path.read_text()
    path.write_text(text[:text.rindex("\n", 0, len(text) - 1) - 7])   # the last atom line cut mid-number
    with pytest.raises(AnalysisError, match="final frame at timestep 30 is incomplete"):
        list(DumpReader(path))
    with pytest.warns(UserWarning, match="dropping truncated final frame"):
        frames = list(DumpReader(path, allow_truncated=True))
    assert [f.timestep for f in frames] == [0, 10, 20]


def _brute(positions, box):
    fractional = box.to_fractional(positions)
    best = math.inf
    for shift in itertools.product((-2, -1, 0, 1, 2), repeat=3):
        delta = (fractional[None, :, :] - fractional[:, None, :] + np.array(shift)) @ box.matrix
        distance = np.sqrt((delta ** 2).sum(axis=-1))
        if not any(shift):
            np.fill_diagonal(distance, np.inf)
        best = min(best, float(distance.min()))
    return best


@pytest.mark.parametrize("triclinic", [True, False])
def test_tracker_equals_brute_force_along_a_trajectory(triclinic):
    matrix = TRICLINIC if triclinic else np.diag([9.0, 10.0, 11.0])
    box = Box(matrix=matrix, origin=np.array([1.0, -2.0, 0.5]), triclinic=triclinic)
    rng = np.random.default_rng(7)
    positions = box.to_cartesian(rng.random((50, 3)))
    tracker = MinimumDistanceTracker()
    for _ in range(40):
        positions = positions + rng.normal(0.0, 0.4, positions.shape)
        expected = _brute(positions, box)
        assert tracker(positions, box) == pytest.approx(expected, rel=1e-12)
        assert minimum_distance_A(positions, box) == pytest.approx(expected, rel=1e-12)
