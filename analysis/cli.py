"""Command line: ``harness analyze [DIR]``, ``harness analyze msd|contacts|forces|jumps ...``, ``harness report [DIR]``.

harness/cli.py hands the arguments after ``analyze`` to :func:`main` and those after ``report`` to
:func:`report_main`. Errors print one line to stderr and return 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from analysis.errors import AnalysisError
from harness.errors import HarnessError
from harness.rundir import RESULTS_DIR, read_json

SUBCOMMANDS = ("msd", "contacts", "forces", "jumps")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every error is one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise AnalysisError(f"{self.prog}: {message}")


def _json_text(value: Any) -> str:
    """``value`` as indented JSON, numpy numbers as Python's and NaN or infinity as null."""
    from analysis.results import json_safe

    return json.dumps(json_safe(value), indent=2)


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(_json_text(result))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif isinstance(value, list) and value and isinstance(value[0], float):
            value = " ".join(f"{v:.4g}" for v in value)
        print(f"{key:<{width}}  {value}")


def _msd(argv: list[str]) -> int:
    from analysis.msd import diffusion_from_dump

    parser = _Parser(prog="harness analyze msd", description="MSD and diffusion coefficient of one species")
    parser.add_argument("dump", type=Path)
    parser.add_argument("--species", default=None, help="element name (dump column 'element'), e.g. Li")
    parser.add_argument("--type", dest="atom_type", type=int, default=None, help="LAMMPS atom type instead")
    parser.add_argument("--timestep-ps", type=float, required=True, help="MD time step in ps (e.g. 0.002)")
    parser.add_argument("--fit-start-ps", type=float, default=None)
    parser.add_argument("--fit-end-ps", type=float, default=None)
    parser.add_argument("--blocks", type=int, default=5, help="blocks for the D uncertainty (default 5)")
    parser.add_argument("--allow-truncated", action="store_true", help="drop a truncated final frame")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.species is None and args.atom_type is None:
        args.species = "Li"
    result = diffusion_from_dump(args.dump, args.timestep_ps, species=args.species if args.atom_type is None else None,
                                 atom_type=args.atom_type, fit_start_ps=args.fit_start_ps,
                                 fit_end_ps=args.fit_end_ps, n_blocks=args.blocks,
                                 allow_truncated=args.allow_truncated)
    output = result.summary()
    output.pop("block_d_cm2_per_s")
    _print(output, args.json)
    return 0


def _contacts(argv: list[str]) -> int:
    from analysis.contacts import frame_contacts

    parser = _Parser(prog="harness analyze contacts", description="per-frame minimum interatomic distance")
    parser.add_argument("dump", type=Path)
    parser.add_argument("--threshold", type=float, default=1.0, help="contact distance in Å (inclusive)")
    parser.add_argument("--timestep-ps", type=float, default=None, help="MD time step in ps, to print times")
    parser.add_argument("--allow-truncated", action="store_true", help="drop a truncated final frame")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    frames = frame_contacts(args.dump, args.timestep_ps or 0.0, args.threshold, args.allow_truncated)
    n_contact = sum(f.contact for f in frames)
    if args.json:
        print(_json_text({
            "threshold_A": args.threshold, "n_frames": len(frames), "n_contact_frames": n_contact,
            "close_contact_fraction": n_contact / len(frames) if frames else None,
            "frames": [{"timestep": f.timestep, "time_ps": f.time_ps if args.timestep_ps else None,
                        "min_distance_A": f.min_distance_A, "contact": f.contact} for f in frames]}))
        return 0
    print("timestep  time_ps  min_distance_A  contact")
    for f in frames:
        time = f"{f.time_ps:.6g}" if args.timestep_ps else "-"
        print(f"{f.timestep}  {time}  {f.min_distance_A:.4f}  {'yes' if f.contact else 'no'}")
    print(f"frames with a pair <= {args.threshold:g} Å: {n_contact} of {len(frames)}")
    return 0


def _jumps(argv: list[str]) -> int:
    from analysis.jumps import DEFAULT_CAPTURE_RADIUS_A, jumps_from_dump

    parser = _Parser(prog="harness analyze jumps",
                     description="hops between sites (the reference frame's positions) and residence times")
    parser.add_argument("dump", type=Path)
    parser.add_argument("--species", default=None, help="element name (dump column 'element'), default Li")
    parser.add_argument("--type", dest="atom_type", type=int, default=None, help="LAMMPS atom type instead")
    parser.add_argument("--timestep-ps", type=float, required=True, help="MD time step in ps (e.g. 0.002)")
    parser.add_argument("--capture-radius", type=float, default=DEFAULT_CAPTURE_RADIUS_A,
                        help="Å; an atom changes site when it comes this close to another site (default 1.0)")
    parser.add_argument("--reference-frame", type=int, default=0, help="frame whose positions are the sites")
    parser.add_argument("--allow-truncated", action="store_true", help="drop a truncated final frame")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.species is None and args.atom_type is None:
        args.species = "Li"
    result = jumps_from_dump(args.dump, args.timestep_ps, species=args.species if args.atom_type is None else None,
                             atom_type=args.atom_type, capture_radius_A=args.capture_radius,
                             reference_frame=args.reference_frame, allow_truncated=args.allow_truncated)
    _print(result.summary(), args.json)
    return 0


