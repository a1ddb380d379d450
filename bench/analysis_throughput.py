"""Throughput and peak memory of the streaming analysis against OVITO's pipeline on the same dump.

    .venv/bin/python bench/analysis_throughput.py [--atoms 1000] [--frames 10000] [--dir /tmp/bench]

Writes a synthetic dump (``id element xu yu zu``, cubic box, Gaussian random walkers), then runs, each in
its own Python process so that peak memory (ru_maxrss) is that task's alone:

* ours:  analysis.msd (all-origins MSD, D with 5-block error) + analysis.contacts (min distance per frame,
         MinimumDistanceTracker), in one pass over the file (atom blocks parsed in batches by pandas' C parser),
         one thread;
* ovito: FileSource -> CalculateDisplacementsModifier(reference frame 0): MSD from one time origin (frame 0)
         + NearestNeighborFinder(1) for the min distance per frame. The dump holds unwrapped coordinates
         (xu yu zu), so no UnwrapTrajectoriesModifier: that would be a second pass over the file that the other
         tools do not make (``--ovito-unwrap`` adds it back, to show its cost).
* freud: freud has no LAMMPS dump reader, so frames come from our reader (analysis.dump.DumpReader, the same
         parsing cost as ours); freud.msd.MSD(mode="window") over all time origins on the stacked unwrapped
         positions (all frames in memory, float64) + freud.locality.AABBQuery nearest neighbour per frame.
         Needs `.venv/bin/pip install -r requirements-bench.txt`; skipped when freud is not installed.

What each tool computes differs: ours and freud average the MSD over all time origins, OVITO's displacements
are from frame 0 only. So the table has both D columns: "D, all origins" where the tool computes it, and
"D, origin 0" (ours: from the same stored displacements, computed after the timed part) so that OVITO's D can be
compared with a number computed the same way.

Prints a Markdown table (wall time, frames/s, peak RSS in MB, what is computed) and the throughput ratios, with
the load average before each tool. Not a test: run it by hand on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_dump(path: Path, natoms: int, nframes: int, seed: int = 1) -> None:
    """Random walkers (D = 0.01 Å^2/ps, 1 ps per frame) started on a cubic grid at ~0.09 atoms/Å^3."""
    rng = np.random.default_rng(seed)
    side = int(round(natoms ** (1 / 3)))
    spacing = 2.2
    length = side * spacing
    grid = np.array([[i, j, k] for i in range(side) for j in range(side) for k in range(side)], float)[:natoms]
    positions = (grid + 0.5) * spacing
    step_sd = np.sqrt(2 * 0.01 * 1.0)
    row = "%d Li %.5f %.5f %.5f\n"
    ids = np.arange(1, natoms + 1)
    with open(path, "w") as handle:
        for frame in range(nframes):
            header = (f"ITEM: TIMESTEP\n{frame * 500}\nITEM: NUMBER OF ATOMS\n{natoms}\n"
                      f"ITEM: BOX BOUNDS pp pp pp\n0 {length}\n0 {length}\n0 {length}\n"
                      "ITEM: ATOMS id element xu yu zu\n")
            table = np.column_stack([ids, positions])
            handle.write(header + (row * natoms) % tuple(table.ravel()))
            positions = positions + rng.normal(0, step_sd, positions.shape)


def run_ours(path: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from analysis.contacts import ContactCollector
    from analysis.msd import diffusion_from_trajectory, load_trajectory

    start = time.perf_counter()
    collector = ContactCollector(timestep_ps=0.002, threshold_A=1.0)
    trajectory = load_trajectory(path, timestep_ps=0.002, species="Li", on_frame=collector)
    result = diffusion_from_trajectory(trajectory, n_blocks=5)
    frames = collector.finish()
    wall_s = time.perf_counter() - start
    displacement = trajectory.displacement_A.astype(np.float64)
    msd0 = ((displacement - displacement[0]) ** 2).sum(axis=2).mean(axis=1)
    return {"tool": "ours (analysis.msd + analysis.contacts, one pass, 1 thread)", "wall_s": wall_s,
            "computes": "MSD over all time origins (FFT) + 5-block error; exact minimum distance per frame",
            "nframes": len(frames), "d_cm2_per_s": result.d_cm2_per_s, "d0_cm2_per_s": _d_single_origin(msd0),
            "contact_frames": sum(f.contact for f in frames),
            "min_distance_A": min(f.min_distance_A for f in frames),
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _d_single_origin(msd_A2: np.ndarray) -> float:
    """D (cm^2/s) from the MSD against frame 0 (1 ps per frame), fitted over the same window as ours."""
    nframes = len(msd_A2)
    lag = np.arange(nframes) * 1.0
    window = (lag >= 0.1 * nframes / 5) & (lag <= 0.5 * nframes / 5)
    return float(np.polyfit(lag[window], msd_A2[window], 1)[0]) / 6 * 1e-4


def run_ovito(path: Path, unwrap: bool = False) -> dict:
    from ovito.data import NearestNeighborFinder
    from ovito.io import import_file
    from ovito.modifiers import CalculateDisplacementsModifier, UnwrapTrajectoriesModifier

    start = time.perf_counter()
    pipeline = import_file(str(path))
    if unwrap:
        pipeline.modifiers.append(UnwrapTrajectoriesModifier())
    pipeline.modifiers.append(CalculateDisplacementsModifier(reference_frame=0))
    nframes = pipeline.source.num_frames
    msd = np.empty(nframes)
    contacts = 0
    d_min = np.inf
    for frame in range(nframes):
        data = pipeline.compute(frame)
        displacement = np.asarray(data.particles["Displacement"])
        msd[frame] = float((displacement**2).sum(axis=1).mean())
        _, vectors = NearestNeighborFinder(1, data).find_all()
        nearest = float(np.linalg.norm(np.asarray(vectors)[:, 0, :], axis=1).min())
        contacts += nearest <= 1.0
        d_min = min(d_min, nearest)
    name = "OVITO 3 (Unwrap -> CalculateDisplacements" if unwrap else "OVITO 3 (CalculateDisplacements"
    return {"tool": f"{name}, NearestNeighborFinder)", "wall_s": time.perf_counter() - start,
            "computes": "MSD from frame 0 only (one time origin); nearest neighbour distance per frame"
                        + (" (+ an unwrap pass over the file)" if unwrap else ""),
            "nframes": nframes, "d_cm2_per_s": None, "d0_cm2_per_s": _d_single_origin(msd),
            "contact_frames": contacts, "min_distance_A": d_min,
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_freud(path: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    import freud
    from analysis.dump import DumpReader

    start = time.perf_counter()
    positions = []
    contacts = 0
    d_min = np.inf
    box = None
    for frame in DumpReader(path, columns=["id", "xu", "yu", "zu"]):
        if box is None:
            box = freud.box.Box.from_matrix(frame.box.matrix.T)
        points = np.column_stack([frame.column("xu"), frame.column("yu"), frame.column("zu")])
        positions.append(points)
        wrapped = box.wrap(points)
        query = freud.locality.AABBQuery(box, wrapped).query(wrapped, {"num_neighbors": 1, "exclude_ii": True})
        nearest = float(query.toNeighborList().distances.min())
        contacts += nearest <= 1.0
        d_min = min(d_min, nearest)
    stacked = np.asarray(positions)
    msd = freud.msd.MSD(box, mode="window").compute(stacked).msd
    nframes = len(stacked)
    lag = np.arange(nframes) * 1.0
    window = (lag >= 0.1 * nframes / 5) & (lag <= 0.5 * nframes / 5)
    slope = np.polyfit(lag[window], msd[window], 1)[0]
    return {"tool": f"freud {freud.__version__} (MSD window mode, AABBQuery; frames read by our DumpReader)",
            "wall_s": time.perf_counter() - start,
            "computes": "MSD over all time origins (window mode, all frames in memory); nearest neighbour per frame",
            "nframes": nframes, "d_cm2_per_s": slope / 6 * 1e-4, "d0_cm2_per_s": None,
            "contact_frames": contacts, "min_distance_A": d_min,
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/harness-bench"))
    parser.add_argument("--ovito-unwrap", action="store_true",
                        help="also run OVITO with UnwrapTrajectoriesModifier (a needless pass on unwrapped data)")
    parser.add_argument("--run", choices=["ours", "ovito", "ovito-unwrap", "freud"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the dump file")
    args = parser.parse_args()
    if args.run:
        runners = {"ours": run_ours, "ovito": run_ovito, "ovito-unwrap": lambda p: run_ovito(p, unwrap=True),
                   "freud": run_freud}
        result = runners[args.run](args.path)
        print(json.dumps(result))
        return 0
    folder = args.dir.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench_{args.atoms}x{args.frames}.lammpstrj"
    start = time.perf_counter()
    write_dump(path, args.atoms, args.frames)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s", flush=True)
    rows = []
    loads = []
    for tool in ("ours", "ovito", *(["ovito-unwrap"] if args.ovito_unwrap else []), "freud"):
        loads.append(os.getloadavg()[0])
        done = subprocess.run([sys.executable, __file__, "--run", tool, "--path", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{tool} failed: {done.stderr.strip()[-800:]}")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print(f"\n{args.atoms} atoms x {args.frames} frames, {platform.node()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"1-min load average before each tool: {', '.join(f'{x:.1f}' for x in loads)}\n")
    print("| tool | computes | wall time (s) | frames/s | peak RSS (MB) | D, all origins (cm^2/s) | "
          "D, origin 0 (cm^2/s) | frames with d <= 1 Å | min d (Å) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        d_all = "-" if r["d_cm2_per_s"] is None else f"{r['d_cm2_per_s']:.3e}"
        d_0 = "-" if r["d0_cm2_per_s"] is None else f"{r['d0_cm2_per_s']:.3e}"
        print(f"| {r['tool']} | {r['computes']} | {r['wall_s']:.1f} | {r['nframes'] / r['wall_s']:.0f} | "
              f"{r['peak_rss_MB']:.0f} | {d_all} | {d_0} | {r['contact_frames']} | {r['min_distance_A']:.3f} |")
    print("\ntrue D of the walkers: 1.000e-06 cm^2/s")
    ours = next((r for r in rows if r["tool"].startswith("ours")), None)
    for other in rows:
        if ours is not None and other is not ours:
            ratio = (ours["nframes"] / ours["wall_s"]) / (other["nframes"] / other["wall_s"])
            print(f"\nthroughput ours / {other['tool']} = {ratio:.2f} (same file, same run of this script)")
    if not args.keep:
        path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
