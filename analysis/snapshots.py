"""Pictures of atoms rendered with OVITO's CPU ray tracer (Tachyon; no GPU, no display), like the paper's Fig. 4a.

For Task 4, per potential at one condition (the first, by temperature then pressure, where one repeat survived and
one failed; otherwise the first with a surviving run, otherwise the first with a failed one): the relaxed random
cell (frame 0, written after the fixed-cell relaxation), the last frame of a surviving run and the last complete
frame of a failed run. For the melt-quench, per run: the start, the melt (the last frame of the hold at the high
temperature) and the quenched (last) frame. Atoms are wrapped into the cell and coloured by element; the cell is
drawn. Written by ``harness analyze`` to results/snapshots/*.png with an index, results/snapshots.csv.

OVITO 3.17 draws through Vulkan even with its CPU renderer: it needs the Vulkan loader and a software driver
(Debian: libvulkan1 mesa-vulkan-drivers). When OVITO cannot render, no picture is written and the reason is
returned as a note; the analysis goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from analysis.dump import DumpReader, Frame, choose_position_columns, frame_positions_A
from analysis.errors import AnalysisError

SNAPSHOT_COLUMNS = ["task", "potential", "run_id", "label", "frame", "step", "file", "temperature_K", "pressure_Pa",
                    "variant"]
SIZE_PX = (420, 360)
# Colours (RGB 0-1) and display radii (Å) by element; other elements get grey and 0.8 Å.
COLOURS = {"Li": (0.62, 0.40, 0.95), "P": (0.95, 0.55, 0.10), "S": (0.95, 0.85, 0.20)}
RADII_A = {"Li": 0.65, "P": 0.55, "S": 0.9}


@dataclass
class Shot:
    """One picture to make: a frame (index into the dump, -1 = last complete) of one run's traj.lammpstrj."""

    task: str
    potential: str
    run_id: str
    label: str
    dump: Path
    frame: int
    temperature_K: float | None = None
    pressure_Pa: float | None = None
    variant: str | None = None

    @property
    def file(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.run_id}-{self.label}").strip("-")
        return f"{slug}.png"


def _frames(path: Path, allow_truncated: bool) -> list[Frame]:
    return list(DumpReader(path, allow_truncated=allow_truncated))


def render_frame(frame: Frame, path: Path, size: tuple[int, int] = SIZE_PX) -> Path:
    """One dump frame as a PNG: atoms wrapped into the cell, coloured by element, the cell drawn."""
    from ovito.data import DataCollection, ParticleType
    from ovito.pipeline import Pipeline, StaticSource
    from ovito.vis import TachyonRenderer, Viewport

    mode, _ = choose_position_columns(frame.column_names)
    fractional = frame.box.to_fractional(frame_positions_A(frame, mode)) % 1.0
    positions = frame.box.to_cartesian(fractional)
    elements = [str(e) for e in frame.column("element")] if "element" in frame.column_names else \
        [f"type {t}" for t in frame.column("type")]
    names = sorted(set(elements), key=lambda e: (list(COLOURS).index(e) if e in COLOURS else 99, e))
    data = DataCollection()
    data.create_cell(np.column_stack([frame.box.matrix.T, frame.box.origin]), pbc=(True, True, True))
    data.cell.vis.line_width = 0.08
    particles = data.create_particles(count=frame.natoms)
    particles.create_property("Position", data=positions)
    types = particles.create_property("Particle Type", data=np.array([names.index(e) + 1 for e in elements]))
    for index, name in enumerate(names):
        types.types.append(ParticleType(id=index + 1, name=name, color=COLOURS.get(name, (0.6, 0.6, 0.6)),
                                        radius=RADII_A.get(name, 0.8)))
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.add_to_scene()
    try:
        viewport = Viewport(type=Viewport.Type.Ortho, camera_dir=(1.0, 0.6, -0.5))
        viewport.zoom_all()
        viewport.render_image(filename=str(path), size=size, background=(1.0, 1.0, 1.0),
                              renderer=TachyonRenderer(ambient_occlusion=False))
    finally:
        pipeline.remove_from_scene()
    return path


