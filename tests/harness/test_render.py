"""Rendering: every template, standalone inputs, idempotence, and refusing to overwrite another campaign."""

import json
import os
import subprocess
from pathlib import Path

from harness.lammps_env import child_environment, find_lammps
from harness.render import render_campaign
from harness_testlib import REPO, TINY, harness, statuses, write_campaign

TASK_TEMPLATES = {"conductivity", "robustness", "melt_quench", "relax", "single_point"}


def test_render_writes_manifest_and_one_standalone_directory_per_run(tmp_path):
    campaign = write_campaign(tmp_path)
    manifest = render_campaign(campaign, tmp_path / "out")
    assert {r["task"] for r in manifest["runs"]} == TASK_TEMPLATES
    assert len(manifest["runs"]) == 2 + 2 + 1 + 1 + 1
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["runs"] == manifest["runs"]
    for run in manifest["runs"]:
        folder = tmp_path / "out" / run["dir"]
        text = (folder / "in.lammps").read_text()
        assert "{{" not in text and "{%" not in text
        record = json.loads((folder / "run.json").read_text())
        assert record["run_id"] == run["run_id"] and record["seed"] > 0
        assert (folder / "data.lmp").is_file()
        assert json.loads((folder / "status.json").read_text())["state"] == "pending"
    # units at the boundary: 1 GPa becomes 1e4 bar in the NPT fix
    robust = tmp_path / "out" / "runs" / "t4-robustness-toy-morse-T1000-p1e9-r1" / "in.lammps"
    assert "iso 10000.0 10000.0" in robust.read_text()
    # robustness cell: exact composition of Li7P3S11 (42 atoms = 2 formula units)
    record = json.loads(robust.with_name("run.json").read_text())
    assert record["counts"] == {"Li": 14, "P": 6, "S": 22}


def test_paper_defaults_render_the_paper_protocols(tmp_path):
    text = ('[campaign]\npotentials = ["toy-morse"]\n[conductivity]\n[robustness]\nrepeats = 1\n'
            'temperatures_K = [1000]\npressures_Pa = [1e12]\n')
    manifest = render_campaign(write_campaign(tmp_path, text), tmp_path / "out")
    conductivity = [r for r in manifest["runs"] if r["task"] == "conductivity"]
    assert len(conductivity) == 5 * 3    # 400..800 K, 3 repeats
    record = json.loads((tmp_path / "out" / conductivity[0]["dir"] / "run.json").read_text())
    assert record["natoms"] == 672 and record["params"]["duration_ps"] == 500.0
    robust = [r for r in manifest["runs"] if r["task"] == "robustness"][0]
    record = json.loads((tmp_path / "out" / robust["dir"] / "run.json").read_text())
    assert record["natoms"] == 1008 and record["counts"] == {"Li": 336, "P": 144, "S": 528}
    assert record["params"]["pressure_bar"] == 1e7 and record["params"]["duration_ps"] == 100.0
    # the longest runs come first in the launcher's order: costs are atom-steps
    assert conductivity[0]["cost"] == 672 * conductivity[0]["nsteps"]


def test_structures_given_as_paths(tmp_path):
    cif = REPO / "inputs" / "structures" / "Li2S_Fm-3m_12at_constructed.cif"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "my-Li2S.cif").write_text(cif.read_text())
    text = (f'[campaign]\npotentials = ["toy-morse"]\n[formation]\nstructures = ["{cif}"]\n'
            'single_point = ["mine/my-Li2S.cif"]\n')
    manifest = render_campaign(write_campaign(tmp_path, text), tmp_path / "out")
    assert [r["run_id"] for r in manifest["runs"]] == ["t1-relax-toy-morse-Li2S_Fm-3m_12at_constructed",
                                                       "t1-single-toy-morse-my-Li2S"]
    record = json.loads((tmp_path / "out" / manifest["runs"][1]["dir"] / "run.json").read_text())
    assert record["params"]["structure"] == "my-Li2S" and record["counts"] == {"Li": 8, "P": 0, "S": 4}


def test_rendering_is_deterministic(tmp_path):
    campaign = write_campaign(tmp_path)
    render_campaign(campaign, tmp_path / "a")
    render_campaign(campaign, tmp_path / "b")
    for path in (tmp_path / "a" / "runs").rglob("*"):
        if path.is_file():
            twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert twin.read_bytes() == path.read_bytes(), path


