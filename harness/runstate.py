"""Run state on disk: status.json written atomically, and lock files that work across processes, ranks and
nodes sharing a filesystem (O_CREAT|O_EXCL creation, a heartbeat, and stale-lock recovery)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.rundir import REASONS, STATES, STATUS_NAME, read_status, write_json_atomic  # noqa: F401 (the contract, re-exported)

LOCK_NAME = "run.lock"
# A lock whose heartbeat is older than this is stale even when its owner's host cannot be checked (another host on
# a shared filesystem). HARNESS_HEARTBEAT_TIMEOUT (seconds) or `harness launch --heartbeat-timeout` change it.
STALE_AFTER_S = 120.0
HEARTBEAT_S = 10.0
HOST_ENV = "HARNESS_HOST"
TIMEOUT_ENV = "HARNESS_HEARTBEAT_TIMEOUT"


def host_name() -> str:
    """The name this launcher gives its locks: $HARNESS_HOST, else the machine's host name. Launchers on
    different machines sharing a campaign must present different names (containers often all say "localhost")."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


def heartbeat_timeout_s() -> float:
    """Seconds without a heartbeat after which another host's lock is stale: $HARNESS_HEARTBEAT_TIMEOUT or 120."""
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return STALE_AFTER_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise HarnessError(f"{TIMEOUT_ENV}={text!r}: a heartbeat timeout must be a positive number of seconds")
    return value


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields or None


def _start_ticks(pid: int, fields: list[str] | None = None) -> int | None:
    """When the process started (clock ticks since boot, from /proc), None where /proc cannot tell."""
    fields = _proc_stat(pid) if fields is None else fields
    return int(fields[19]) if fields and len(fields) > 19 and fields[19].isdigit() else None


def process_alive(pid: int, start_ticks: int | None = None) -> bool:
    """Whether process ``pid`` on this host still runs. A zombie (killed, not yet reaped: common in containers
    whose init does not reap) is dead, and so is a new process that reuses the pid of a dead one."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    if fields is None:
        return True   # no /proc (not Linux): the signal test is all we have
    if fields[0] in ("Z", "X"):
        return False
    return start_ticks is None or _start_ticks(pid, fields) in (None, start_ticks)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_status(run_dir: Path, **fields: Any) -> dict[str, Any]:
    status = read_status(run_dir)
    status.update(fields, updated=now_iso())
    write_json_atomic(run_dir / STATUS_NAME, status)
    return status


class RunLock:
    """An exclusive claim on one run directory. ``acquire`` never blocks: it returns False if another live
    process holds the run."""

    def __init__(self, run_dir: Path, host: str | None = None, stale_after_s: float | None = None) -> None:
        self.path = run_dir / LOCK_NAME
        self.host = host or host_name()
        self.stale_after_s = stale_after_s or heartbeat_timeout_s()
        # beat several times per timeout, so a heartbeat that is a little late never looks dead
        self.heartbeat_s = min(HEARTBEAT_S, self.stale_after_s / 4)
        self.token = uuid.uuid4().hex
        self.held = False
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    def _owner(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError):
            return {}  # being written right now, or damaged: judge by age

    def _is_stale(self, owner: dict[str, Any]) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        if owner.get("host") == self.host and isinstance(owner.get("pid"), int):
            return not process_alive(owner["pid"], owner.get("start_ticks"))
        return age > self.stale_after_s

    def acquire(self) -> bool:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    continue
                if not self._is_stale(owner):
                    return False
                # Break the stale lock: move it aside, and put it back if it turned out not to be the stale one.
                aside = self.path.with_name(f"{LOCK_NAME}.stale-{self.token}")
                try:
                    os.rename(self.path, aside)
                except FileNotFoundError:
                    continue
                try:
                    moved = json.loads(aside.read_text())
                except (OSError, json.JSONDecodeError):
                    moved = {}
                if moved.get("token") != owner.get("token"):
                    try:
                        os.link(aside, self.path)
                    except FileExistsError:
                        pass
                    aside.unlink(missing_ok=True)
                    return False
                aside.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump({"host": self.host, "pid": os.getpid(), "start_ticks": _start_ticks(os.getpid()),
                           "token": self.token, "since": now_iso()}, handle)
            self.held = True
            self._stop.clear()
            self._beater = threading.Thread(target=self._beat, daemon=True)
            self._beater.start()
            return True
        return False

    def _beat(self) -> None:
        """Touch the lock every heartbeat_s while held, so launchers on other hosts see it is alive."""
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        if self.held:
            owner = self._owner()
            if owner and owner.get("token") == self.token:
                self.path.unlink(missing_ok=True)
            self.held = False


def lock_holder(run_dir: Path, host: str | None = None, stale_after_s: float | None = None) -> dict[str, Any] | None:
    """The owner of a live lock on ``run_dir`` (None if unlocked or stale)."""
    lock = RunLock(run_dir, host, stale_after_s)
    owner = lock._owner()
    if owner is None or lock._is_stale(owner):
        return None
    return owner
