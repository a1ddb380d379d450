"""The exception type of the analysis package: a HarnessError (the core's one-line user error) raised by analysis."""

from __future__ import annotations

from harness.errors import HarnessError


class AnalysisError(HarnessError):
    """A problem with the input of an analysis, described in one line for the user.

    The CLI prints ``str(error)`` to stderr and exits with status 2; no traceback.
    """
