"""I/O faults in the middle of a campaign: an unwritable run folder and a full disk. The launcher records what it
can, never leaves a half-written status file, and finishes the other runs. Both tests need root (chattr +i and
mount -t tmpfs) and skip, saying so, without it."""

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from harness.render import render_campaign
from harness_testlib import TINY, harness, write_campaign

SMALL = TINY.split("[robustness]")[0].replace("[600, 800]", "[500, 600, 700]")


def _all_status_files_parse(out: Path) -> dict[str, dict]:
    found = {}
    for path in (out / "runs").glob("*/status.json"):
        found[path.parent.name] = json.loads(path.read_text())   # raises if half-written
    return found


def _needs_root(tool: str, what: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(os.geteuid() != 0 or shutil.which(tool) is None,
                              reason=f"needs root and {tool} ({what})")


@_needs_root("chattr", "chattr +i makes a run folder unwritable even for its owner")
def test_unwritable_run_folder_is_reported_and_the_others_finish(tmp_path):
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, SMALL), out)
    frozen = out / "runs" / "t3-conductivity-toy-morse-T600-r1"
    subprocess.run(["chattr", "+i", str(frozen)], check=True)
    try:
        result = harness("launch", str(out), "--progress-every", "0")
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=True)
    assert result.returncode == 3, result.stdout + result.stderr   # not everything finished
    assert "Traceback" not in result.stderr
    assert "t3-conductivity-toy-morse-T600-r1: cannot lock its folder" in result.stdout
    states = _all_status_files_parse(out)
    assert states.pop("t3-conductivity-toy-morse-T600-r1")["state"] == "pending"
    assert all(s["state"] == "done" for s in states.values())
    # once the folder is writable again, a relaunch finishes the campaign
    again = harness("launch", str(out), "--progress-every", "0")
    assert again.returncode == 0 and all(s["state"] == "done" for s in _all_status_files_parse(out).values())


@_needs_root("mount", "mount -t tmpfs -o size=600k makes a small disk that fills up")
def test_disk_full_during_a_campaign(tmp_path):
    mount = Path("/tmp") / f"harness-full-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], check=True)
    try:
        text = SMALL.replace("duration_ps = 0.1", "duration_ps = 2.0").replace(
            "supercell = [1, 1, 1]", "supercell = [2, 2, 1]")
        campaign = write_campaign(tmp_path, text)
        render_campaign(campaign, mount / "out")
        result = harness("launch", str(mount / "out"), "--progress-every", "0", timeout=600)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 3)
        states = _all_status_files_parse(mount / "out")
        failed = {r: s for r, s in states.items() if s["state"] == "failed"}
        unfinished = {r: s for r, s in states.items() if s["state"] not in ("done", "failed")}
        assert failed or unfinished, "the disk was not filled: make the runs write more"
        for status in failed.values():
            assert status["reason"] in ("io_error", "lammps_error", "crashed")
        assert not list((mount / "out").rglob(".*.tmp"))     # no temporary status file left behind
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)
