"""`--retry-failed`, and GPU binding: which accelerator flags and which CUDA_VISIBLE_DEVICES each child LAMMPS
gets, with a faked CUDA_VISIBLE_DEVICES (no GPU needed: the accelerator here is LAMMPS's OPENMP package)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.lammps_env import child_environment, find_lammps
from harness.devices import accelerator_for, visible_gpus
from harness.launch import LaunchOptions
from harness.render import render_campaign
from harness_testlib import REPO, TINY, harness, statuses, write_campaign

CONDUCTIVITY = TINY.split("[robustness]")[0]
T600, T800 = "t3-conductivity-toy-morse-T600-r1", "t3-conductivity-toy-morse-T800-r1"


def test_retry_failed_reruns_only_the_failed_runs(tmp_path):
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, CONDUCTIVITY), out)
    script = out / "runs" / T600 / "in.lammps"
    good = script.read_text()
    script.write_text(good.replace("\nrun ", "\nrun 10 nonsense_keyword\nrun ", 1))
    first = harness("launch", str(out), "--progress-every", "0")
    assert first.returncode == 0, first.stdout + first.stderr
    assert statuses(out)[T600]["state"] == "failed" and statuses(out)[T600]["reason"] == "lammps_error"
    assert statuses(out)[T800]["state"] == "done"
    finished = (out / "runs" / T800 / "traj.lammpstrj").read_bytes()
    script.write_text(good)                                   # the cause is fixed by hand
    again = harness("launch", str(out), "--progress-every", "0")
    assert again.returncode == 0 and " started" not in again.stdout           # failed is a result: not rerun
    assert statuses(out)[T600]["state"] == "failed"
    retry = harness("launch", str(out), "--progress-every", "0", "--retry-failed")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert [line.split()[-2] for line in retry.stdout.splitlines() if line.endswith(" started")] == [T600]
    states = statuses(out)
    assert states[T600]["state"] == "done" and states[T600]["reason"] is None and states[T600]["attempts"] == 2
    assert states[T600]["step"] == states[T600]["nsteps"]
    assert states[T800]["attempts"] == 1 and (out / "runs" / T800 / "traj.lammpstrj").read_bytes() == finished
    assert (out / "runs" / T600 / "traj.lammpstrj").read_text().count("ITEM: TIMESTEP") == 11


# -- GPUs -----------------------------------------------------------------------------------------------

def test_visible_gpus_follow_cuda_visible_devices(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert visible_gpus() == ["3", "5"]
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert visible_gpus() == []
    # unset: ask nvidia-smi (a fake one here), and no GPUs where there is none
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: Fake H100 (UUID: GPU-0)'\necho 'GPU 1: Fake H100 (UUID: GPU-1)'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert visible_gpus() == ["0", "1"]
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert visible_gpus() == []


def test_accelerator_flags_by_option_and_gpus():
    manifest = {"potentials": {"gpu-pot": {"accelerators": {"kokkos": ["-k", "on", "g", "1", "-sf", "kk"],
                                                           "gpu": ["-sf", "gpu"]}},
                               "cpu-pot": {"accelerators": {}}}}
    auto = LaunchOptions(accelerator="auto")
    assert accelerator_for(manifest, "gpu-pot", auto, ["0"]) == ["-k", "on", "g", "1", "-sf", "kk"]   # the first
    assert accelerator_for(manifest, "gpu-pot", auto, []) == []                                      # no GPU
    assert accelerator_for(manifest, "cpu-pot", auto, ["0"]) == []
    assert accelerator_for(manifest, "gpu-pot", LaunchOptions(accelerator="none"), ["0"]) == []
    assert accelerator_for(manifest, "gpu-pot", LaunchOptions(accelerator="gpu"), []) == ["-sf", "gpu"]
    with pytest.raises(HarnessError, match="no accelerator 'opencl'"):
        accelerator_for(manifest, "gpu-pot", LaunchOptions(accelerator="opencl"), ["0"])


def test_child_environment_sets_the_bound_gpu_and_drops_mpi_variables(monkeypatch):
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    env = child_environment(("/opt/mpi/lib",), {"CUDA_VISIBLE_DEVICES": "5"})
    assert env["CUDA_VISIBLE_DEVICES"] == "5" and "PMI_RANK" not in env
    assert env["LD_LIBRARY_PATH"].split(os.pathsep)[0] == "/opt/mpi/lib"


OMP_POTENTIAL = (REPO / "potentials" / "toy-morse.toml").read_text().replace(
    'name = "toy-morse"', 'name = "toy-omp"') + '\n[accelerator.omp]\nargs = ["-sf", "omp", "-pk", "omp", "1"]\n'

# A LAMMPS that writes down what it was given (flags, CUDA_VISIBLE_DEVICES), then runs the real one.
WRAPPER = """#!/bin/sh
case " $* " in *" -in "*) echo "${{CUDA_VISIBLE_DEVICES-unset}}|$*" > lmp-probe.txt ;; esac
exec {real} "$@"
"""


def _omp_campaign(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "potentials").mkdir()
    (tmp_path / "potentials" / "toy-omp.toml").write_text(OMP_POTENTIAL)
    # four runs long enough (0.5 ps) that both ranks of `mpirun -n 2` get some
    text = CONDUCTIVITY.replace('"toy-morse"', '"toy-omp"').replace("[600, 800]", "[500, 600, 700, 800]").replace(
        "duration_ps = 0.1", "duration_ps = 0.5")
    out = tmp_path / "out"
    render_campaign(write_campaign(tmp_path, text), out)
    wrapper = tmp_path / "lmp-wrapper"
    wrapper.write_text(WRAPPER.format(real=find_lammps().executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return out, wrapper


def _probes(out: Path) -> dict[str, tuple[str, str, str | None]]:
    """What each run's LAMMPS was given (CUDA_VISIBLE_DEVICES, command line) and the GPU its provenance.json
    says it was bound to (None: not bound, the launcher's own value was inherited)."""
    found = {}
    for run_dir in sorted(d for d in (out / "runs").iterdir() if (d / "lmp-probe.txt").is_file()):
        cuda, argv = (run_dir / "lmp-probe.txt").read_text().strip().split("|")
        bound = json.loads((run_dir / "provenance.json").read_text())["cuda_visible_devices"]
        found[run_dir.name] = (cuda, argv, bound)
    return found


def test_each_rank_binds_its_own_gpu_and_passes_the_accelerator_flags(tmp_path, monkeypatch):
    out, wrapper = _omp_campaign(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    result = harness("launch", str(out), "--progress-every", "0", "--lmp", str(wrapper), mpi=2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GPUs visible: 2" in result.stdout
    assert all(s["state"] == "done" for s in statuses(out).values())
    # group 0 (rank 0) gets GPU 3, group 1 (rank 1) GPU 5; each run on one GPU; both ranks took runs
    by_pid: dict[int, set[str]] = {}
    for run_id, (cuda, argv, bound) in _probes(out).items():
        assert cuda == bound and cuda in ("3", "5") and argv.split()[:5] == ["-sf", "omp", "-pk", "omp", "1"]
        pid = json.loads((out / "runs" / run_id / "provenance.json").read_text())["pid"]
        by_pid.setdefault(pid, set()).add(cuda)
        assert "Last active /omp style is pair_style morse" in (out / "runs" / run_id / "log.lammps").read_text()
    assert len(by_pid) == 2 and sorted(by_pid.values(), key=sorted) == [{"3"}, {"5"}]


def test_without_gpus_auto_runs_plain_and_a_named_accelerator_still_applies(tmp_path, monkeypatch):
    out, wrapper = _omp_campaign(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    plain = harness("launch", str(out), "--progress-every", "0", "--lmp", str(wrapper), "--only", "T500")
    named = harness("launch", str(out), "--progress-every", "0", "--lmp", str(wrapper), "--only", "T600",
                    "--accelerator", "omp")
    off = harness("launch", str(out), "--progress-every", "0", "--lmp", str(wrapper), "--only", "T700",
                  "--accelerator", "none")
    assert plain.returncode == named.returncode == off.returncode == 0, plain.stdout + named.stdout + off.stdout
    probes = _probes(out)
    assert set(probes) == {f"t3-conductivity-toy-omp-T{t}-r1" for t in (500, 600, 700)}
    assert probes["t3-conductivity-toy-omp-T500-r1"][1].split()[0] == "-in"            # no accelerator flags
    assert probes["t3-conductivity-toy-omp-T600-r1"][1].split()[:2] == ["-sf", "omp"]  # asked for by name
    assert probes["t3-conductivity-toy-omp-T700-r1"][1].split()[0] == "-in"
    assert {(cuda, bound) for cuda, _, bound in probes.values()} == {("", None)}   # no GPU bound: inherited
