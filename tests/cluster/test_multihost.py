"""Several hosts on one shared filesystem, played by launchers with different host names (--host) on this
machine: the lock of another host is judged by its heartbeat only. kill -9 of one -> the other takes over its runs
after the heartbeat timeout, every run done once; a launcher that is alive but slow is never robbed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cluster_testlib import REPO, md_campaign, run_plain_lammps, statuses, write_campaign
from harness.resume import complete_restart_files
from harness.render import render_campaign
from harness.runstate import RunLock, heartbeat_timeout_s, host_name

# four MD runs of ~5 s each, restart files every 1 ps
FOUR = md_campaign([600, 700, 800, 900], 15.0, 1.0, 0.1)
TIMEOUT_S = 6.0


def _launcher(out: Path, host: str, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "harness", "launch", str(out), "--progress-every", "0", "--host", host,
               "--heartbeat-timeout", str(TIMEOUT_S), *extra]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def _held_by(out: Path, host: str) -> list[str]:
    held = []
    for lock in (out / "runs").glob("*/run.lock"):
        try:
            if json.loads(lock.read_text()).get("host") == host:
                held.append(lock.parent.name)
        except (OSError, ValueError):
            continue
    return held


def _wait_until(predicate, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def test_host_name_and_timeout_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_HOST", "node-a")
    monkeypatch.setenv("HARNESS_HEARTBEAT_TIMEOUT", "30")
    assert host_name() == "node-a" and heartbeat_timeout_s() == 30.0
    lock = RunLock(tmp_path)
    assert lock.acquire()
    try:
        owner = json.loads((tmp_path / "run.lock").read_text())
        assert owner["host"] == "node-a" and lock.heartbeat_s == 7.5
        # another host sees a live lock, then (heartbeat 31 s old) a stale one
        other = RunLock(tmp_path, host="node-b")
        assert not other.acquire()
        os.utime(tmp_path / "run.lock", (time.time() - 31, time.time() - 31))
        lock._stop.set()
        assert other.acquire()
        other.release()
    finally:
        lock.release()
    monkeypatch.setenv("HARNESS_HEARTBEAT_TIMEOUT", "-1")
    from harness.errors import HarnessError
    try:
        heartbeat_timeout_s()
        raise AssertionError("a negative timeout was accepted")
    except HarnessError as exc:
        assert "HARNESS_HEARTBEAT_TIMEOUT" in str(exc)


def test_kill_9_of_one_host_the_other_takes_over_after_the_heartbeat_timeout(tmp_path):
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, FOUR), out)
    a = _launcher(out, "host-a")
    b = _launcher(out, "host-b", "--take-over")

    def a_is_past_a_restart() -> bool:
        """A restart file the resume will use: progress.dat has moved past its step (resume.complete_restart_files)."""
        return any(complete_restart_files(out / "runs" / r) for r in _held_by(out, "host-a"))
    _wait_until(a_is_past_a_restart)
    victims = _held_by(out, "host-a")
    os.killpg(a.pid, signal.SIGKILL)
    killed_at = time.time()
    a.communicate()
    assert len(victims) == 1
    b_output, _ = b.communicate(timeout=300)
    assert b.returncode == 0, b_output
    states = statuses(out)
    assert all(s["state"] == "done" for s in states.values()), states
    taken = states[victims[0]]
    assert taken["host"] == "host-b" and taken["attempts"] == 2 and taken["resumed_from_step"] > 0
    started = time.mktime(time.strptime(taken["started"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert started >= killed_at + TIMEOUT_S - 3.0, (started - killed_at)   # waited for the heartbeat timeout
    others = [r for r in states if r != victims[0]]
    assert all(states[r]["attempts"] == 1 for r in others)       # nothing else ran twice
    done_lines = [line for line in b_output.splitlines() if " done at " in line]
    assert len(done_lines) + sum(1 for r in others if states[r]["host"] == "host-a") == len(states)
    run_plain_lammps(out / "runs" / victims[0], tmp_path / "uninterrupted")
    for name in ("traj.lammpstrj", "progress.dat"):
        assert (out / "runs" / victims[0] / name).read_bytes() == (tmp_path / "uninterrupted" / name).read_bytes()


def test_a_slow_or_paused_launcher_is_never_robbed(tmp_path):
    # runs of ~2x the heartbeat timeout (14 s here), and a SIGSTOP of half the timeout: host-b waits, takes nothing
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, md_campaign([600, 700, 800, 900], 40.0, 2.0, 0.2)), out)
    # both with --take-over: without it, whichever launcher runs out of runs first exits 3 (runs still held by the
    # other are not finished), and which one that is depends on the machine's timing
    a = _launcher(out, "host-a", "--take-over")
    _wait_until(lambda: bool(_held_by(out, "host-a")))
    b = _launcher(out, "host-b", "--take-over")
    _wait_until(lambda: bool(_held_by(out, "host-b")) or a.poll() is not None)
    time.sleep(1.0)
    os.killpg(a.pid, signal.SIGSTOP)
    time.sleep(TIMEOUT_S / 2)
    os.killpg(a.pid, signal.SIGCONT)
    a_output, b_output = a.communicate(timeout=300)[0], b.communicate(timeout=300)[0]
    # one assertion per launcher, each with its whole output as a string (a list's repr is cut short by pytest)
    assert a.returncode == 0, f"host-a exited {a.returncode}:\n{a_output}\nhost-b exited {b.returncode}:\n{b_output}"
    assert b.returncode == 0, f"host-b exited {b.returncode}:\n{b_output}\nhost-a:\n{a_output}"
    states = statuses(out)
    assert all(s["state"] == "done" and s["attempts"] == 1 for s in states.values()), states
    assert {s["host"] for s in states.values()} == {"host-a", "host-b"}
    started = [line for text in (a_output, b_output) for line in text.splitlines() if line.endswith(" started")]
    assert len(started) == len(states)
    slow = [r for r, s in states.items() if s["host"] == "host-a" and s["wall_s"] > TIMEOUT_S]
    assert slow, states   # a run longer than the timeout kept its lock by its heartbeat
