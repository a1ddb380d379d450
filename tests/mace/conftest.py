import pytest

from mace_testlib import have_mace

if not have_mace():
    import os
    if os.environ.get("CI") == "true":
        raise RuntimeError("tests/mace: torch + mace-torch missing in CI (scripts/test.sh installs "
                           "requirements-mace.txt)")
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from harness.mace import make_tiny_model
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.model")


@pytest.fixture(scope="session")
def tiny_potential(tiny_model, tmp_path_factory):
    """potentials/tiny-mace.toml in a fresh folder (next to which campaigns find it)."""
    from harness.mace import add_mace
    folder = tmp_path_factory.mktemp("project")
    return add_mace(tiny_model, "tiny-mace", None, folder / "potentials")
