"""Training configurations for lips-snap, labelled with CHGNet 0.3.0 (energies, forces, stresses).

Groups (all seeded):
  crystal     rattled (0.02-0.15 Å) and strained (isotropic ±6 %, shear ±2 %) copies of the library crystals
  md          CHGNet Langevin MD of an 84-atom Li7P3S11 cell at 300, 600, 1000, 1500, 2000 K (1/3 of the frames
              also isotropically strained by ±3 % before labelling, for the equation of state)
  random      random hard-sphere cells of Li7P3S11 composition (42 atoms, 1.6-2.0 g/cm^3) and frames of a short
              CHGNet MD at 1500 K started from them
  composition cells along Li2S-P2S5 (Li4P2S7, Li3PS4, Li8P2S9, Li7PS6) packed from PS4 / P2S7 units cut out of the
              shipped crystals plus S2- and Li+, and frames of a short CHGNet MD at 800 K

Writes potentials/fit/work/data_<group>.npz. Run: .venv-fit/bin/python potentials/fit/generate_data.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SEED = 20250722


def strained(atoms, rng: np.random.Generator, iso_max: float, shear_max: float):
    a = atoms.copy()
    eps = np.eye(3) * (1.0 + rng.uniform(-iso_max, iso_max))
    shear = rng.uniform(-shear_max, shear_max, size=(3, 3))
    eps = eps + 0.5 * (shear + shear.T) * (1 - np.eye(3))
    a.set_cell(a.cell[:] @ eps, scale_atoms=True)
    return a


def crystal_configs(rng: np.random.Generator, n_per_crystal: int) -> list:
    out = []
    supercells = {"Li7P3S11": (1, 1, 1), "beta-Li3PS4": (1, 1, 1), "gamma-Li3PS4": (1, 1, 2), "Li2S": (2, 2, 2)}
    for name, rep in supercells.items():
        base = common.read_crystal(name).repeat(rep)
        out.append(base.copy())
        for _ in range(n_per_crystal):
            a = strained(base, rng, 0.06, 0.02)
            a.positions += rng.normal(0.0, rng.uniform(0.02, 0.15), size=a.positions.shape)
            out.append(a)
    return out


def run_chgnet_md(atoms, calc, temperature_K: float, nsteps: int, timestep_fs: float, every: int,
                  rng: np.random.Generator) -> list:
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    a = atoms.copy()
    a.calc = calc
    MaxwellBoltzmannDistribution(a, temperature_K=temperature_K, rng=rng)
    dyn = Langevin(a, timestep_fs * units.fs, temperature_K=temperature_K, friction=0.02 / units.fs,
                   rng=rng)
    frames = []
    for _ in range(nsteps // every):
        dyn.run(every)
        f = a.copy()
        f.calc = None
        frames.append(f)
    return frames


def md_configs(rng: np.random.Generator, calc, nsteps: int) -> list:
    base = common.read_crystal("Li7P3S11").repeat((2, 1, 1))
    out = []
    for temperature_K in [300.0, 600.0, 1000.0, 1500.0, 2000.0]:
        t0 = time.time()
        dt_fs = 2.0 if temperature_K <= 1000 else 1.0
        frames = run_chgnet_md(base, calc, temperature_K, nsteps, dt_fs, 20, rng)
        for f in frames:
            out.append(strained(f, rng, 0.03, 0.0) if rng.random() < 1 / 3 else f)
        print(f"  md {temperature_K:.0f} K: {len(frames)} frames, {time.time() - t0:.0f} s", flush=True)
    return out


def hard_sphere_cell(symbols: list[str], density_g_cm3: float, rng: np.random.Generator,
                     fragments: list | None = None):
    """Random cubic cell; fragments (ASE Atoms, centred) are placed first with random orientation."""
    from ase import Atoms
    from scipy.spatial.transform import Rotation

    dmin_A = {"Li": 1.9, "P": 2.2, "S": 1.9}
    all_symbols = list(symbols) + [s for frag in (fragments or []) for s in frag.get_chemical_symbols()]
    mass_g = sum(common.MASS_AMU[s] for s in all_symbols) / 6.02214076e23
    length_A = (mass_g / density_g_cm3 * 1e24) ** (1 / 3)
    cell = np.eye(3) * length_A
    pos: list[np.ndarray] = []
    sym: list[str] = []

    def fits(x: np.ndarray, s: str, extra: float = 0.0) -> bool:
        if not pos:
            return True
        d = np.array(pos) - x
        d -= np.round(d / length_A) * length_A
        r = np.linalg.norm(d, axis=1)
        need = np.array([max(dmin_A[s], dmin_A[t]) + extra for t in sym])
        return bool(np.all(r > need))

    for frag in fragments or []:
        for _ in range(50000):
            rot = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
            xs = frag.positions @ rot.T + rng.uniform(0, length_A, 3)
            if all(fits(x, s, 0.4) for x, s in zip(xs, frag.get_chemical_symbols())):
                pos.extend(xs)
                sym.extend(frag.get_chemical_symbols())
                break
        else:
            raise RuntimeError("could not place fragment")
    for s in symbols:
        for _ in range(20000):
            x = rng.uniform(0, length_A, 3)
            if fits(x, s):
                pos.append(x)
                sym.append(s)
                break
        else:
            raise RuntimeError("could not place atom")
    return Atoms(sym, positions=np.array(pos), cell=cell, pbc=True)


def cut_fragment(atoms, p_indices: list[int]):
    """P atoms and all S within 2.4 Å of them, unwrapped, centred at the origin."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    i_list, j_list, d_vec = neighbor_list("ijD", atoms, 2.4)
    p0 = atoms.positions[p_indices[0]]
    sym, pos = ["P"], [np.zeros(3)]
    p_pos = {p_indices[0]: np.zeros(3)}
    for p in p_indices[1:]:
        # find a bridging S from p0 to p to unwrap p
        for i, j, d in zip(i_list, j_list, d_vec):
            if i == p_indices[0] and atoms.numbers[j] == 16:
                for i2, j2, d2 in zip(i_list, j_list, d_vec):
                    if i2 == j and j2 == p:
                        p_pos[p] = d + d2
        sym.append("P")
        pos.append(p_pos[p])
    s_seen: list[np.ndarray] = []
    for p, origin in p_pos.items():
        for i, j, d in zip(i_list, j_list, d_vec):
            if i == p and atoms.numbers[j] == 16:
                x = origin + d
                if all(np.linalg.norm(x - y) > 0.5 for y in s_seen):
                    s_seen.append(x)
    sym += ["S"] * len(s_seen)
    pos += s_seen
    pos_arr = np.array(pos)
    _ = p0
    return Atoms(sym, positions=pos_arr - pos_arr.mean(axis=0))


