"""The one exception users see: a one-line message naming the problem (and the field or file)."""

from __future__ import annotations


class HarnessError(Exception):
    """A problem with the user's input or environment, reported as one line and exit status 2."""
