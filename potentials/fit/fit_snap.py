"""Fit lips-snap (quadratic SNAP 2J=6 + ZBL overlay) to CHGNet labels, with active-learning rounds.

Steps (each cached under potentials/fit/work/):
  1. descriptors of every labelled group (work/data_*.npz from generate_data.py, work/data_al*.npz from AL)
     accumulated as weighted normal equations per group; 10 % of the configurations of each group (seeded) are
     held out and kept as design matrices for the test errors
  2. ridge fit (columns scaled to unit norm, lambda chosen on the held-out set)
  3. active learning, --al-rounds times: MD with the current fit (lmp on 2 MPI ranks) of 168-atom Li7P3S11 at
     600/900/1200 K (NVT) and 600 K/1 bar (NPT), plus an 84-atom random Li7P3S11 cell at 1000 K; ~60 frames
     relabelled with CHGNet (group al<k>), refit
  4. export potentials/lips-snap.snapcoeff/.snapparam and the sha256 lines of lips-snap.toml

Run (after generate_data.py):  .venv-fit/bin/python potentials/fit/fit_snap.py --al-rounds 3 --export
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
import descriptors as desc  # noqa: E402

SEED = 20250723
TEST_FRACTION = 0.1
# row weights: energy rows are per atom (eV/atom), virial rows per atom (eV/atom), force rows eV/Å
ENERGY_WEIGHTS = [100.0, 300.0, 1000.0]
VIRIAL_WEIGHTS = [10.0, 30.0]
FORCE_SCALE_EV_PER_A = 2.0  # configurations whose force RMS exceeds this are down-weighted (w = scale / rms)
GROUP_WEIGHT = {"crystal": 1.0, "md": 1.0, "random": 0.5, "composition": 1.0}
LAMBDAS = [1e-8, 1e-7, 1e-6, 1e-5]
N_AL_FRAMES = 60


def config_force_weight(forces: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(forces ** 2)))
    return min(1.0, FORCE_SCALE_EV_PER_A / max(rms, 1e-9))


def accumulate_group(group: str, sd: desc.SnapDescriptors) -> dict:
    """Normal equations of the training part and matrices of the held-out part of one group (cached)."""
    cache = common.WORK_DIR / f"normal_{group}.npz"
    data_path = common.WORK_DIR / f"data_{group}.npz"
    if cache.exists() and cache.stat().st_mtime > data_path.stat().st_mtime:
        d = np.load(cache, allow_pickle=True)
        return {k: d[k] for k in d.files}
    configs = common.load_configs(data_path)
    rng = np.random.default_rng(SEED + sum(map(ord, group)))
    is_test = rng.random(len(configs)) < TEST_FRACTION
    ncol = desc.n_columns()
    out = {f"{kind}_{part}": np.zeros((ncol, ncol)) for kind in "efv" for part in ["gram"]}
    out.update({f"{kind}_rhs": np.zeros(ncol) for kind in "efv"})
    out.update({f"{kind}_yy": np.zeros(1) for kind in "efv"})
    out.update({f"{kind}_n": np.zeros(1) for kind in "efv"})
    test_e_a, test_e_y, test_f_a, test_f_y, test_v_a, test_v_y = [], [], [], [], [], []
    t0 = time.time()
    for ic, c in enumerate(configs):
        d = sd.compute(c.numbers, c.positions_A, c.cell_A)
        f_lab, sig = desc.rotate_labels(c.forces_eV_per_A, c.stress_eV_per_A3, d["rotation"])
        n = c.natoms
        e_row = d["a_energy"] / n
        e_y = (c.energy_eV - d["ref_energy_eV"]) / n
        f_rows = d["a_force"]
        f_y = f_lab.flatten() - d["ref_force"]
        v_rows = d["a_virial"] / n
        v_y = (-sig * d["volume_A3"] - d["ref_virial_eV"]) / n
        if is_test[ic]:
            test_e_a.append(e_row)
            test_e_y.append(e_y)
            test_f_a.append(f_rows.astype(np.float32))
            test_f_y.append(f_y)
            test_v_a.append(d["a_virial"] / d["volume_A3"])  # rows give pressure-like eV/Å^3
            test_v_y.append((-sig * d["volume_A3"] - d["ref_virial_eV"]) / d["volume_A3"])
            continue
        wf = config_force_weight(c.forces_eV_per_A)
        out["e_gram"] += np.outer(e_row, e_row)
        out["e_rhs"] += e_row * e_y
        out["e_yy"] += e_y * e_y
        out["e_n"] += 1
        out["f_gram"] += wf ** 2 * (f_rows.T @ f_rows)
        out["f_rhs"] += wf ** 2 * (f_rows.T @ f_y)
        out["f_yy"] += wf ** 2 * (f_y @ f_y)
        out["f_n"] += len(f_y) * wf ** 2
        out["v_gram"] += v_rows.T @ v_rows
        out["v_rhs"] += v_rows.T @ v_y
        out["v_yy"] += v_y @ v_y
        out["v_n"] += 6
    out["test_e_a"] = np.array(test_e_a).reshape(-1, ncol)
    out["test_e_y"] = np.array(test_e_y)
    out["test_f_a"] = np.concatenate(test_f_a) if test_f_a else np.zeros((0, ncol), np.float32)
    out["test_f_y"] = np.concatenate(test_f_y) if test_f_y else np.zeros(0)
    out["test_v_a"] = np.concatenate(test_v_a) if test_v_a else np.zeros((0, ncol))
    out["test_v_y"] = np.concatenate(test_v_y) if test_v_y else np.zeros(0)
    np.savez(cache, **out)
    print(f"  descriptors {group}: {len(configs)} configurations ({int(is_test.sum())} held out), "
          f"{time.time() - t0:.0f} s", flush=True)
    return out


def solve(groups: dict[str, dict], weights: dict[str, float], lam: float, energy_weight: float,
          virial_weight: float) -> np.ndarray:
    ncol = desc.n_columns()
    g = np.zeros((ncol, ncol))
    b = np.zeros(ncol)
    for name, d in groups.items():
        w = weights.get(name, 1.0)
        g += w * (d["f_gram"] + energy_weight ** 2 * d["e_gram"] + virial_weight ** 2 * d["v_gram"])
        b += w * (d["f_rhs"] + energy_weight ** 2 * d["e_rhs"] + virial_weight ** 2 * d["v_rhs"])
    scale = np.sqrt(np.diag(g))
    scale[scale == 0] = 1.0
    gs = g / np.outer(scale, scale)
    bs = b / scale
    from scipy.linalg import solve as lin_solve

    beta_scaled = lin_solve(gs + lam * np.eye(ncol), bs, assume_a="pos")
    return beta_scaled / scale


def test_errors(groups: dict[str, dict], beta: np.ndarray) -> dict:
    """RMSE on the held-out configurations: energy meV/atom, force eV/Å (components), per group and all."""
    res: dict[str, dict] = {}
    all_e, all_f, all_v = [], [], []
    for name, d in groups.items():
        if len(d["test_e_y"]) == 0:
            continue
        de = d["test_e_a"] @ beta - d["test_e_y"]
        df = d["test_f_a"].astype(float) @ beta - d["test_f_y"]
        dv = (d["test_v_a"] @ beta - d["test_v_y"]) * 160.21766208  # GPa
        res[name] = {"n_configs": int(len(de)), "energy_rmse_meV_per_atom": float(np.sqrt(np.mean(de ** 2)) * 1e3),
                     "force_rmse_eV_per_A": float(np.sqrt(np.mean(df ** 2))),
                     "stress_rmse_GPa": float(np.sqrt(np.mean(dv ** 2)))}
        all_e.append(de)
        all_f.append(df)
        all_v.append(dv)
    e = np.concatenate(all_e)
    f = np.concatenate(all_f)
    v = np.concatenate(all_v)
    res["all"] = {"n_configs": int(len(e)), "energy_rmse_meV_per_atom": float(np.sqrt(np.mean(e ** 2)) * 1e3),
                  "force_rmse_eV_per_A": float(np.sqrt(np.mean(f ** 2))),
                  "stress_rmse_GPa": float(np.sqrt(np.mean(v ** 2)))}
    return res


def score(errors: dict) -> float:
    # held-out RMSEs relative to the probe's level: 0.3 eV/Å, 8 meV/atom, 1 GPa
    a = errors["all"]
    return a["force_rmse_eV_per_A"] / 0.3 + a["energy_rmse_meV_per_atom"] / 8.0 + a["stress_rmse_GPa"] / 1.0


def fit(groups: dict[str, dict]) -> tuple[np.ndarray, dict]:
    weights = dict(GROUP_WEIGHT)
    best = None
    for ew in ENERGY_WEIGHTS:
        for vw in VIRIAL_WEIGHTS:
            for lam in LAMBDAS:
                try:
                    beta = solve(groups, weights, lam, ew, vw)
                except Exception as exc:  # ill-conditioned at tiny lambda
                    print(f"  lambda {lam:g}: {exc}")
                    continue
                err = test_errors(groups, beta)
                a = err["all"]
                print(f"  wE {ew:g} wV {vw:g} lambda {lam:g}: test E {a['energy_rmse_meV_per_atom']:.2f} meV/atom, "
                      f"F {a['force_rmse_eV_per_A']:.3f} eV/Å, stress {a['stress_rmse_GPa']:.2f} GPa", flush=True)
                if best is None or score(err) < score(best[1]):
                    best = (beta, err, {"lambda": lam, "energy_weight": ew, "virial_weight": vw})
    assert best is not None
    beta, err, hyper = best
    err["hyper"] = hyper
    print(f"  chosen {hyper}: {json.dumps(err['all'])}", flush=True)
    return beta, err


def write_potential(beta: np.ndarray, directory: Path, stem: str, header: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    nd1 = desc.n_descriptors() + 1
    coeff = directory / f"{stem}.snapcoeff"
    param = directory / f"{stem}.snapparam"
    common.write_snapcoeff(coeff, {e: beta[t * nd1:(t + 1) * nd1] for t, e in enumerate(common.ELEMENTS)}, header)
    common.write_snapparam(param)
    return coeff, param


# --------------------------------------------------------------------------- LAMMPS runs (subprocess)
def write_lammps_data(atoms, path: Path) -> None:
    lcell, m = common.lammps_frame(np.array(atoms.cell[:]))
    frac = np.linalg.solve(lcell.T, (atoms.positions @ m).T).T % 1.0
    x = frac @ lcell
    type_of = {common.Z_OF[e]: t + 1 for t, e in enumerate(common.ELEMENTS)}
    (ax, _, _), (bx, by, _), (cx, cy, cz) = lcell
    lines = ["lips-snap fit", "", f"{len(atoms)} atoms", f"{len(common.ELEMENTS)} atom types", "",
             f"0 {ax:.10f} xlo xhi", f"0 {by:.10f} ylo yhi", f"0 {cz:.10f} zlo zhi",
             f"{bx:.10f} {cx:.10f} {cy:.10f} xy xz yz", "", "Masses", ""]
    lines += [f"{t + 1} {common.MASS_AMU[e]}" for t, e in enumerate(common.ELEMENTS)]
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i + 1} {type_of[int(z)]} {p[0]:.8f} {p[1]:.8f} {p[2]:.8f}" for i, (z, p) in
              enumerate(zip(atoms.numbers, x))]
    path.write_text("\n".join(lines) + "\n")


def read_dump(path: Path) -> list:
    """Frames of a `dump custom id type x y z` file (triclinic or orthogonal) as ASE Atoms."""
    from ase import Atoms

    frames = []
    if not path.exists():
        return frames
    lines = path.read_text().splitlines()
    i = 0
    symbols_of = {t + 1: e for t, e in enumerate(common.ELEMENTS)}
    while i < len(lines):
        if not lines[i].startswith("ITEM: TIMESTEP"):
            i += 1
            continue
        try:
            n = int(lines[i + 3])
            header = lines[i + 4]
            b = [list(map(float, lines[i + 5 + k].split())) for k in range(3)]
            if "xy" in header:
                (xlob, xhib, xy), (ylob, yhib, xz), (zlo, zhi, yz) = b
            else:
                (xlob, xhib), (ylob, yhib), (zlo, zhi) = b
                xy = xz = yz = 0.0
            xlo = xlob - min(0.0, xy, xz, xy + xz)
            xhi = xhib - max(0.0, xy, xz, xy + xz)
            ylo = ylob - min(0.0, yz)
            yhi = yhib - max(0.0, yz)
            cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
            rows = np.array([list(map(float, lines[i + 9 + k].split()[:5])) for k in range(n)])
        except (IndexError, ValueError):
            break  # truncated last frame of a crashed run
        rows = rows[np.argsort(rows[:, 0])]
        pos = rows[:, 2:5] - np.array([xlo, ylo, zlo])
        frames.append(Atoms([symbols_of[int(t)] for t in rows[:, 1]], positions=pos, cell=cell, pbc=True))
        i += 9 + n
    return frames


def lammps_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMI_")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_lammps(workdir: Path, script: str, nranks: int = 2, timeout_s: float = 900.0) -> int:
    (workdir / "in.lammps").write_text(script)
    bindir = Path(sys.prefix) / "bin"
    cmd = [str(bindir / "mpirun"), "-np", str(nranks), str(bindir / "lmp"), "-in", "in.lammps", "-screen", "none"]
    proc = subprocess.run(cmd, cwd=workdir, env=lammps_env(), timeout=timeout_s)
    return proc.returncode


def md_script(coeff: Path, param: Path, temperature_K: float, nsteps: int, dump_every: int, seed: int,
              ensemble: str) -> str:
    lines = ["units metal", "atom_style atomic", "boundary p p p", "box tilt large", "read_data data.lmp"]
    lines += common.potential_commands(coeff, param)
    lines += ["neighbor 1.0 bin", "timestep 0.001", "thermo 200", "thermo_style custom step temp pe press vol",
              f"velocity all create {temperature_K} {seed} mom yes rot yes dist gaussian"]
    if ensemble == "nvt":
        lines.append(f"fix md all nvt temp {temperature_K} {temperature_K} 0.1")
    else:
        lines.append(f"fix md all npt temp {temperature_K} {temperature_K} 0.1 tri 1.0 1.0 1.0")
    lines += [f"dump d all custom {dump_every} dump.lammpstrj id type x y z", "dump_modify d sort id",
              f"run {nsteps}"]
    return "\n".join(lines) + "\n"


def active_learning_round(k: int, coeff: Path, param: Path, labeller, nsteps: int) -> None:
    from generate_data import hard_sphere_cell

    rng = np.random.default_rng(SEED + 100 * k)
    base168 = common.read_crystal("Li7P3S11").repeat((2, 2, 1))
    runs = [("nvt600", base168, 600.0, "nvt"), ("nvt900", base168, 900.0, "nvt"),
            ("nvt1200", base168, 1200.0, "nvt"), ("npt600", base168, 600.0, "npt"),
            ("random1000", hard_sphere_cell(["Li"] * 28 + ["P"] * 12 + ["S"] * 44, 1.8, rng), 1000.0, "nvt")]
    frames: list = []
    for name, atoms, temperature_K, ensemble in runs:
        wd = common.WORK_DIR / f"al{k}" / name
        wd.mkdir(parents=True, exist_ok=True)
        write_lammps_data(atoms, wd / "data.lmp")
        t0 = time.time()
        rc = run_lammps(wd, md_script(coeff.resolve(), param.resolve(), temperature_K, nsteps, nsteps // 20,
                                      int(rng.integers(1, 10 ** 6)), ensemble))
        got = read_dump(wd / "dump.lammpstrj")[1:]
        dmins = [common.min_pair_distance_A(f) for f in got]
        print(f"  al{k} {name}: rc {rc}, {len(got)} frames, min distance "
              f"{min(dmins) if dmins else float('nan'):.2f} Å, {time.time() - t0:.0f} s", flush=True)
        # frames of collapsed or crashed runs are kept (CHGNet labels teach the repulsion), except pairs < 0.7 Å
        frames += [f for f, dm in zip(got, dmins) if dm > 0.7]
    n_take = min(N_AL_FRAMES, len(frames))
    idx = np.sort(rng.choice(len(frames), n_take, replace=False))
    chosen = [frames[i] for i in idx]
    t0 = time.time()
    configs = labeller.label(chosen, f"al{k}", batch_size=4)
    common.save_configs(configs, common.WORK_DIR / f"data_al{k}.npz")
    print(f"  al{k}: labelled {len(configs)} frames with CHGNet, {time.time() - t0:.0f} s", flush=True)


def write_toml(coeff: Path, param: Path) -> Path:
    pair_coeff = [f'"{l}"' for l in common.zbl_pair_coeffs()]
    pair_coeff.append('"* * snap {{ files.coeff }} {{ files.param }} {{ elements }}"')
    masses = "\n".join(f"{e} = {common.MASS_AMU[e]}" for e in common.ELEMENTS)
    text = f"""name = "lips-snap"
