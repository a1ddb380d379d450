"""Where shipped data lives: in a checkout (top-level folders) or inside the installed package."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT_ROOT = _PACKAGE.parent


def _shipped(folder: str, package: str) -> Path:
    """The top-level folder of a checkout, or its copy installed inside the package (setup.cfg package_dir)."""
    in_checkout = _CHECKOUT_ROOT / folder
    if (_CHECKOUT_ROOT / "setup.cfg").is_file() and in_checkout.is_dir():
        return in_checkout
    return _PACKAGE / package.rsplit(".", 1)[1]


def templates_dir() -> Path:
    return _shipped("templates", "harness._templates")


def inputs_dir() -> Path:
    return _shipped("inputs", "harness._inputs")


def potentials_dir() -> Path:
    return _shipped("potentials", "harness._potentials")


def structures_dir() -> Path:
    return inputs_dir() / "structures"


def default_campaign() -> Path:
    return inputs_dir() / "default.toml"


def cache_dir() -> Path:
    """The harness's per-user cache ($XDG_CACHE_HOME/harness or ~/.cache/harness), shared by every clone."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "harness"