def robustness_shots(runs: Sequence) -> list[Shot]:
    """Per potential: relaxed cell, a surviving and a failed run's last frame at one condition (module docstring)."""
    shots: list[Shot] = []
    for potential in sorted({r.potential for r in runs}):
        groups: dict[tuple[float, float], list] = {}
        for run in runs:
            if run.potential == potential and (run.directory / "traj.lammpstrj").is_file():
                key = (float(run.params["temperature_K"]), float(run.params["pressure_Pa"]))
                groups.setdefault(key, []).append(run)
        chosen = None
        for rule in ({"done", "failed"}, {"done"}, {"failed"}):
            chosen = next((k for k in sorted(groups) if rule <= {r.state for r in groups[k]}), None)
            if chosen is not None:
                break
        if chosen is None:
            continue
        group = sorted(groups[chosen], key=lambda r: r.repeat)
        condition = {"temperature_K": chosen[0], "pressure_Pa": chosen[1]}
        survived = next((r for r in group if r.state == "done"), None)
        failed = next((r for r in group if r.state == "failed"), None)
        first = survived or failed
        shots.append(Shot("robustness", potential, first.run_id, "relaxed random cell",
                          first.directory / "traj.lammpstrj", 0, **condition))
        if survived is not None:
            shots.append(Shot("robustness", potential, survived.run_id, "survived, last frame",
                              survived.directory / "traj.lammpstrj", -1, **condition))
        if failed is not None:
            shots.append(Shot("robustness", potential, failed.run_id, "failed, last frame",
                              failed.directory / "traj.lammpstrj", -1, **condition))
    return shots


def melt_quench_shots(runs: Sequence, rows: Sequence[dict]) -> list[Shot]:
    """Per melt-quench run: start, melt (last frame of the hold) and quenched (last) frame, from the table rows."""
    shots: list[Shot] = []
    for run in runs:
        frames = [r for r in rows if r["run_id"] == run.run_id and r.get("frame") is not None]
        if not frames:
            continue
        hold = [r["frame"] for r in frames if r.get("phase") == "hold"]
        picks = [("start", frames[0]["frame"]), ("melt", hold[-1] if hold else None),
                 ("quenched", frames[-1]["frame"])]
        for label, index in picks:
            if index is not None:
                shots.append(Shot("melt_quench", run.potential, run.run_id, label, run.directory / "traj.lammpstrj",
                                  int(index), variant=run.params.get("variant")))
    return shots


def write_snapshots(shots: Iterable[Shot], out_dir: Path, states: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Render every shot into out_dir; returns the rows of snapshots.csv and notes (why a picture is missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, notes = [], []
    cache: dict[Path, list[Frame]] = {}
    for shot in shots:
        try:
            if shot.dump not in cache:
                cache[shot.dump] = _frames(shot.dump, allow_truncated=states.get(shot.run_id) != "done")
            frames = cache[shot.dump]
            if not frames:
                raise AnalysisError("no complete frame")
            index = shot.frame if shot.frame >= 0 else len(frames) - 1
            frame = frames[min(index, len(frames) - 1)]
            render_frame(frame, out_dir / shot.file)
        except AnalysisError as error:
            notes.append(f"snapshot of {shot.run_id} ({shot.label}) not rendered: {error}")
            continue
        except Exception as error:  # OVITO raises RuntimeError and others when it cannot render at all
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            notes.append(f"OVITO snapshots not rendered: {reason}")
            break
        rows.append({"task": shot.task, "potential": shot.potential, "run_id": shot.run_id, "label": shot.label,
                     "frame": min(index, len(frames) - 1), "step": frame.timestep, "file": shot.file,
                     "temperature_K": shot.temperature_K, "pressure_Pa": shot.pressure_Pa, "variant": shot.variant})
    return rows, notes
