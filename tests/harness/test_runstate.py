"""Locks and atomic status files."""

import json
import os
import socket
import subprocess
import sys
import time

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


def test_status_is_replaced_atomically(tmp_path):
    write_json_atomic(tmp_path / "status.json", {"state": "pending"})
    update_status(tmp_path, state="done", step=5)
    assert read_status(tmp_path)["state"] == "done" and read_status(tmp_path)["step"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]
