"""`harness` works after a plain (non-editable) `pip install .`, templates and shipped data included.
scripts/setup.sh performs that install; this test uses the installed copy, away from the checkout."""

import os
import subprocess
import sys
from pathlib import Path

from harness_testlib import REPO


def _installed(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_installed_package_is_not_the_checkout_and_carries_its_data(tmp_path):
    where = _installed("-c", "import harness, harness.paths as p; print(harness.__file__); print(p.templates_dir()); "
                       "print(p.default_campaign())", cwd=tmp_path)
    assert where.returncode == 0, f"harness is not installed: run scripts/setup.sh ({where.stderr.strip()})"
    package, templates, default = where.stdout.split()
    assert Path(package).parent != REPO / "harness", "harness is imported from the checkout, not installed"
    assert (Path(templates) / "conductivity.lammps.j2").is_file()
    assert Path(default).is_file()


def test_installed_cli_renders_and_launches_from_any_folder(tmp_path):
    campaign = tmp_path / "c.toml"
    campaign.write_text('[campaign]\npotentials = ["toy-morse"]\n[formation]\nstructures = ["Li2S", "Li7P3S11"]\n')
    rendered = _installed("-m", "harness", "render", str(campaign), "--out", "out", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    launched = _installed("-m", "harness", "launch", "out", "--progress-every", "0", cwd=tmp_path)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert "2 done" in launched.stdout
    default = _installed("-m", "harness", "render", "--out", "default", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
