"""Re-rendering after a changed model file, CIF or template: the runs whose inputs changed become pending and
lose their old outputs; the others keep their results. Real LAMMPS, two tiny potentials."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from harness.render import render_campaign
from harness_testlib import REPO, harness, statuses, write_campaign

# toy-morse with its S-S Morse term in a separate file: a potential with a "model file"
TOY = (REPO / "potentials" / "toy-morse.toml").read_text()
FILE_POTENTIAL = TOY.replace('name = "toy-morse"', 'name = "toy-file"').replace(
    "packages = []", 'commands = ["include {{ files.extra }}"]\npackages = []') + """
[files.extra]
path = "toy-file.lammps"
sha256 = "SHA"
"""
S_S = "pair_coeff      3 3 morse {d0} 1.2 3.6\n"

CAMPAIGN = """
[campaign]
name = "rerender"
potentials = ["toy-morse", "toy-file"]
seed = 3
restart_every_ps = 0.02
thermo_every_ps = 0.01
wall_time_s = 300
templates = "my-templates"

[conductivity]
supercell = [1, 1, 1]
temperatures_K = [600]
duration_ps = 0.05
equilibration_ps = 0.01
repeats = 1
dump_interval_ps = 0.01

[formation]
structures = ["Li2S"]
"""

OUTPUTS = {"conductivity": "traj.lammpstrj", "relax": "result.json"}


def _write_potential(folder: Path, d0: str) -> None:
    text = S_S.format(d0=d0)
    (folder / "toy-file.lammps").write_text(text)
    sha = hashlib.sha256(text.encode()).hexdigest()
    (folder / "toy-file.toml").write_text(FILE_POTENTIAL.replace("SHA", sha))


def _snapshot(out: Path) -> dict[str, tuple[str, bytes | None]]:
    """state and main output of every run"""
    found = {}
    for run_id, status in statuses(out).items():
        task = "relax" if run_id.startswith("t1-") else "conductivity"
        path = out / "runs" / run_id / OUTPUTS[task]
        found[run_id] = (status["state"], path.read_bytes() if path.is_file() else None)
    return found


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "potentials").mkdir()
    shutil.copy(REPO / "potentials" / "toy-morse.toml", tmp_path / "potentials")
    _write_potential(tmp_path / "potentials", "0.05")
    (tmp_path / "structures").mkdir()
    shutil.copy(REPO / "inputs" / "structures" / "Li2S_Fm-3m_12at_constructed.cif", tmp_path / "structures" / "Li2S.cif")
    (tmp_path / "my-templates").mkdir()
    campaign = write_campaign(tmp_path, CAMPAIGN)
    out = tmp_path / "out"
    render_campaign(campaign, out)
    result = harness("launch", str(out), "--progress-every", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    before = _snapshot(out)
    assert len(before) == 4 and all(state == "done" and output for state, output in before.values())
    return campaign, out


def _rerender_and_compare(campaign: Path, out: Path, affected: set[str], force: bool) -> None:
    before = _snapshot(out)
    args = ["render", str(campaign), "--out", str(out)] + (["--force"] if force else [])
    result = harness(*args)
    assert result.returncode == 0, result.stderr
    after = _snapshot(out)
    assert set(after) == set(before)
    for run_id in after:
        if run_id in affected:
            assert after[run_id] == ("pending", None), run_id          # old outputs cleared
            assert not list((out / "runs" / run_id).glob("restart.*")) and \
                not (out / "runs" / run_id / "log.lammps").exists()
        else:
            assert after[run_id] == before[run_id], run_id             # results kept, byte for byte
    relaunch = harness("launch", str(out), "--progress-every", "0")
    started = sorted(line.split()[-2] for line in relaunch.stdout.splitlines() if line.endswith(" started"))
    assert started == sorted(affected)
    assert all(state == "done" for state, _ in _snapshot(out).values())


def test_changed_model_file_reruns_that_potential_only(project):
    campaign, out = project
    old_energy = (out / "runs" / "t1-relax-toy-file-Li2S" / "result.json").read_text()
    _write_potential(campaign.parent / "potentials", "0.5")             # new S-S well depth, new sha256
    _rerender_and_compare(campaign, out, {"t3-conductivity-toy-file-T600-r1", "t1-relax-toy-file-Li2S"}, force=True)
    assert (out / "potentials" / "toy-file" / "toy-file.lammps").read_text() == S_S.format(d0="0.5")
    assert (out / "runs" / "t1-relax-toy-file-Li2S" / "result.json").read_text() != old_energy


def test_changed_cif_reruns_the_runs_of_that_structure(project):
    campaign, out = project
    cif = campaign.parent / "structures" / "Li2S.cif"
    cif.write_text(cif.read_text().replace("5.70800000", "5.60000000"))
    _rerender_and_compare(campaign, out, {"t1-relax-toy-morse-Li2S", "t1-relax-toy-file-Li2S"}, force=False)


def test_changed_template_reruns_the_runs_of_that_template(project):
    campaign, out = project
    shipped = (REPO / "templates" / "relax.lammps.j2").read_text()
    (campaign.parent / "my-templates" / "relax.lammps.j2").write_text(
        shipped.replace("min_style", "# a comment added by hand\nmin_style", 1))
    assert "a comment added by hand" in (campaign.parent / "my-templates" / "relax.lammps.j2").read_text()
    _rerender_and_compare(campaign, out, {"t1-relax-toy-morse-Li2S", "t1-relax-toy-file-Li2S"}, force=False)


def test_rerendering_an_unchanged_campaign_keeps_everything(project):
    campaign, out = project
    _rerender_and_compare(campaign, out, set(), force=False)
