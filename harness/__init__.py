"""harness: the LiPS-25 benchmark for interatomic potentials as one LAMMPS command line.

The library API mirrors the command line: ``load_campaign`` -> ``render_campaign`` -> ``launch`` ->
``analysis.pipeline.analyze_campaign`` -> ``analysis.report.write_report``.
"""

from __future__ import annotations

__version__ = "0.1.0"
