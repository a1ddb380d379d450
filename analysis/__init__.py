"""Post-processing of LiPS-25 benchmark runs: LAMMPS dumps -> task results -> report.

Libraries: dump (streaming dump reader), msd (Li diffusion), jumps (Li hops), arrhenius (Ea, D(298 K), σ298),
contacts and robustness (Task 4), formation (Task 1), forces (Task 2), meltquench (PS4 check), snapshots (OVITO).
tasks/ holds one module per task (its results tables and its report section) and the registry; runs (the runs of a
campaign, read through harness.rundir), results (options, summary, CSV/JSON writers), pipeline (a whole campaign ->
results/*.csv), report_parts + report (results/ -> report/index.html), cli (``harness analyze`` /
``harness report``). Of harness/ only the core is imported: harness.rundir, harness.units, harness.elements,
harness.errors.
"""

from analysis.errors import AnalysisError

__all__ = ["AnalysisError"]
