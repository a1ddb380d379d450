"""The launcher's parts without LAMMPS: children die with their launcher (no preexec_fn), the wall-time kill takes
the child's whole process group, every failure message maps to a documented reason, and the gate on recorded
checks."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import executors
from harness.check_record import calculator_check, check_record_path
from harness.errors import HarnessError
from harness.lammps_env import LammpsBuild
from harness.outcomes import classify, reason_for_error
from harness.preflight import launch_gate
from harness.rundir import REASONS
from harness_testlib import REPO

BUILD = LammpsBuild(executable="/bin/false", library_dirs=(), version="test", packages=("MOLECULE",), origin="PATH")


def _dead(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``within_s``."""
    deadline = time.time() + within_s
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


LAUNCHER = """
import sys, threading, time
from pathlib import Path
from harness.executors import start_child
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()        # a thread runs, as the heartbeat does
out = open(sys.argv[1], "ab")
child = start_child(["sleep", "60"], Path("."), out, {"PATH": "/usr/bin:/bin"})
print(child.pid, flush=True)
child.wait()
"""


def test_kill_9_of_a_launcher_kills_its_child(tmp_path):
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path / "screen.out")], cwd=tmp_path,
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    pid = int(launcher.stdout.readline())
    deadline = time.time() + 10
    while Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] != b"sleep" and time.time() < deadline:
        time.sleep(0.02)   # the wrapper has exec'd the command: same pid
    assert os.getpgid(pid) == pid                  # a process group of its own
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    assert _dead(pid), "the child outlived its launcher"


def test_the_wrapper_does_not_run_a_command_whose_parent_is_already_gone(tmp_path):
    marker = tmp_path / "ran"
    not_the_parent = os.getpid() + 1 if os.getppid() != os.getpid() + 1 else os.getpid() + 2
    wrapper = subprocess.run([sys.executable, "-I", "-S", str(executors.DIE_WITH_PARENT), str(not_the_parent),
                              "touch", str(marker)], timeout=30)
    assert wrapper.returncode == -signal.SIGKILL and not marker.exists()


def test_children_start_without_preexec_fn(tmp_path, monkeypatch):
    seen = {}

    class Recorder:
        def __init__(self, args, **kwargs):
            seen.update(kwargs, args=args)

    monkeypatch.setattr(executors.subprocess, "Popen", Recorder)
    executors.start_child(["sleep", "1"], tmp_path, subprocess.DEVNULL, {"PATH": "/usr/bin:/bin"})
    assert "preexec_fn" not in seen and seen["process_group"] == 0
    assert seen["args"][-2:] == ["sleep", "1"] and seen["args"][4] == str(os.getpid())


def test_a_missing_program_fails_in_the_launcher_as_popen_would(tmp_path):
    with pytest.raises(FileNotFoundError):
        executors.start_child(["no-such-program-here"], tmp_path, subprocess.DEVNULL, {"PATH": "/usr/bin:/bin"})


def test_the_wall_time_kill_takes_the_whole_process_group(tmp_path):
    run = {"task": "conductivity", "nsteps": 100}
    started = time.monotonic()
    outcome = executors.run_child(tmp_path, run, BUILD, 0.5, [], {}, kill_grace_s=0.5,
                                  command=["sh", "-c", "sleep 60 & echo $! > grandchild; wait"])
    assert outcome.state == "failed" and outcome.reason == "wall_time"
    assert time.monotonic() - started < 10
    assert _dead(int((tmp_path / "grandchild").read_text()))   # what the child started dies with it
    assert json.loads((tmp_path / "status.json").read_text())["pid"] > 0


@pytest.mark.parametrize("message, reason", [
    ("ERROR: Lost atoms: original 42 current 41 (src/thermo.cpp:494)", "lost_atoms"),
    ("ERROR: Fix halt condition for fix-id finite met on step 20 with value nan", "non_finite"),
    ("ERROR: Non-numeric atom coords - simulation unstable", "non_finite"),
    ("ERROR: pe is nan at step 3", "non_finite"),
    ("ERROR: calculator returned a non-finite energy at step 4", "non_finite"),
    ("ERROR: calculator m:C raised ValueError: bad at step 2", "calculator_error"),
    ("ERROR: Python: ModuleNotFoundError: No module named 'chgnet'", "calculator_error"),
    ("ERROR: sha256 of model file m.pt does not match files.model.sha256", "calculator_error"),
    ("ERROR: Unknown command: nonsense_keyword", "lammps_error"),
])
def test_every_message_maps_to_a_documented_reason(message, reason):
    assert reason_for_error(message) == reason and reason in REASONS


def test_exit_statuses_map_to_documented_reasons(tmp_path):
    run = {"task": "conductivity", "nsteps": 100}
    crashed = classify(tmp_path, run, -signal.SIGSEGV, False, 10.0)
    assert (crashed.reason, crashed.message) == ("crashed", "LAMMPS process killed by signal SIGSEGV")
    assert classify(tmp_path, run, 1, False, 10.0).reason == "crashed"           # no message
    assert classify(tmp_path, run, 0, True, 10.0).reason == "wall_time"          # killed by the launcher
    (tmp_path / "finished.json").write_text('{"step": 40}')
    assert classify(tmp_path, run, 0, False, 10.0).reason == "wall_time"         # LAMMPS's timer timeout
    (tmp_path / "finished.json").write_text('{"step": 100}')
    assert classify(tmp_path, run, 0, False, 10.0).state == "done"
    (tmp_path / "screen.out").write_text("Traceback (most recent call last):\n  File x\nImportError: no ase\n")
    python = classify(tmp_path, run, 1, False, 10.0)
    assert (python.reason, python.message) == ("calculator_error", "ERROR: Python: ImportError: no ase")


def _calculator_manifest(tmp_path: Path) -> dict:
    source = tmp_path / "calc.toml"
    source.write_text('name = "calc"\n')
    (tmp_path / "model.bin").write_bytes(b"weights")
    return {"potentials": {"calc": {"kind": "calculator", "source": str(source), "packages": [],
                                    "max_ranks_per_run": 1,
                                    "calculator": {"files": {"model": {"path": "model.bin"}}}}}}


def test_the_gate_refuses_an_unchecked_or_changed_calculator_potential(tmp_path):
    manifest = _calculator_manifest(tmp_path)
    with pytest.raises(HarnessError, match="refusing potential calc: its check never ran"):
        launch_gate(manifest, BUILD, 1, False)
    assert "launching anyway" in launch_gate(manifest, BUILD, 1, True)[0]
    check = calculator_check(tmp_path / "calc.toml", {"model": tmp_path / "model.bin"})
    check.write({"passed": True, "fingerprint": check.fingerprint()})
    assert check.path == check_record_path(tmp_path / "calc.toml")
    assert launch_gate(manifest, BUILD, 1, False) == []
    with pytest.raises(HarnessError, match="at most 1 MPI rank"):
        launch_gate(manifest, BUILD, 2, True)
    (tmp_path / "model.bin").write_bytes(b"other weights")
    with pytest.raises(HarnessError, match="its files changed since the check recorded"):
        launch_gate(manifest, BUILD, 1, False)
    manifest["potentials"]["calc"]["packages"] = ["KOKKOS"]
    with pytest.raises(HarnessError, match=r"needs LAMMPS packages \['KOKKOS'\]"):
        launch_gate(manifest, BUILD, 1, True)
