"""The ML-IAP MACE shim's compute_forces of commit f560d08 (still the current one in harness/mace_shim.py), kept so
that bench/mace_vs_ase.py and bench/mace_shim_profile.py can run it side by side with harness/mace_shim.py in
one run. Not used by the harness. Importable as ``mace_shim_before`` with bench/ on the Python path (the
benchmarks put it on LAMMPS's embedded Python's path); the LAMMPS instance comes from harness.mace_shim
(attach_lammps), as for the current shim.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness import mace_shim
from harness.mace_shim import MliapMace


def _owners(ntotal: int, nlocal: int) -> np.ndarray:
    lmp = mace_shim._LAMMPS
    if lmp is None:
        raise RuntimeError("harness MACE shim: the LAMMPS instance was not attached")
    if lmp.extract_setting("world_size") != 1:
        raise RuntimeError("MACE through the non-KOKKOS ML-IAP shim runs on one MPI rank per run")
    ids = np.array(lmp.numpy.extract_atom("id", nelem=ntotal), dtype=np.int64, copy=True)
    lookup = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
    lookup[ids[:nlocal]] = np.arange(nlocal, dtype=np.int64)
    owner = lookup[ids]
    if (owner < 0).any():
        raise RuntimeError("MACE shim: a ghost atom has no owner on this rank (more than one MPI rank?)")
    return owner


class MliapMaceBefore(MliapMace):
    """harness.mace_shim.MliapMace with the compute_forces of commit f560d08 (verbatim but for _owners)."""

    def compute_forces(self, data: Any) -> None:
        nlocal = data.nlocal
        if not self.initialized:
            self._initialize_device(data)
        device = self.device
        if nlocal == 0:
            data.energy = 0.0
            return
        owner = torch.from_numpy(_owners(data.ntotal, nlocal))
        pair_i = torch.as_tensor(data.pair_i, dtype=torch.int64)
        pair_j = owner[torch.as_tensor(data.pair_j, dtype=torch.int64)]
        species = torch.as_tensor(data.elems[:nlocal], dtype=torch.int64)
        batch = {
            "vectors": torch.tensor(data.rij, dtype=self.dtype).reshape(-1, 3).to(device),
            "node_attrs": torch.nn.functional.one_hot(species, num_classes=self.num_species).to(self.dtype).to(device),
            "edge_index": torch.stack([pair_j, pair_i], dim=0).to(device),
            "batch": torch.zeros(nlocal, dtype=torch.int64, device=device),
            "lammps_class": None,
            "natoms": (nlocal, 0),
        }
        _, node_energy, pair_forces = self.model(batch)
        atom_energies = node_energy[:nlocal].detach().double().cpu().numpy()
        data.eatoms = np.ascontiguousarray(atom_energies)
        data.energy = float(atom_energies.sum())
        if data.npairs > 0:
            data.update_pair_forces(np.ascontiguousarray(pair_forces.detach().double().cpu().numpy()))