def test_rerender_keeps_finished_runs_and_refuses_another_campaign(tmp_path):
    text = TINY.split("[robustness]")[0]
    campaign = write_campaign(tmp_path, text)
    out = tmp_path / "out"
    assert harness("render", str(campaign), "--out", str(out)).returncode == 0
    assert harness("launch", str(out), "--progress-every", "0").returncode == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = harness("render", str(campaign), "--out", str(out))
    assert again.returncode == 0
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    changed = [p for p in before if after.get(p) != before[p] and p.name != "manifest.json"]
    assert changed == []
    assert all(s["state"] == "done" for s in statuses(out).values())

    other = write_campaign(tmp_path, text.replace("[600, 800]", "[600, 700]"), name="other.toml")
    refused = harness("render", str(other), "--out", str(out))
    assert refused.returncode == 2 and "different campaign" in refused.stderr and "--force" in refused.stderr
    forced = harness("render", str(other), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    states = statuses(out)
    assert states["t3-conductivity-toy-morse-T600-r1"]["state"] == "done"      # same inputs: kept
    assert states["t3-conductivity-toy-morse-T700-r1"]["state"] == "pending"   # new


def test_in_lammps_run_by_hand_gives_the_same_run(tmp_path):
    campaign = write_campaign(tmp_path, TINY.split("[robustness]")[0])
    out = tmp_path / "out"
    render_campaign(campaign, out)
    run_dir = out / "runs" / "t3-conductivity-toy-morse-T600-r1"
    by_hand = tmp_path / "by-hand"
    (by_hand / "runs").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(run_dir), str(by_hand / "runs")], check=True)
    build = find_lammps()
    subprocess.run([build.executable, "-in", "in.lammps"], cwd=by_hand / "runs" / run_dir.name, check=True,
                   capture_output=True, env=child_environment(build.library_dirs))
    assert harness("launch", str(out), "--progress-every", "0", "--only", "T600").returncode == 0
    ours = (run_dir / "traj.lammpstrj").read_text()
    theirs = (by_hand / "runs" / run_dir.name / "traj.lammpstrj").read_text()
    assert ours.count("ITEM: TIMESTEP") == 11 and ours == theirs


def test_slurm_script(tmp_path):
    campaign = write_campaign(tmp_path, TINY.split("[robustness]")[0])
    result = harness("render", str(campaign), "--out", str(tmp_path / "out"), "--slurm", "--ntasks", "64",
                     "--time", "02:00:00", "--ranks-per-run", "4")
    assert result.returncode == 0, result.stderr
    script = (tmp_path / "out" / "submit.slurm").read_text()
    assert "#SBATCH --ntasks=64" in script and "#SBATCH --time=02:00:00" in script
    assert "srun" in script and "-m harness launch" in script and "--ranks-per-run 4" in script
    assert os.access(tmp_path / "out" / "manifest.json", os.R_OK)


def test_rerender_copies_a_changed_model_file_of_the_same_size(tmp_path):
    """An edited model file with its new sha256 must reach the campaign on --force even when its size is unchanged
    (issue 10: the copy used to be skipped when the sizes matched)."""
    import hashlib
    (tmp_path / "potentials").mkdir()
    table = tmp_path / "potentials" / "model.table"

    def write_potential(content: str) -> None:
        table.write_text(content)
        digest = hashlib.sha256(content.encode()).hexdigest()
        (tmp_path / "potentials" / "filed.toml").write_text(
            (REPO / "potentials" / "toy-morse.toml").read_text().replace('name = "toy-morse"', 'name = "filed"')
            + f'[files.table]\npath = "model.table"\nsha256 = "{digest}"\n')

    write_potential("coefficients 1.0\n")
    campaign = write_campaign(tmp_path, '[campaign]\npotentials = ["filed"]\n[formation]\nstructures = ["Li2S"]\n')
    render_campaign(campaign, tmp_path / "out")
    copied = tmp_path / "out" / "potentials" / "filed" / "model.table"
    assert copied.read_text() == "coefficients 1.0\n"
    run_dir = tmp_path / "out" / "runs" / "t1-relax-filed-Li2S"
    status = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**status, "state": "done"}))   # as if it had run
    (run_dir / "result.json").write_text("{}")
    write_potential("coefficients 2.0\n")     # same size, other content and hash
    render_campaign(campaign, tmp_path / "out", force=True)
    assert copied.read_text() == "coefficients 2.0\n"
    # the run used the old model: it is pending again, its old output gone, and run.json names the new hash
    assert json.loads((run_dir / "status.json").read_text())["state"] == "pending"
    assert not (run_dir / "result.json").exists()
    digest = hashlib.sha256(b"coefficients 2.0\n").hexdigest()
    assert json.loads((run_dir / "run.json").read_text())["potential_files_sha256"] == {"table": digest}


def test_robustness_formula_with_an_element_without_a_standard_weight(tmp_path):
    """A random cell of an element harness has no standard weight for takes the potential's [masses]; elements the
    potential lacks are one line, not a traceback."""
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "xe.toml").write_text(
        'elements = ["Xe"]\npair_style = "lj/cut 8.0"\npair_coeff = ["1 1 0.02 4.0"]\n[masses]\nXe = 131.29\n')
    text = ('[campaign]\npotentials = ["xe"]\n[robustness]\nformula = "Xe"\nnatoms = 8\ndensity_g_cm3 = 3.0\n'
            'min_distance_A = { "Xe-Xe" = 3.0 }\ntemperatures_K = [100]\npressures_Pa = [1e6]\nrepeats = 1\n')
    manifest = render_campaign(write_campaign(tmp_path, text), tmp_path / "out")
    record = json.loads((tmp_path / "out" / manifest["runs"][0]["dir"] / "run.json").read_text())
    assert record["counts"] == {"Xe": 8}
    # 8 Xe atoms of 131.29 amu at 3.0 g/cm^3: a cube of (8 * 131.29 / 6.02214076e23 / 3.0)^(1/3) cm
    assert abs(record["volume_A3"] - 8 * 131.29 / 6.02214076e23 / 3.0 * 1e24) < 1e-6
    result = harness("render", str(write_campaign(tmp_path, text.replace('"Xe"\nnatoms', '"Kr"\nnatoms')
                                                  .replace("Xe-Xe", "Kr-Kr"), "kr.toml")),
                     "--out", str(tmp_path / "out-kr"))
    assert result.returncode == 2 and "has elements ['Kr'] that potential xe does not cover" in result.stderr
