"""Locks and atomic status files."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import runstate
from harness.runstate import RunLock, lock_holder, read_status, update_status, write_json_atomic


def test_lock_is_exclusive_and_released(tmp_path):
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    assert first.acquire()
    assert not second.acquire()
    assert lock_holder(tmp_path)["pid"] == os.getpid()
    first.release()
    assert second.acquire()
    second.release()
    assert lock_holder(tmp_path) is None


def test_lock_of_a_dead_process_on_this_host_is_broken(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / runstate.LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout),
                                                           "token": "old"}))
    lock = RunLock(tmp_path)
    assert lock.acquire()
    assert json.loads((tmp_path / runstate.LOCK_NAME).read_text())["token"] == lock.token
    lock.release()


def test_lock_of_a_killed_but_unreaped_process_is_broken(tmp_path):
    # kill -9 of a launcher inside a container whose init does not reap leaves a zombie that still has its pid
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / runstate.LOCK_NAME).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": child.pid, "start_ticks": runstate._start_ticks(child.pid),
         "token": "zombie"}))
    assert lock_holder(tmp_path) is not None      # alive: the lock holds
    child.kill()
    deadline = time.time() + 10
    while runstate.process_alive(child.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(f"/proc/{child.pid}")    # not reaped yet: a zombie
    assert lock_holder(tmp_path) is None
    lock = RunLock(tmp_path)
    assert lock.acquire()
    lock.release()
    child.wait()


def test_lock_of_a_process_whose_pid_was_reused_is_broken(tmp_path):
    (tmp_path / runstate.LOCK_NAME).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "start_ticks": 1, "token": "old"}))
    assert lock_holder(tmp_path) is None


def test_lock_from_another_host_is_stale_only_without_heartbeat(tmp_path, monkeypatch):
    path = tmp_path / runstate.LOCK_NAME
    path.write_text(json.dumps({"host": "some-other-node", "pid": 1, "token": "remote"}))
    assert not RunLock(tmp_path).acquire()          # fresh heartbeat: someone is working on it
    old = time.time() - runstate.STALE_AFTER_S - 5
    os.utime(path, (old, old))
    lock = RunLock(tmp_path)
    assert lock.acquire()                            # silent for too long: taken over
    lock.release()


def test_heartbeat_keeps_a_held_lock_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(runstate, "HEARTBEAT_S", 0.05)
    lock = RunLock(tmp_path)
    assert lock.acquire()
    old = time.time() - 1000
    os.utime(lock.path, (old, old))
    time.sleep(0.3)
    assert time.time() - lock.path.stat().st_mtime < 5
    lock.release()


def test_status_update_merges_and_leaves_no_temporary_file(tmp_path):
    write_json_atomic(tmp_path / "status.json", {"state": "pending", "nsteps": 10})
    update_status(tmp_path, state="done", step=5)
    status = read_status(tmp_path)
    assert (status["state"], status["step"], status["nsteps"]) == ("done", 5, 10)
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_a_write_that_fails_before_the_rename_keeps_the_old_status_whole(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    write_json_atomic(path, {"state": "running", "step": 3})
    before = path.read_bytes()

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runstate.os, "replace", disk_full)
    with pytest.raises(OSError):
        update_status(tmp_path, state="done", step=10)
    assert path.read_bytes() == before                       # readers still see the old, complete status
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]   # and the temporary file is gone

    def interrupted(fd):
        raise KeyboardInterrupt   # Ctrl-C (or SIGTERM turned into an exception) half way through the write

    monkeypatch.undo()
    monkeypatch.setattr(runstate.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        update_status(tmp_path, state="done", step=10)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


# A writer that rewrites status.json as fast as it can, with sizes that change from write to write.
WRITER = """
import sys
from pathlib import Path
from harness.runstate import write_json_atomic
path = Path(sys.argv[1])
n = 0
while True:
    n += 1
    write_json_atomic(path, {"state": "running", "step": n, "padding": "x" * (n % 7) * 40000})
"""


def test_readers_never_see_a_partial_status_while_a_writer_is_killed(tmp_path):
    # (checked: the same test with a plain path.write_text writer fails at the first partial read)
    path = tmp_path / "status.json"
    write_json_atomic(path, {"state": "pending", "step": 0})
    env = {**os.environ, "PYTHONPATH": str(Path(runstate.__file__).resolve().parents[1])}
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env)
        steps: list[int] = []
        deadline = time.time() + 20
        while time.time() < deadline and (len(steps) < 200 or len(set(steps)) <= 3):
            steps.append(json.loads(path.read_text())["step"])   # raises on a half-written file
        writer.send_signal(signal.SIGKILL)                        # mid-write, at some random point
        writer.wait()
        assert len(set(steps)) > 3, "the writer did not get going"
        last = json.loads(path.read_text())                       # whole after the kill too
        assert last["state"] == "running" and last["step"] >= max(steps)
        assert last["padding"] == "x" * (last["step"] % 7) * 40000
        # a killed writer may leave its temporary file, never a damaged status.json; the next write goes through
        write_json_atomic(path, {"state": "pending", "step": 0})
