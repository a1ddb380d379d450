"""Demo reference data labelled with CHGNet 0.3.0 (NOT DFT): a melt-quench trajectory of Li7P3S11.

Writes inputs/reference/li7p3s11_meltquench_chgnet.extxyz: 20 frames of a CHGNet Langevin melt-quench of the
84-atom (2x1x1) Li7P3S11 cell: heat 300 -> 1500 K in 0.6 ps, hold 0.3 ps, quench 1500 -> 300 K in 0.6 ps
(timestep 1.5 fs, friction 0.02/fs, seeded), one frame every 50 steps, with CHGNet energies and forces.
(formation_chgnet.csv is written by relax_structures.py.)

Run: .venv-fit/bin/python potentials/fit/make_reference.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SEED = 20250724
TIMESTEP_FS = 1.5
HEAT_STEPS = 400
HOLD_STEPS = 200
QUENCH_STEPS = 400
FRAME_EVERY = 50
T_LOW_K = 300.0
T_HIGH_K = 1500.0


def target_temperature_K(step: int) -> float:
    if step < HEAT_STEPS:
        return T_LOW_K + (T_HIGH_K - T_LOW_K) * step / HEAT_STEPS
    if step < HEAT_STEPS + HOLD_STEPS:
        return T_HIGH_K
    s = step - HEAT_STEPS - HOLD_STEPS
    return T_HIGH_K - (T_HIGH_K - T_LOW_K) * min(1.0, s / QUENCH_STEPS)


def extxyz_frame(atoms, energy_eV: float, forces: np.ndarray, temperature_K: float, time_ps: float) -> str:
    cell = " ".join(f"{v:.8f}" for v in np.array(atoms.cell[:]).flatten())
    lines = [str(len(atoms)),
             f'Lattice="{cell}" Properties=species:S:1:pos:R:3:forces:R:3 energy={energy_eV:.8f} '
             f'temperature_K={temperature_K:.1f} time_ps={time_ps:.3f} pbc="T T T"']
    for s, p, f in zip(atoms.get_chemical_symbols(), atoms.positions, forces):
        lines.append(f"{s} {p[0]:.8f} {p[1]:.8f} {p[2]:.8f} {f[0]:.8f} {f[1]:.8f} {f[2]:.8f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    common.setup_threads(2)
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    rng = np.random.default_rng(SEED)
    atoms = common.read_crystal("Li7P3S11").repeat((2, 1, 1))
    atoms.calc = common.chgnet_calculator()
    MaxwellBoltzmannDistribution(atoms, temperature_K=T_LOW_K, rng=rng)
    dyn = Langevin(atoms, TIMESTEP_FS * units.fs, temperature_K=T_LOW_K, friction=0.02 / units.fs, rng=rng)
    out = common.REPO_DIR / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz"
    text = []
    t0 = time.time()
    total = HEAT_STEPS + HOLD_STEPS + QUENCH_STEPS
    for step in range(0, total, 10):
        dyn.set_temperature(temperature_K=target_temperature_K(step))
        dyn.run(10)
        done = step + 10
        if done % FRAME_EVERY == 0:
            energy_eV = float(atoms.get_potential_energy())
            forces = np.array(atoms.get_forces())
            temp_K = float(atoms.get_temperature())
            text.append(extxyz_frame(atoms, energy_eV, forces, temp_K, done * TIMESTEP_FS / 1000))
            print(f"step {done}: T {temp_K:.0f} K (target {target_temperature_K(done):.0f}), "
                  f"E {energy_eV / len(atoms):.4f} eV/atom, min d {common.min_pair_distance_A(atoms):.2f} Å, "
                  f"{time.time() - t0:.0f} s", flush=True)
    out.write_text("".join(text))
    print(f"wrote {out} ({len(text)} frames, {out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
