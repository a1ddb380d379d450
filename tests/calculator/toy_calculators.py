"""Small ASE calculators for the bridge tests: Lennard-Jones underneath, with a fault where a test wants one."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
from ase.calculators.lj import LennardJones


def lj(**kwargs):
    """Plain Lennard-Jones (ASE), built by a factory function rather than a class."""
    return LennardJones(**kwargs)


class RaisesWhenBuilt(LennardJones):
    def __init__(self, **kwargs):
        raise RuntimeError("weights file is corrupt (test calculator)")


class OnlyElements(LennardJones):
    """Lennard-Jones that knows only some elements, like a model trained on them."""

    def __init__(self, known: list[str], **kwargs):
        super().__init__(**kwargs)
        self.known = set(known)

    def calculate(self, atoms=None, properties=None, system_changes=None):
        missing = sorted(set(atoms.get_chemical_symbols()) - self.known)
        if missing:
            raise KeyError(f"model has no parameters for element {missing[0]}")
        super().calculate(atoms, properties or ["energy"], system_changes or [])


class FaultAtCall(LennardJones):
    """Lennard-Jones until its ``at``-th evaluation, then a fault: nan forces, an exception, a hang or a segfault."""

    def __init__(self, fault: str, at: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.fault, self.at, self.count = fault, at, 0

    def calculate(self, atoms=None, properties=None, system_changes=None):
        super().calculate(atoms, properties or ["energy"], system_changes or [])
        self.count += 1
        if self.count < self.at:
            return
        if self.fault == "nan":
            self.results["forces"] = np.full_like(self.results["forces"], np.nan)
        elif self.fault == "raise":
            raise ValueError("model diverged (test calculator)")
        elif self.fault == "hang":
            time.sleep(3600)
        elif self.fault == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)


class SleepsPerCall(LennardJones):
    """Lennard-Jones that takes ``seconds`` longer per evaluation: a model of known cost (harness plan's test)."""

    def __init__(self, seconds: float, **kwargs):
        super().__init__(**kwargs)
        self.seconds = seconds

    def calculate(self, atoms=None, properties=None, system_changes=None):
        time.sleep(self.seconds)
        super().calculate(atoms, properties or ["energy"], system_changes or [])


class RecordsPositions(LennardJones):
    """Lennard-Jones that appends the positions it is given, one line per atom, to ``path`` at every evaluation."""

    def __init__(self, path: str, **kwargs):
        super().__init__(**kwargs)
        self.path = path

    def calculate(self, atoms=None, properties=None, system_changes=None):
        with open(self.path, "a") as out:
            np.savetxt(out, atoms.positions, fmt="%.17g")
        super().calculate(atoms, properties or ["energy"], system_changes or [])
