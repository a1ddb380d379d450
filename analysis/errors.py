"""The one exception type of the analysis package."""

from __future__ import annotations


class AnalysisError(Exception):
    """A problem with the input of an analysis, described in one line for the user.

    The CLI prints ``str(error)`` to stderr and exits with status 2; no traceback.
    """
