"""Validate potentials/lips-snap.* and write potentials/fit/validation.json (numbers for the model card).

Parts (--parts, comma separated; default all):
  errors     force/energy errors vs CHGNet: the fit's held-out split (fit_summary.json) and, independently,
             the CHGNet melt-quench frames of inputs/reference (never used in the fit)
  nvt168     Li7P3S11 NVT at 800 K, 168 atoms (2x2x1), --seeds seeds of --nvt-ps ps: fraction of P with exactly
             4 S within 2.5 Å (over all frames, one every 0.5 ps), closest pair over frames, Li MSD
  nvt672     the same for 672 atoms (4x2x2), --seeds672 seeds of --nvt672-ps ps
  npt        168-atom Li7P3S11, NPT 300 K / 1 bar, 10 ps: density averaged over the last 5 ps
  diffusion  Li MSD at 600, 700 (168 atoms, 20 ps) and 800 K (the nvt runs): D from the slope of the last
             half of the MSD, Arrhenius Ea
  speed      SNAP (lmp, 1 and 2 MPI ranks) vs CHGNet (ASE MD, 2 torch threads) on the same 168-atom cell

Run: .venv-fit/bin/python potentials/fit/validate.py [--parts nvt168,npt] [--seeds 3] [--ranks 1]

Results are merged into validation.json as it is on disk when each result is written: separate invocations (for
example one 672-atom seed each) add to each other. NVT entries are keyed by (natoms, seed, duration_ps), so a
rerun replaces the entry with the same key and keeps the others (e.g. 5 ps and 20 ps runs of the same seed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from fit_snap import read_dump, run_lammps, write_lammps_data  # noqa: E402

COEFF = common.POTENTIALS_DIR / "lips-snap.snapcoeff"
PARAM = common.POTENTIALS_DIR / "lips-snap.snapparam"
OUT_JSON = common.FIT_DIR / "validation.json"
VDIR = common.WORK_DIR / "validate"
AMU_G = 1.66053906660e-24
P_S_CUTOFF_A = 2.5
MD_TIMEOUT_S = 7200.0
# MPI ranks of the MD runs (nvt168, nvt672, npt, diffusion); set by --ranks. The speed part picks its own.
md_ranks = 2


def nvt_key(entry: dict) -> tuple:
    return (entry["natoms"], entry["seed"], entry["duration_ps"])


def merged_nvt(entries: list[dict], new: dict) -> list[dict]:
    kept = [e for e in entries if nvt_key(e) != nvt_key(new)] + [new]
    return sorted(kept, key=lambda e: (e["natoms"], e["duration_ps"], e["seed"]))


def save(res: dict, key: str, value) -> None:
    """Store one result in `res` and in validation.json, re-reading the file first so that results written by
    other invocations since this one started are kept. For "nvt800", `value` is one entry to add or replace."""
    disk = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}
    for d in (res, disk):
        if key == "nvt800":
            d["nvt800"] = merged_nvt(d.get("nvt800", []), value)
        else:
            d[key] = value
    disk["snapcoeff_sha256"] = res["snapcoeff_sha256"]
    tmp = OUT_JSON.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(disk, indent=2) + "\n")
    os.replace(tmp, OUT_JSON)


def base_script(temperature_K: float, seed: int) -> list[str]:
    return (["units metal", "atom_style atomic", "boundary p p p", "box tilt large", "read_data data.lmp"]
            + common.potential_commands(COEFF, PARAM)
            + ["neighbor 1.0 bin", "timestep 0.001", "thermo 500",
               "thermo_style custom step temp pe press vol density",
               f"velocity all create {temperature_K} {seed} mom yes rot yes dist gaussian"])


def md_run(name: str, atoms, lines: list[str], nranks: int | None = None) -> tuple[Path, float, int]:
    """Run LAMMPS in VDIR/name on `nranks` MPI ranks (default: --ranks). A run past MD_TIMEOUT_S is killed and
    reported as rc 124; what it dumped until then is still analysed (completed_ps says how far it got)."""
    wd = VDIR / name
    wd.mkdir(parents=True, exist_ok=True)
    write_lammps_data(atoms, wd / "data.lmp")
    t0 = time.time()
    try:
        rc = run_lammps(wd, "\n".join(lines) + "\n", nranks=nranks or md_ranks, timeout_s=MD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        rc = 124
    return wd, time.time() - t0, rc


def p_coordination(frames: list) -> tuple[float, float]:
    """Fraction of P (over all frames) with exactly 4 S within 2.5 Å; closest pair distance over frames."""
    from ase.neighborlist import neighbor_list

    good = total = 0
    dmin = 10.0
    for f in frames:
        i, j, d = neighbor_list("ijd", f, P_S_CUTOFF_A)
        dmin = min(dmin, float(d.min()) if len(d) else 10.0)
        is_p = f.numbers == 15
        ps = (f.numbers[i] == 15) & (f.numbers[j] == 16)
        count = np.bincount(i[ps], minlength=len(f))
        good += int(np.sum(count[is_p] == 4))
        total += int(is_p.sum())
    return good / total, dmin


def read_msd(path: Path) -> np.ndarray:
    rows = [list(map(float, l.split())) for l in path.read_text().splitlines() if l and not l.startswith("#")]
    return np.array(rows)  # step, msd_total


def diffusion_cm2_s(msd: np.ndarray) -> float:
    t_ps = msd[:, 0] * 1e-3
    half = len(t_ps) // 2
    slope = np.polyfit(t_ps[half:], msd[half:, 1], 1)[0]  # Å^2/ps
    return slope / 6.0 * 1e-4  # Å^2/ps -> cm^2/s


def nvt_lines(temperature_K: float, seed: int, nsteps: int, dump_every: int) -> list[str]:
    return base_script(temperature_K, seed) + [
        f"fix md all nvt temp {temperature_K} {temperature_K} 0.1",
        "group li type 1", "compute msd li msd com yes",
        "fix msd all ave/time 100 1 100 c_msd[4] file msd.dat",
        f"dump d all custom {dump_every} dump.lammpstrj id type x y z", "dump_modify d sort id",
        f"run {nsteps}"]


def part_nvt(res: dict, reps: tuple[int, int, int], seeds: int, ps: float, first_seed: int = 1) -> None:
    cell = common.read_crystal("Li7P3S11")
    atoms = cell.repeat(reps)
    for seed in range(first_seed, first_seed + seeds):
        nsteps = int(round(ps * 1000))
        wd, wall_s, rc = md_run(f"nvt800_{len(atoms)}_s{seed}", atoms,
                                nvt_lines(800.0, 1000 + seed, nsteps, 500))
        frames = read_dump(wd / "dump.lammpstrj")
        frac4, dmin = p_coordination(frames)
        msd = read_msd(wd / "msd.dat")
        entry = {"natoms": len(atoms), "seed": seed, "duration_ps": ps, "rc": rc, "frames": len(frames),
                 "completed_ps": round((len(frames) - 1) * 0.5, 1),
                 "frac_P_4S": round(frac4, 4), "min_pair_A": round(dmin, 3),
                 "li_msd_final_A2": round(float(msd[-1, 1]), 2), "D_li_cm2_s": diffusion_cm2_s(msd),
                 "wall_s": round(wall_s, 1), "atom_steps_per_s": round(len(atoms) * nsteps / wall_s),
                 "mpi_ranks": md_ranks, "date": time.strftime("%Y-%m-%d"), "snapcoeff_sha256": res["snapcoeff_sha256"]}
        print("nvt800", entry, flush=True)
        save(res, "nvt800", entry)


def part_npt(res: dict) -> None:
    atoms = common.read_crystal("Li7P3S11").repeat((2, 2, 1))
    mass_g = sum(common.MASS_AMU[s] for s in atoms.get_chemical_symbols()) * AMU_G
    lines = base_script(300.0, 4242) + [
        "fix md all npt temp 300 300 0.1 tri 1.0 1.0 1.0", "variable vol equal vol",
        "fix vol all ave/time 100 1 100 v_vol file vol.dat", "run 10000"]
    wd, wall_s, rc = md_run("npt300_168", atoms, lines)
    vol = read_msd(wd / "vol.dat")
    v_last_A3 = float(vol[len(vol) // 2:, 1].mean())
    density = mass_g / (v_last_A3 * 1e-24)
    npt = {"natoms": len(atoms), "rc": rc, "duration_ps": 10.0, "volume_A3_last5ps": round(v_last_A3, 1),
                     "density_g_cm3": round(density, 4), "target_g_cm3": 1.87,
                     "rel_dev": round(density / 1.87 - 1, 4), "wall_s": round(wall_s, 1)}
    print("npt300", npt, flush=True)
    save(res, "npt300", npt)


def part_diffusion(res: dict, diff_ps: float) -> None:
    atoms = common.read_crystal("Li7P3S11").repeat((2, 2, 1))
    nsteps = int(round(diff_ps * 1000))
    points = []
    for temperature_K in [600.0, 700.0]:
        wd, wall_s, rc = md_run(f"diff{temperature_K:.0f}_168", atoms,
                                nvt_lines(temperature_K, 77, nsteps, nsteps // 10))
        msd = read_msd(wd / "msd.dat")
        frac4, dmin = p_coordination(read_dump(wd / "dump.lammpstrj"))
        points.append({"T_K": temperature_K, "D_cm2_s": diffusion_cm2_s(msd), "duration_ps": diff_ps,
                       "li_msd_final_A2": round(float(msd[-1, 1]), 2), "frac_P_4S": round(frac4, 4),
                       "min_pair_A": round(dmin, 3), "rc": rc})
        print("diffusion", points[-1], flush=True)
    runs800 = [e for e in res.get("nvt800", []) if e["natoms"] == 168]
    if runs800:
        points.append({"T_K": 800.0, "D_cm2_s": float(np.mean([e["D_li_cm2_s"] for e in runs800])),
                       "duration_ps": runs800[0]["duration_ps"],
                       "note": f"mean of the {len(runs800)} 168-atom NVT 800 K runs"})
    t = np.array([p["T_K"] for p in points])
    d = np.array([p["D_cm2_s"] for p in points])
    ok = d > 0
    slope = np.polyfit(1.0 / t[ok], np.log(d[ok]), 1)[0] if ok.sum() >= 2 else float("nan")
    diffusion = {"points": points, "Ea_eV": round(-slope * common_kb(), 4)}
    print("Ea", diffusion["Ea_eV"], flush=True)
    save(res, "diffusion", diffusion)


def common_kb() -> float:
    return 8.617333262e-5


def snap_speed(atoms, nranks: int, nsteps: int) -> float:
    lines = base_script(800.0, 5) + ["fix md all nve", f"run {nsteps}"]
    wd, _, _ = md_run(f"speed_np{nranks}", atoms, lines, nranks=nranks)
    loop_s = [float(l.split()[3]) for l in (wd / "log.lammps").read_text().splitlines()
              if l.startswith("Loop time of")][-1]
    return len(atoms) * nsteps / loop_s


def chgnet_speed(atoms, n_threads: int, nsteps: int) -> float:
    import torch
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    torch.set_num_threads(n_threads)
    a = atoms.copy()
    a.calc = common.chgnet_calculator()
    MaxwellBoltzmannDistribution(a, temperature_K=800.0, rng=np.random.default_rng(5))
    dyn = VelocityVerlet(a, 1.0 * units.fs)
    dyn.run(2)  # warm-up
    t0 = time.time()
    dyn.run(nsteps)
    return len(atoms) * nsteps / (time.time() - t0)


def part_speed(res: dict) -> None:
    """Interleaved: SNAP (lmp, 1 and 2 MPI ranks) and CHGNet (ASE velocity Verlet, 1 and 2 torch threads),
    168-atom Li7P3S11 at 800 K, same CPU, with the load average recorded (the machine is shared)."""
    atoms = common.read_crystal("Li7P3S11").repeat((2, 2, 1))
    common.setup_threads(2)
    speed: dict = {"natoms": len(atoms), "loadavg_1min_before": round(os.getloadavg()[0], 2)}
    speed["snap_1rank_atom_steps_per_s"] = round(snap_speed(atoms, 1, 1000))
    speed["chgnet_1thread_atom_steps_per_s"] = round(chgnet_speed(atoms, 1, 10))
    speed["snap_2rank_atom_steps_per_s"] = round(snap_speed(atoms, 2, 1000))
    speed["chgnet_2threads_atom_steps_per_s"] = round(chgnet_speed(atoms, 2, 10))
    speed["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    speed["speedup_1core"] = round(speed["snap_1rank_atom_steps_per_s"] / speed["chgnet_1thread_atom_steps_per_s"], 1)
    speed["speedup_2cores"] = round(speed["snap_2rank_atom_steps_per_s"] / speed["chgnet_2threads_atom_steps_per_s"], 1)
    print("speed", speed, flush=True)
    save(res, "speed", speed)


def part_errors(res: dict) -> None:
    summary = json.loads((common.FIT_DIR / "fit_summary.json").read_text())
    save(res, "errors_heldout_split", summary["test_errors"])
    ref = common.REPO_DIR / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz"
    if not ref.exists():
        return
    from ase.io import read

    frames = read(ref, index=":")
    lmp = common.new_lammps()
    de, df = [], []
    for f in frames:
        lmp.command("clear")
        m = common.load_atoms_into_lammps(lmp, f.numbers, f.positions, np.array(f.cell[:]))
        lmp.commands_list(common.potential_commands(COEFF, PARAM) + ["run 0"])
        e = lmp.get_thermo("pe")
        forces = np.array(lmp.numpy.extract_atom("f")[:len(f)]) @ m.T  # back to the extxyz frame
        de.append((e - f.get_potential_energy()) / len(f))  # ASE keeps energy/forces in a calculator
        df.append(forces - f.get_forces())
    de_arr, df_arr = np.array(de), np.concatenate(df)
    errors = {
        "n_frames": len(frames), "energy_rmse_meV_per_atom": round(float(np.sqrt(np.mean(de_arr ** 2)) * 1e3), 2),
        "energy_mean_error_meV_per_atom": round(float(de_arr.mean() * 1e3), 2),
        "force_rmse_eV_per_A": round(float(np.sqrt(np.mean(df_arr ** 2))), 4),
        "chgnet_force_rms_eV_per_A": round(float(np.sqrt(np.mean(np.concatenate([f.get_forces() for f in frames]) ** 2))), 3)}
    print("errors", errors, flush=True)
    save(res, "errors_meltquench_reference", errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="errors,nvt168,npt,diffusion,speed,nvt672")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nvt-ps", type=float, default=20.0)
    parser.add_argument("--nvt672-ps", type=float, default=20.0)
    parser.add_argument("--seeds672", type=int, default=3)
    parser.add_argument("--first-seed672", type=int, default=1)
    parser.add_argument("--diff-ps", type=float, default=20.0)
    parser.add_argument("--ranks", type=int, default=2,
                        help="MPI ranks of the MD runs (nvt168, nvt672, npt, diffusion); default 2")
    args = parser.parse_args()
    global md_ranks
    md_ranks = args.ranks
    VDIR.mkdir(parents=True, exist_ok=True)
    res = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}
    res["snapcoeff_sha256"] = common.sha256_of(COEFF)
    parts = args.parts.split(",")
    if "errors" in parts:
        part_errors(res)
    if "nvt168" in parts:
        part_nvt(res, (2, 2, 1), args.seeds, args.nvt_ps)
    if "npt" in parts:
        part_npt(res)
    if "diffusion" in parts:
        part_diffusion(res, args.diff_ps)
    if "speed" in parts:
        part_speed(res)
    if "nvt672" in parts:
        part_nvt(res, (4, 2, 2), args.seeds672, args.nvt672_ps, args.first_seed672)


if __name__ == "__main__":
    main()