def _forces(argv: list[str]) -> int:
    from analysis.forces import force_errors_from_files

    parser = _Parser(prog="harness analyze forces", description="force errors against an extxyz reference")
    parser.add_argument("extxyz", type=Path)
    parser.add_argument("forces_dump", type=Path)
    parser.add_argument("--energies", type=Path, default=None, help="energies.dat (frame pe_eV)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = force_errors_from_files(args.extxyz, args.forces_dump, args.energies)
    output = {"nframes": result.nframes, "force_rmse_eV_per_A": result.force_rmse_eV_per_A,
              "force_mae_eV_per_A": result.force_mae_eV_per_A,
              "energy_rmse_meV_per_atom": result.energy_rmse_meV_per_atom,
              "energy_mae_meV_per_atom": result.energy_mae_meV_per_atom,
              "frame_force_rmse_eV_per_A": [float(v) for v in result.frame_force_rmse_eV_per_A]}
    _print(output, args.json)
    return 0


def _campaign(argv: list[str]) -> int:
    from analysis.pipeline import analyze_campaign
    from analysis.results import SUMMARY_NAME, Options

    parser = _Parser(prog="harness analyze", description="analyse a campaign: DIR/results/*.csv")
    parser.add_argument("dir", nargs="?", type=Path, default=Path("campaign"))
    parser.add_argument("--formation-reference", type=Path, default=None,
                        help="CSV with columns structure,E_f_meV_per_atom")
    parser.add_argument("--fit-start-ps", type=float, default=None)
    parser.add_argument("--fit-end-ps", type=float, default=None)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=1.0, help="close-contact distance in Å")
    parser.add_argument("--band", default="crystal", choices=["crystal", "all", "highlighted"],
                        help="rows of the paper's Table 2 that span the accepted σ298 band")
    parser.add_argument("--capture-radius", type=float, default=1.0,
                        help="Li site capture radius in Å for the jump statistics (default 1.0)")
    parser.add_argument("--cutoff", type=float, default=2.5,
                        help="P-S distance in Å for the melt-quench PS4 check (default 2.5)")
    args = parser.parse_args(argv)
    options = Options(fit_start_ps=args.fit_start_ps, fit_end_ps=args.fit_end_ps, n_blocks=args.blocks,
                      threshold_A=args.threshold, band=args.band, formation_reference=args.formation_reference,
                      capture_radius_A=args.capture_radius, coordination_cutoff_A=args.cutoff)
    paths = analyze_campaign(args.dir, options)
    for path in paths:
        print(path)
    summary = read_json(args.dir / RESULTS_DIR / SUMMARY_NAME)
    for note in summary.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    return 0


def _run(function, argv: list[str], prog: str) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(argv)
    except HarnessError as error:   # AnalysisError, or the core's (harness.rundir, harness.elements)
        print(f"{prog}: error: {error}", file=sys.stderr)
    except OSError as error:
        print(f"{prog}: error: cannot read {error.filename or 'input'}: {error.strerror}", file=sys.stderr)
    except (ValueError, KeyError) as error:
        text = str(error) if not isinstance(error, KeyError) else f"missing key {error}"
        print(f"{prog}: error: {type(error).__name__}: {text}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    """``harness analyze [DIR]`` or ``harness analyze msd|contacts|forces|jumps ...``; returns the exit status."""
    if argv and argv[0] in SUBCOMMANDS:
        function = {"msd": _msd, "contacts": _contacts, "forces": _forces, "jumps": _jumps}[argv[0]]
        return _run(function, argv[1:], f"harness analyze {argv[0]}")
    return _run(_campaign, argv, "harness analyze")


def _report(argv: list[str]) -> int:
    from analysis.report import write_report

    parser = _Parser(prog="harness report", description="write DIR/report/index.html from DIR/results")
    parser.add_argument("dir", nargs="?", type=Path, default=Path("campaign"))
    args = parser.parse_args(argv)
    print(write_report(args.dir))
    return 0


def report_main(argv: list[str]) -> int:
    """``harness report [DIR]``; returns the exit status."""
    return _run(_report, argv, "harness report")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