def fragments_from_library():
    from ase.neighborlist import neighbor_list

    beta = common.read_crystal("beta-Li3PS4")
    p = [i for i, z in enumerate(beta.numbers) if z == 15][0]
    ps4 = cut_fragment(beta, [p])
    li7 = common.read_crystal("Li7P3S11")
    i_list, j_list = neighbor_list("ij", li7, 2.4)
    p2s7 = None
    for s in [k for k, z in enumerate(li7.numbers) if z == 16]:
        ps = [j for i, j in zip(i_list, j_list) if i == s and li7.numbers[j] == 15]
        if len(ps) == 2:
            p2s7 = cut_fragment(li7, ps)
            break
    assert ps4.get_chemical_formula() == "PS4", ps4.get_chemical_formula()
    assert p2s7 is not None and p2s7.get_chemical_formula() == "P2S7", p2s7
    return ps4, p2s7


def composition_cells(rng: np.random.Generator) -> list:
    ps4, p2s7 = fragments_from_library()
    # (name, fragments, free S2-, Li): charge balanced, x Li2S
    recipes = [("Li4P2S7", [p2s7] * 3, 0, 12), ("Li3PS4", [ps4] * 3, 0, 9),
               ("Li8P2S9", [ps4] * 4, 2, 16), ("Li7PS6", [ps4] * 3, 6, 21)]
    out = []
    for name, frags, n_s, n_li in recipes:
        for _ in range(2):
            density = rng.uniform(1.75, 1.95)
            out.append((name, hard_sphere_cell(["S"] * n_s + ["Li"] * n_li, density, rng, list(frags))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", default="crystal,md,random,composition")
    parser.add_argument("--n-per-crystal", type=int, default=40)
    parser.add_argument("--md-steps", type=int, default=400)
    args = parser.parse_args()
    common.setup_threads(2)
    common.WORK_DIR.mkdir(exist_ok=True)
    labeller = common.ChgnetLabeller()
    calc = common.chgnet_calculator()
    groups = args.groups.split(",")
    for gi, group in enumerate(["crystal", "md", "random", "composition"]):
        if group not in groups:
            continue
        rng = np.random.default_rng(SEED + gi)
        t0 = time.time()
        if group == "crystal":
            atoms_list = crystal_configs(rng, args.n_per_crystal)
        elif group == "md":
            atoms_list = md_configs(rng, calc, args.md_steps)
        elif group == "random":
            atoms_list = []
            li7p3s11 = ["Li"] * 14 + ["P"] * 6 + ["S"] * 22
            for k in range(8):
                cell = hard_sphere_cell(li7p3s11, rng.uniform(1.6, 2.0), rng)
                atoms_list.append(cell)
                atoms_list += run_chgnet_md(cell, calc, 1500.0, 150, 1.0, 30, rng)
        else:
            atoms_list = []
            for name, cell in composition_cells(rng):
                atoms_list.append(cell)
                atoms_list += run_chgnet_md(cell, calc, 800.0, 200, 2.0, 40, rng)
        configs = labeller.label(atoms_list, group)
        common.save_configs(configs, common.WORK_DIR / f"data_{group}.npz")
        fmax = max(np.abs(c.forces_eV_per_A).max() for c in configs)
        print(f"{group}: {len(configs)} configurations, {sum(c.natoms for c in configs)} atoms, "
              f"max |F| {fmax:.1f} eV/Å, {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