description = "Quadratic SNAP (2J=6, 5 A cutoff) + ZBL for Li-P-S, distilled from CHGNet 0.3.0; demo/test potential, not DFT accuracy (see lips-snap.md)"
elements = ["Li", "P", "S"]
pair_style = "hybrid/overlay zbl {common.ZBL_INNER_A} {common.ZBL_OUTER_A} snap"
pair_coeff = [
    {(","+chr(10)+"    ").join(pair_coeff)},
]
commands = []
packages = ["ML-SNAP"]
timestep_fs = 1.0

[masses]
{masses}

[files.coeff]
path = "{coeff.name}"
sha256 = "{common.sha256_of(coeff)}"

[files.param]
path = "{param.name}"
sha256 = "{common.sha256_of(param)}"

[accelerator.kokkos]
args = ["-k", "on", "g", "1", "-sf", "kk", "-pk", "kokkos", "newton", "on", "neigh", "half"]
"""
    out = common.POTENTIALS_DIR / "lips-snap.toml"
    out.write_text(text)
    return out


def export(beta: np.ndarray, err: dict, groups: dict) -> None:
    coeff, param = write_potential(beta, common.POTENTIALS_DIR, "lips-snap",
                                   "lips-snap: quadratic SNAP 2J=6 fitted to CHGNet 0.3.0 (potentials/fit/fit_snap.py)")
    write_toml(coeff, param)
    summary = {"test_errors": err, "groups": {k: {"train_configs": int(v["e_n"][0]),
                                                  "test_configs": int(len(v["test_e_y"]))} for k, v in groups.items()},
               "snapcoeff_sha256": common.sha256_of(coeff), "snapparam_sha256": common.sha256_of(param)}
    (common.FIT_DIR / "fit_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--al-rounds", type=int, default=3)
    parser.add_argument("--al-steps", type=int, default=5000, help="MD steps (1 fs) per AL run")
    parser.add_argument("--export", action="store_true", help="write potentials/lips-snap.* at the end")
    args = parser.parse_args()
    common.setup_threads(2)
    t_start = time.time()
    sd = desc.SnapDescriptors()
    base_groups = ["crystal", "md", "random", "composition"]
    groups = {g: accumulate_group(g, sd) for g in base_groups}
    k = 1
    while (common.WORK_DIR / f"data_al{k}.npz").exists() and k <= args.al_rounds:
        groups[f"al{k}"] = accumulate_group(f"al{k}", sd)
        k += 1
    beta, err = fit(groups)
    print(f"fit with {list(groups)}: {json.dumps(err['all'])}", flush=True)
    labeller = None
    while k <= args.al_rounds:
        if labeller is None:
            labeller = common.ChgnetLabeller()
        coeff, param = write_potential(beta, common.WORK_DIR / f"al{k}", "fit", f"AL round {k} input")
        active_learning_round(k, coeff, param, labeller, args.al_steps)
        groups[f"al{k}"] = accumulate_group(f"al{k}", sd)
        beta, err = fit(groups)
        print(f"fit with {list(groups)}: {json.dumps(err['all'])}  [{time.time() - t_start:.0f} s]", flush=True)
        k += 1
    if args.export:
        export(beta, err, groups)


if __name__ == "__main__":
    main()
