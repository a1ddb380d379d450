"""Property-based fuzzing of campaign and potential files (hypothesis).

Each generated case is a valid campaign (or potential) file with exactly one thing broken: a wrong type, a missing
or unknown key, a non-finite or out-of-range number, a bad pressure unit, an unknown element, or text that is not
TOML at all. Whatever the case, `harness render` must end with exit status 2, exactly one line on stderr that
names the file, no traceback, and nothing written. The ranges the cases break are the ones README "Campaign
files" and "Potential files" promise, written out here independently of the schema's code.

Over 1000 distinct cases run in process (harness.cli.main, as the console script calls it) per run of the suite, and a
few through the real command line in a subprocess. Generation is derandomized, so every run (and CI) checks the
same cases.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import math
import string
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness_testlib import REPO, harness

CAMPAIGN_CASES = 820            # examples drawn; hypothesis repeats some, so distinct files are fewer:
POTENTIAL_CASES = 480           # at least these many (together over 1000) are checked below
DISTINCT_CAMPAIGNS = 640
DISTINCT_POTENTIALS = 360
SUBPROCESS_CASES = 20          # campaign and potential files together

REFERENCE = str(REPO / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz")
TABLE_TEXT = "a model file\n"
TABLE_SHA = hashlib.sha256(TABLE_TEXT.encode()).hexdigest()

BASE_CAMPAIGN: dict[str, dict[str, Any]] = {
    "campaign": {"name": "fuzz", "potentials": ["p"], "seed": 7, "wall_time_s": 300, "restart_every_ps": 0.02,
                 "thermo_every_ps": 0.01, "timestep_fs": 1.0},
    "conductivity": {"structure": "Li7P3S11", "supercell": [1, 1, 1], "temperatures_K": [600], "duration_ps": 0.1,
                     "equilibration_ps": 0.01, "repeats": 1, "dump_interval_ps": 0.01, "thermostat_damping_fs": 100.0,
                     "timestep_fs": 1.0},
    "robustness": {"formula": "Li7P3S11", "natoms": 42, "density_g_cm3": 1.87, "min_distance_A": {"P-S": 1.9},
                   "temperatures_K": [1000], "pressures_Pa": [1e6, "1 GPa"], "duration_ps": 0.05, "repeats": 1,
                   "dump_interval_ps": 0.01, "relax": True, "relax_max_iterations": 10,
                   "relax_force_tolerance_eV_per_A": 1e-3, "thermostat_damping_fs": 100.0,
                   "barostat_damping_fs": 1000.0, "timestep_fs": 1.0},
    "melt_quench": {"structure": "Li7P3S11", "supercell": [1, 1, 1], "variants": ["npt"], "T_low_K": 300,
                    "T_high_K": 900, "heating_rate_K_per_ps": 6000, "quench_rate_K_per_ps": 6000, "hold_ps": 0.02,
                    "pressure_Pa": 1e5, "dump_interval_ps": 0.05, "thermostat_damping_fs": 100.0,
                    "barostat_damping_fs": 1000.0, "repeats": 1, "timestep_fs": 1.0},
    "forces": {"reference": REFERENCE},
    "formation": {"structures": ["Li2S"], "single_point": ["beta-Li3PS4"], "relax_box": True},
}
BASE_POTENTIAL: dict[str, Any] = {
    "name": "p", "description": "fuzz", "citation": "none", "elements": ["Li", "P", "S"],
    "pair_style": "zbl 0.9 1.3", "pair_coeff": ["* * 3 3"], "commands": ["# {{ files.table }}"],
    "packages": ["ML-SNAP"], "timestep_fs": 1.0, "masses": {"Li": 6.94},
    "files": {"table": {"path": "t.table", "sha256": TABLE_SHA}},
    "accelerator": {"kokkos": {"args": ["-k", "on"]}}, "max_ranks_per_run": 4,
}


# ------------------------------------------------------------------------------------- the promised ranges

@dataclass(frozen=True)
class Num:
    """A finite float (TOML integers allowed) with low < x (low <= x when inclusive) and x <= high."""
    low: float
    high: float
    inclusive: bool = False


@dataclass(frozen=True)
class Int:
    low: int
    high: int


@dataclass(frozen=True)
class Kind:
    name: str   # "bool", "text", "structure", "structures", "temperatures", "supercell", "pressures",
    #             "pressure", "variants", "pairs", "formula", "potentials"


TEMPERATURE = Num(0, 1e5)
DURATION = Num(0, 1e6)
TIMESTEP = Num(0.01, 100, inclusive=True)
DAMPING = Num(0, 1e7)
RATE = Num(0, 1e9)
REPEATS = Int(1, 1000)

CAMPAIGN_FIELDS: dict[str, dict[str, Any]] = {
    "campaign": {"name": Kind("text"), "potentials": Kind("potentials"), "seed": Int(0, 2**63 - 1),
                 "wall_time_s": Num(0, 1e9), "restart_every_ps": DURATION, "thermo_every_ps": DURATION,
                 "timestep_fs": TIMESTEP, "templates": Kind("path")},
    "conductivity": {"structure": Kind("structure"), "supercell": Kind("supercell"),
                     "temperatures_K": Kind("temperatures"), "duration_ps": DURATION,
                     "equilibration_ps": Num(0, 1e6, inclusive=True), "repeats": REPEATS, "dump_interval_ps": DURATION,
                     "thermostat_damping_fs": DAMPING, "timestep_fs": TIMESTEP},
    "robustness": {"formula": Kind("formula"), "natoms": Int(1, 100_000), "density_g_cm3": Num(0, 30),
                   "min_distance_A": Kind("pairs"), "temperatures_K": Kind("temperatures"),
                   "pressures_Pa": Kind("pressures"), "duration_ps": DURATION, "repeats": REPEATS,
                   "dump_interval_ps": DURATION, "relax": Kind("bool"), "relax_max_iterations": Int(1, 10_000_000),
                   "relax_force_tolerance_eV_per_A": Num(0, 1e3), "thermostat_damping_fs": DAMPING,
                   "barostat_damping_fs": DAMPING, "timestep_fs": TIMESTEP},
    "melt_quench": {"structure": Kind("structure"), "supercell": Kind("supercell"), "variants": Kind("variants"),
                    "T_low_K": Num(0, 900), "T_high_K": Num(300, 1e5), "heating_rate_K_per_ps": RATE,
                    "quench_rate_K_per_ps": RATE, "hold_ps": Num(0, 1e6, inclusive=True),
                    "pressure_Pa": Kind("pressure"), "dump_interval_ps": DURATION, "thermostat_damping_fs": DAMPING,
                    "barostat_damping_fs": DAMPING, "repeats": REPEATS, "timestep_fs": TIMESTEP},
    "forces": {"reference": Kind("path")},
    "formation": {"structures": Kind("structures"), "single_point": Kind("structures"), "relax_box": Kind("bool"),
                  "relax_max_iterations": Int(1, 10_000_000), "relax_force_tolerance_eV_per_A": Num(0, 1e3),
                  "relax_energy_tolerance": Num(0, 1, inclusive=True), "relax_box_vmax": Num(0, 1)},
}
CAMPAIGN_KEYS = [(section, key) for section, fields in CAMPAIGN_FIELDS.items() for key in fields]
POTENTIAL_FIELDS: dict[str, Any] = {
    "name": Kind("name"), "description": Kind("text"), "citation": Kind("text"), "elements": Kind("elements"),
    "pair_style": Kind("line"), "pair_coeff": Kind("lines"), "commands": Kind("lines"), "packages": Kind("packages"),
    "timestep_fs": TIMESTEP, "masses": Kind("masses"), "files": Kind("files"), "accelerator": Kind("accelerator"),
    "max_ranks_per_run": Int(1, 1_000_000),
}
KNOWN_UNITS = {"pa", "kpa", "mpa", "gpa", "bar", "kbar", "atm"}
ELEMENTS = set("""H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr
Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au
Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts
Og""".split())


# ------------------------------------------------------------------------------------------- TOML writing

def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def toml_text(data: dict[str, Any]) -> str:
    """Top-level scalars first, then one [table] per top-level dict (nested dicts inline)."""
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ invalid values

def pick(options: list[Any] | tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """One of ``options``, about uniformly (hypothesis's own one_of and sampled_from favour the first ones)."""
    options = list(options)
    return st.integers(0, 2**32).map(lambda i: options[i % len(options)])


def choice(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value of one of ``strategies``, each about equally often."""
    return pick(strategies).flatmap(lambda strategy: strategy)


NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_./", max_size=8)
DATES = st.datetimes(min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(2100, 1, 1))
SMALL_TABLES = st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=4), st.integers(0, 9), max_size=2)


def not_a_number() -> st.SearchStrategy[Any]:
    return choice(TEXT, st.booleans(), st.lists(st.floats(0.5, 2), max_size=2), SMALL_TABLES, DATES)


def bad_number(spec: Num) -> st.SearchStrategy[Any]:
    below = st.floats(max_value=spec.low, exclude_max=spec.inclusive, allow_nan=False, allow_infinity=False)
    below_int = st.integers(min_value=-2**63, max_value=math.ceil(spec.low) - 1 if spec.inclusive else math.floor(spec.low))
    above = st.floats(min_value=spec.high, exclude_min=True, allow_nan=False, allow_infinity=False)
    return choice(not_a_number(), NON_FINITE, below, below_int, above)


def bad_integer(spec: Int) -> st.SearchStrategy[Any]:
    wrong = choice(st.floats(allow_nan=True), st.integers(-5, 5).map(float), TEXT, st.booleans(),
                      st.lists(st.integers(1, 3), max_size=2), DATES)
    below = st.integers(min_value=-2**63, max_value=spec.low - 1)
    above = st.integers(min_value=spec.high + 1, max_value=2**63 - 1) if spec.high < 2**63 - 1 else st.nothing()
    return choice(wrong, below, above)


def not_text() -> st.SearchStrategy[Any]:
    return choice(st.integers(), st.floats(), st.booleans(), st.lists(TEXT, max_size=2), SMALL_TABLES, DATES)


def with_one_bad(good: list[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """``good`` with one element replaced or joined by a bad one."""
    return st.tuples(bad, st.integers(0, len(good)), st.booleans()).map(
        lambda t: good[:t[1]] + [t[0]] + good[t[1] + (1 if t[2] and t[1] < len(good) else 0):])


def bad_unit_pressure(allow_zero: bool) -> st.SearchStrategy[Any]:
    units = st.text(string.ascii_letters, min_size=1, max_size=5).filter(lambda u: u.lower() not in KNOWN_UNITS)
    number = st.floats(1e-3, 1e12).map(lambda x: f"{x:g}")
    malformed = st.sampled_from(["GPa", "", "1.2.3 GPa", "1e5", "1 G Pa", "1e999 GPa", "nan bar", "inf Pa",
                                 "-1 GPa", "1e14 Pa", "--1 bar", "1,5 GPa"] + ([] if allow_zero else ["0 Pa", "0"]))
    numeric = choice(st.floats(max_value=0.0, exclude_max=allow_zero, allow_nan=False, allow_infinity=False),
                        st.floats(min_value=1e13, exclude_min=True, allow_infinity=False), NON_FINITE, st.booleans(),
                        st.lists(st.floats(1, 2), max_size=1), SMALL_TABLES, DATES)
    return choice(st.builds(lambda n, u: f"{n} {u}", number, units), malformed, numeric)


def bad_symbol() -> st.SearchStrategy[str]:
    return st.text(string.ascii_letters, min_size=1, max_size=3).filter(lambda s: s not in ELEMENTS)


def bad_value(kind: Any, good: Any) -> st.SearchStrategy[Any]:
    if isinstance(kind, Num):
        return bad_number(kind)
    if isinstance(kind, Int):
        return bad_integer(kind)
    name = kind.name
    if name == "bool":
        return choice(st.integers(), st.sampled_from(["true", "yes", ""]), st.floats(), DATES)
    if name in ("text", "line", "path"):
        control = st.sampled_from(["a\nb", "tab\there", "nul\x00", "bell\x07"])
        if name == "path":
            control = choice(control, st.just("r" * 300), st.just("d/" * 2100))   # too long for a file system
        return choice(not_text(), control, st.just("") if name == "line" else st.nothing())
    if name == "name":
        return choice(not_text(), st.sampled_from(["", "a/b", "../x", " p", "p q", "-p", "p\n", "ä", "p" * 65]))
    if name == "structure":
        return choice(not_text(), st.sampled_from(["", "a/b", "../Li2S", "Li2S\n", "no such", "Nope", "L" * 300,
                                                    "x" * 300 + ".cif", "Li2S" * 17]))
    if name in ("structures", "potentials"):
        element = choice(not_text(), st.sampled_from(["", "\t", "n" * 256, "d/" + "f" * 300 + ".cif"]))
        empty = [st.just([])] if name == "potentials" else []
        return choice(not_text().filter(lambda v: not isinstance(v, list)), with_one_bad(list(good), element),
                         *empty)
    if name == "temperatures":
        return choice(st.just([]), not_text().filter(lambda v: not isinstance(v, list)),
                         with_one_bad(list(good), bad_number(TEMPERATURE)))
    if name == "supercell":
        return choice(st.lists(st.integers(1, 3), max_size=2), st.lists(st.integers(1, 3), min_size=4, max_size=5),
                         with_one_bad([1, 1, 1], bad_integer(Int(1, 64))),
                         st.integers(1, 3), TEXT)
    if name == "pressures":
        return choice(st.just([]), st.floats(1, 2), with_one_bad(list(good), bad_unit_pressure(allow_zero=False)))
    if name == "pressure":
        return bad_unit_pressure(allow_zero=True)
    if name == "variants":
        unknown = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8).filter(
            lambda v: v not in {"npt", "nvt", "nvt_iter1", "npt_iter2"})
        return choice(st.just([]), st.just("npt"), with_one_bad(["npt"], choice(unknown, not_text())))
    if name == "pairs":
        bad_key = choice(st.builds(lambda a, b: f"{a}-{b}", bad_symbol(), st.sampled_from(["P", "S", "Li"])),
                            st.sampled_from(["PS", "p-s", "P-S-Li", "-S", "P-", "P--S", " P-S"]))
        return choice(
            not_text().filter(lambda v: not isinstance(v, dict)),
            st.builds(lambda k: {k: 2.0}, bad_key),
            st.builds(lambda v: {"P-S": v}, bad_number(Num(0, 10))),
            st.just({"P-S": 1.9, "S-P": 2.0}))
    if name == "formula":
        uncovered = st.sampled_from(["NaCl", "Li2O", "Li3PS4O", "Na3PS4"])          # pairs without a default
        return choice(not_text(), uncovered, st.builds(lambda s: f"{s}2", bad_symbol()),
                         st.sampled_from(["", "li7p3s11", "Li7P3S11x", "Li0S", "7Li", "Li-S"]))
    if name == "elements":
        return choice(st.just([]), not_text().filter(lambda v: not isinstance(v, list)),
                         with_one_bad(["Li", "P", "S"], choice(bad_symbol(), not_text())),
                         st.just(["Li", "P", "Li"]))
    if name == "lines":
        placeholder = st.sampled_from(["{{ files.nope }}", "{{ nothing }}", "{{ files. }}", "{% if %}", "{{",
                                       "{{ elements.x.y }}", "a\nb"])
        return choice(not_text().filter(lambda v: not isinstance(v, list)),
                         with_one_bad(list(good), choice(placeholder, not_text())))
    if name == "packages":
        return choice(not_text().filter(lambda v: not isinstance(v, list)),
                         with_one_bad(["ML-SNAP"], choice(st.sampled_from(["ml-snap", "", "A B", "-X"]), not_text())))
    if name == "masses":
        return choice(not_text().filter(lambda v: not isinstance(v, dict)),
                         st.builds(lambda s: {s: 10.0}, choice(bad_symbol(), st.sampled_from(["Na", "O"]))),
                         st.builds(lambda v: {"Li": v}, bad_number(Num(0, 1000))))
    if name == "files":
        spec = {"path": "t.table", "sha256": TABLE_SHA}
        bad_sha = choice(st.text("0123456789abcdef", max_size=63), st.text("0123456789abcdef", min_size=65,
                            max_size=70), st.just("g" * 64), st.just("0" * 64), not_text())
        return choice(
            not_text().filter(lambda v: not isinstance(v, dict)),
            st.builds(lambda v: {"table": v}, not_text().filter(lambda v: not isinstance(v, dict))),
            st.just({"table": {"sha256": TABLE_SHA}}),
            st.builds(lambda v: {"table": {**spec, "sha256": v}}, bad_sha),
            st.builds(lambda v: {"table": {**spec, "path": v}},
                      choice(not_text(), st.sampled_from(["", "nope.table", "t" * 300, "t.table\n"]))),
            st.builds(lambda k: {k: spec}, st.sampled_from(["1x", "a-b", "a b", ""])),
            st.builds(lambda k: {"table": {**spec, k: 1}}, st.sampled_from(["sha", "md5", "size"])))
    if name == "accelerator":
        return choice(
            not_text().filter(lambda v: not isinstance(v, dict)),
            st.just({"kokkos": {}}), st.just({"kokkos": {"flags": ["-k"]}}),
            st.builds(lambda v: {"kokkos": {"args": v}}, not_text().filter(lambda v: not isinstance(v, list))),
            st.builds(lambda v: {"kokkos": {"args": ["-k", v]}}, choice(st.integers(), st.booleans())),
            st.builds(lambda k: {k: {"args": []}}, st.sampled_from(["", "a/b", "k k"])))
    raise AssertionError(name)


# ---------------------------------------------------------------------------------------- broken files

def unknown_key(known: set[str]) -> st.SearchStrategy[str]:
    return st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=12).filter(lambda k: k not in known)


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    table = out
    for key in path[:-1]:
        table = table[key]
    table[path[-1]] = value
    return out


def _drop(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    table = out
    for key in path[:-1]:
        table = table[key]
    del table[path[-1]]
    return out


def broken_text(valid: str) -> st.SearchStrategy[bytes]:
    """Text that is not TOML (or not UTF-8) whatever else it holds."""
    lines = valid.splitlines()
    junk = st.sampled_from(["= 1", "[[[", "a = ", "x = [1, 2", "seed = 1979-13-45", "'unterminated = 1",
                            'k = "\\q"', "[campaign]"])
    inserted = st.tuples(st.integers(0, len(lines)), junk).map(
        lambda t: "\n".join(lines[:t[0]] + [t[1]] + lines[t[0]:]).encode())
    duplicated = st.integers(0, len(lines) - 1).filter(lambda i: "=" in lines[i]).map(
        lambda i: "\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:]).encode())
    binary = st.binary(min_size=1, max_size=20).map(lambda b: b"\xff\xfe" + b + valid.encode())
    return choice(inserted, inserted, duplicated, binary)


SAFE_NAME = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)


@st.composite
def valid_campaign(draw: st.DrawFn) -> dict[str, Any]:
    """The base campaign with a few values drawn from their valid ranges (so that the cases differ in more than
    the one thing they break)."""
    data = json.loads(json.dumps(BASE_CAMPAIGN))
    data["campaign"].update(name=draw(SAFE_NAME), seed=draw(st.integers(0, 2**62)),
                            wall_time_s=draw(st.floats(1, 1e6)))
    data["conductivity"]["temperatures_K"] = draw(st.lists(st.integers(100, 2000), min_size=1, max_size=3, unique=True))
    data["robustness"]["density_g_cm3"] = draw(st.floats(1.0, 2.5))
    return data


@st.composite
def valid_potential(draw: st.DrawFn) -> dict[str, Any]:
    data = json.loads(json.dumps(BASE_POTENTIAL))
    data.update(description=draw(SAFE_NAME), timestep_fs=draw(st.floats(0.1, 10)),
                max_ranks_per_run=draw(st.integers(1, 64)), masses={"Li": draw(st.floats(1, 100))})
    return data


@st.composite
def campaign_cases(draw: st.DrawFn) -> bytes:
    mode = draw(pick(["value"] * 6 + ["unknown", "missing", "text"]))
    data = draw(valid_campaign())
    if mode == "value":
        section, key = draw(pick(CAMPAIGN_KEYS))
        good = data[section].get(key)
        return toml_text(_set(data, (section, key), draw(bad_value(CAMPAIGN_FIELDS[section][key], good)))).encode()
    if mode == "unknown":
        where = draw(pick(["", *sorted(CAMPAIGN_FIELDS)]))
        known = set(CAMPAIGN_FIELDS) if not where else set(CAMPAIGN_FIELDS[where])
        key = draw(unknown_key(known))
        value = draw(choice(st.integers(0, 9), TEXT, st.just({"x": 1})))
        return toml_text(_set(data, (where, key) if where else (key,), value)).encode()
    if mode == "missing":
        path = draw(st.sampled_from([("campaign",), ("campaign", "potentials"), ("forces", "reference"), ("tasks",)]))
        if path == ("tasks",):
            return toml_text({"campaign": data["campaign"]}).encode()
        return toml_text(_drop(data, path)).encode()
    return draw(broken_text(toml_text(data)))


@st.composite
def potential_cases(draw: st.DrawFn) -> bytes:
    mode = draw(pick(["value"] * 6 + ["unknown", "missing", "text"]))
    data = draw(valid_potential())
    if mode == "value":
        key = draw(pick(sorted(POTENTIAL_FIELDS)))
        return toml_text(_set(data, (key,), draw(bad_value(POTENTIAL_FIELDS[key], data.get(key))))).encode()
    if mode == "unknown":
        where = draw(st.sampled_from([(), ("files", "table"), ("accelerator", "kokkos")]))
        known = set(POTENTIAL_FIELDS) if not where else {"path", "sha256"} if where[0] == "files" else {"args"}
        return toml_text(_set(data, (*where, draw(unknown_key(known))), 1)).encode()
    if mode == "missing":
        key = draw(st.sampled_from(["elements", "pair_style", "pair_coeff"]))
        return toml_text(_drop(data, (key,))).encode()
    return draw(broken_text(toml_text(data)))


# -------------------------------------------------------------------------------------------- the check

GOOD_CAMPAIGN = toml_text(BASE_CAMPAIGN).encode()
GOOD_POTENTIAL = toml_text(BASE_POTENTIAL).encode()


def _folder(campaign: bytes, potential: bytes) -> tuple[tempfile.TemporaryDirectory, Path]:
    holder = tempfile.TemporaryDirectory(prefix="harness-fuzz-")
    folder = Path(holder.name)
    (folder / "potentials").mkdir()
    (folder / "potentials" / "p.toml").write_bytes(potential)
    (folder / "potentials" / "t.table").write_text(TABLE_TEXT)
    (folder / "c.toml").write_bytes(campaign)
    return holder, folder


def _assert_one_line_nothing_written(code: int, stdout: str, stderr: str, folder: Path, case: bytes) -> None:
    shown = case.decode("utf-8", "replace")
    assert code == 2, f"exit {code} for\n{shown}\nstderr: {stderr}"
    assert "Traceback" not in stderr, f"traceback for\n{shown}\n{stderr}"
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), f"stderr for\n{shown}\n{stderr!r}"
    assert any(name in lines[0] for name in ("c.toml", "p.toml", "t.table")), f"names no file: {lines[0]}"
    assert not any(word in lines[0] for word in ("function-", "Value error", "pydantic")), lines[0]   # no internals
    assert not stdout, stdout
    assert sorted(p.name for p in folder.iterdir()) == ["c.toml", "potentials"], "output left behind"
    assert sorted(p.name for p in (folder / "potentials").iterdir()) == ["p.toml", "t.table"]


def check_in_process(campaign: bytes, potential: bytes, case: bytes) -> None:
    holder, folder = _folder(campaign, potential)
    with holder:
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["render", str(folder / "c.toml"), "--out", str(folder / "out")])
        except BaseException:   # the test's own net: any escape is the failure being looked for
            raise AssertionError(f"exception escaped for\n{case.decode('utf-8', 'replace')}\n"
                                 f"{traceback.format_exc()}") from None
        _assert_one_line_nothing_written(code, out.getvalue(), err.getvalue(), folder, case)


FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def test_the_unbroken_files_render(tmp_path):
    """The base files are valid: every failure below comes from the one thing each case breaks."""
    holder, folder = _folder(GOOD_CAMPAIGN, GOOD_POTENTIAL)
    with holder:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["render", str(folder / "c.toml"), "--out", str(folder / "out")])
        assert code == 0, err.getvalue()
        assert (folder / "out" / "manifest.json").is_file()


def test_fuzzed_campaign_files_give_one_line_and_write_nothing():
    seen: list[bytes] = []

    @settings(max_examples=CAMPAIGN_CASES, **FUZZ)
    @given(campaign_cases())
    def run(case: bytes) -> None:
        seen.append(case)
        check_in_process(case, GOOD_POTENTIAL, case)

    run()
    assert len(set(seen)) >= DISTINCT_CAMPAIGNS, len(set(seen))


def test_fuzzed_potential_files_give_one_line_and_write_nothing():
    seen: list[bytes] = []

    @settings(max_examples=POTENTIAL_CASES, **FUZZ)
    @given(potential_cases())
    def run(case: bytes) -> None:
        seen.append(case)
        check_in_process(GOOD_CAMPAIGN, case, case)

    run()
    assert len(set(seen)) >= DISTINCT_POTENTIALS, len(set(seen))


def test_fuzzed_files_through_the_real_command_line():
    @settings(max_examples=SUBPROCESS_CASES, **FUZZ)
    @given(st.one_of(campaign_cases().map(lambda c: (c, GOOD_POTENTIAL)),
                     potential_cases().map(lambda p: (GOOD_CAMPAIGN, p))))
    def run(pair: tuple[bytes, bytes]) -> None:
        campaign, potential = pair
        holder, folder = _folder(campaign, potential)
        with holder:
            result = harness("render", "c.toml", "--out", "out", cwd=folder)
            _assert_one_line_nothing_written(result.returncode, result.stdout, result.stderr, folder,
                                             campaign if potential is GOOD_POTENTIAL else potential)

    run()
