"""Post-processing of LiPS-25 benchmark runs: LAMMPS dumps -> task results -> report.

Modules: dump (streaming dump reader), msd (Li diffusion), arrhenius (Ea, D(298 K), σ298),
contacts and robustness (Task 4), formation (Task 1), forces (Task 2), pipeline (a whole campaign
-> results/*.csv), report (results/ -> report/index.html), cli (``harness analyze`` / ``harness report``).
"""

from analysis.errors import AnalysisError

__all__ = ["AnalysisError"]
