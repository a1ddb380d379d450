"""The value types campaign sections share: numbers with their unit in the name and a stated range, structure
references, paths. Ranges are physical limits where there are some, else generous bounds that still catch typos
and overflows (README "Campaign files" lists them); the building blocks are harness/schema.py's."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from harness.schema import PathText, integer, name_pattern, number, pressure

Temperature = number(maximum=1e5, unit="K")
Duration = number(maximum=1e6, unit="ps")
NonNegativeDuration = number(inclusive=True, maximum=1e6, unit="ps")
Timestep = number(at_least=0.01, maximum=100.0, unit="fs")
Damping = number(maximum=1e7, unit="fs")
Rate = number(maximum=1e9, unit="K/ps")
Repeats = integer(minimum=1, maximum=1000)
SupercellRepeat = integer(minimum=1, maximum=64)
Seed = integer(minimum=0, maximum=2**63 - 1)
WallTime = number(maximum=1e9, unit="s")
AtomCount = integer(minimum=1, maximum=100_000)
Density = number(maximum=30.0, unit="g/cm^3")
Iterations = integer(minimum=1, maximum=10_000_000)
ForceTolerance = number(maximum=1e3, unit="eV/Å")
EnergyTolerance = number(inclusive=True, maximum=1.0)    # LAMMPS minimize etol: relative energy change, 0 = off
BoxChange = number(maximum=1.0)                          # LAMMPS fix box/relax vmax: a fraction per iteration
PairDistance = number(maximum=10.0, unit="Å")
GridPressure = pressure(inclusive_zero=False)    # robustness grid: positive (run ids and plots are logarithmic)
Pressure = pressure(inclusive_zero=True)


def _structure_ref(value: str) -> str:
    """A structure is a name (NAME.cif / NAME_*.cif in the structure folders) or a path ending in .cif."""
    if value.lower().endswith(".cif"):
        return value
    name_pattern("structure name")(value)
    return value


StructureRef = Annotated[PathText, AfterValidator(_structure_ref)]
FilePath = PathText        # relative to the campaign file
PotentialRef = PathText    # a name of potentials/NAME.toml, or a path
Supercell = Annotated[list[SupercellRepeat], Field(min_length=3, max_length=3)]
Temperatures = Annotated[list[Temperature], Field(min_length=1)]
