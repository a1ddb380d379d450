"""The non-KOKKOS ML-IAP shim for MACE, imported by LAMMPS's embedded Python when it unpickles a potential written
by ``harness potentials add-mace`` (see harness/mace.py for the whole story).

mace-torch's ``LAMMPS_MLIAP_MACE`` calls KOKKOS-only methods of the ML-IAP data object (``forward_exchange`` /
``reverse_exchange`` to copy node features to ghost atoms between message-passing layers,
``update_pair_forces_gpu``). ``MliapMace`` avoids ghost nodes altogether: the neighbour ``j`` of every pair is
replaced by the local atom that owns it (through atom ids), while the pair vector ``rij`` stays the image's. The
graph then has one node per real atom, as with ASE's periodic neighbour list, so no exchange is needed; forces
go back per pair through ``update_pair_forces`` (LAMMPS sums ghost forces into their owners and tallies the
virial from ``rij`` and ``fij``). Owners are only known when every ghost is an image of an atom on the same rank:
one MPI rank per run (more stop with an error).

Device: the model runs where ``HARNESS_MACE_DEVICE`` says ("cpu", the default; "cuda" or "cuda:N"; "auto": the
first visible GPU if torch sees one). ``harness launch`` sets it to "cuda" and binds each run to one GPU through
CUDA_VISIBLE_DEVICES when GPUs are visible (several runs may share one GPU). The graph is built on the CPU from
LAMMPS's arrays, moved to the device for the model, and energies and forces come back to the CPU for LAMMPS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mace  # noqa: F401  (import mace before e3nn: torch's unpickling of e3nn constants needs it)
import torch
from mace.calculators.lammps_mliap_mace import LAMMPS_MLIAP_MACE

_LAMMPS: Any = None  # the LAMMPS instance of this process, set by attach_lammps
DEVICE_ENV = "HARNESS_MACE_DEVICE"


def select_device(requested: str | None, cuda_available: bool) -> str:
    """The torch device for the model: "cpu" (default), "cuda[:N]" (an error without a GPU), or "auto"."""
    choice = (requested or "cpu").strip().lower()
    if choice == "auto":
        return "cuda" if cuda_available else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice == "cuda" or (choice.startswith("cuda:") and choice[5:].isdigit()):
        if not cuda_available:
            raise RuntimeError(f"{DEVICE_ENV}={requested}: torch sees no CUDA GPU here (torch.cuda.is_available() "
                               f"is False); use cpu or auto")
        return choice
    raise RuntimeError(f"{DEVICE_ENV}={requested!r}: expected cpu, cuda, cuda:N or auto")


def attach_lammps(lmpptr: Any) -> None:
    """Called from the LAMMPS input (``python ... SELF``): remember the LAMMPS instance for atom ids."""
    global _LAMMPS
    from lammps import lammps
    _LAMMPS = lammps(ptr=lmpptr)


def _owners(ntotal: int, nlocal: int) -> np.ndarray:
    """For every local and ghost atom index, the local atom it is (an image of)."""
    if _LAMMPS is None:
        raise RuntimeError("harness MACE shim: the LAMMPS instance was not attached; the potential's commands must "
                           "contain the `python harness_mace_attach` lines (re-create it with harness potentials "
                           "add-mace)")
    if _LAMMPS.extract_setting("world_size") != 1:
        raise RuntimeError("MACE through the non-KOKKOS ML-IAP shim runs on one MPI rank per run; use a single "
                           "process (or a KOKKOS build of LAMMPS for multi-rank runs)")
    ids = np.array(_LAMMPS.numpy.extract_atom("id", nelem=ntotal), dtype=np.int64, copy=True)
    lookup = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
    lookup[ids[:nlocal]] = np.arange(nlocal, dtype=np.int64)
    owner = lookup[ids]
    if (owner < 0).any():
        raise RuntimeError("MACE shim: a ghost atom has no owner on this rank (more than one MPI rank?)")
    return owner


class MliapMace(LAMMPS_MLIAP_MACE):
    """``LAMMPS_MLIAP_MACE`` for LAMMPS builds without KOKKOS: a graph on the real atoms only (see module doc)."""

    def _initialize_device(self, data: Any) -> None:
        import os
        self.device = torch.device(select_device(os.environ.get(DEVICE_ENV), torch.cuda.is_available()))
        self.model = self.model.to(self.device)
        self.initialized = True

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
