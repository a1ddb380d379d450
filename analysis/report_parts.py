"""What every task's report section is made of, and the helpers they share.

A task module (``analysis/tasks/<task>.py``) turns its results/*.csv into plain data: one
:class:`Cell` per potential for the scorecard and one :class:`Section` (paragraphs, :class:`Figure` and
:class:`Table`). The Jinja2 templates in ``analysis/report_templates/`` turn that data into HTML with
autoescaping, so names from campaign files are always shown as text. Missing values are said in words
(:func:`number` with ``missing=``), never as ``None`` or ``nan``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

# what every OVITO picture of the report is (analysis/snapshots.py renders them), said once under each gallery
SNAPSHOT_WORDS = ("Rendered with OVITO's Tachyon ray tracer; atoms wrapped into the cell, Li purple, P orange, "
                  "S yellow. Source: snapshots.csv.")

DASH = "–"
FIGURE_DPI = 130


@dataclass
class Cell:
    """One scorecard cell: the headline number, the verdict against the paper's criterion and a detail line.

    ``tone`` colours the verdict: ``good`` (meets the criterion), ``bad`` (misses it), ``mixed`` (partly),
    ``info`` (a number without a pass mark), ``missing`` (no value; ``verdict`` says why in words)."""

    headline: str
    verdict: str
    tone: str = "info"
    detail: str = ""


@dataclass
class Column:
    """A column of a curated table: the CSV column, its header (with the unit) and how to show a value."""

    key: str
    header: str
    digits: int = 3
    words: dict[str, str] = field(default_factory=dict)


@dataclass
class Table:
    """A table as text cells: ``headers`` and ``rows`` already formatted; ``csv`` names the file in data/."""

    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    csv: str | None = None
    numeric: list[bool] = field(default_factory=list)


@dataclass
class Figure:
    """A PNG beside index.html (``file``) and its caption (what is plotted and from which runs)."""

    file: str
    caption: str
    alt: str


@dataclass
class Gallery:
    """Rendered snapshots side by side (files under snapshots/ beside index.html), each with a short label."""

    caption: str
    images: list[Figure] = field(default_factory=list)


@dataclass
class Section:
    """One task's part of the page. ``full`` tables are shown collapsed, each with a link to its CSV."""

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    full: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    galleries: list[Gallery] = field(default_factory=list)


@dataclass
class ReportData:
    """What the report is made from: results/summary.json and the results/*.csv tables, read once."""

    results_dir: Path
    out_dir: Path
    summary: dict
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)

    @property
    def potentials(self) -> list[str]:
        return [str(p) for p in self.summary.get("potentials", [])]

    @property
    def tasks(self) -> list[str]:
        return [str(t) for t in self.summary.get("tasks", [])]

    def table(self, name: str) -> pd.DataFrame | None:
        """results/NAME as a DataFrame (None when the file is absent); empty cells are NaN."""
        if name not in self._tables:
            path = self.results_dir / name
            self._tables[name] = pd.read_csv(path, na_values=[""]) if path.is_file() else None
        return self._tables[name]

    def galleries(self, task: str, caption_of: Callable[[pd.DataFrame], str], per_run: bool = False) -> list[Gallery]:
        """One gallery per potential (``per_run``: per potential and run) of the task's rows of
        results/snapshots.csv; ``caption_of(rows)`` says what the pictures show."""
        table = self.table("snapshots.csv")
        if table is None or table.empty:
            return []
        mine = table[table["task"] == task]
        galleries = []
        for key in sorted({(r.potential, r.run_id if per_run else "") for r in mine.itertuples()}):
            rows = mine[(mine["potential"] == key[0]) & ((mine["run_id"] == key[1]) if key[1] else True)]
            images = [Figure(f"snapshots/{r.file}", f"{r.label} (frame {r.frame}, step {r.step})",
                             f"{r.potential}: {r.label}") for r in rows.itertuples()
                      if (self.out_dir / "snapshots" / str(r.file)).is_file()]
            if images:
                galleries.append(Gallery(caption_of(rows), images))
        return galleries

    def notes_matching(self, *words: str) -> list[str]:
        return [str(n) for n in self.summary.get("notes", []) if any(w in str(n) for w in words)]


# -- numbers as text --------------------------------------------------------------------------------
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def number(value: object, digits: int = 3, missing: str = DASH) -> str:
    """A number with ``digits`` significant figures (×10ⁿ for very small or large ones); ``missing`` when
    there is no finite value. Integers stay integers; strings pass through."""
    if is_missing(value):
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    x = float(value)  # type: ignore[arg-type]
    if x == int(x) and abs(x) < 1e6 and not isinstance(value, float):
        return str(int(x))
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e6:
        exponent = math.floor(math.log10(abs(x)))
        mantissa = f"{x / 10.0 ** exponent:.{digits}g}"
        if mantissa in ("10", "-10"):
            mantissa, exponent = mantissa[:-1], exponent + 1
        return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    text = f"{x:.{digits}g}"
    if "e" in text:  # e.g. 1.23e+03 for 1234.5 at 3 digits
        text = f"{x:.0f}"
    return text


def plus_minus(value: object, error: object, digits: int = 2, unit: str = "") -> str:
    """'23.4 ± 2.3 mS/cm', '610 ± 370', '(7.1 ± 1.1) × 10⁻⁵': the error to ``digits`` significant figures and
    the value rounded to the same decimal place; the value alone when there is no error."""
    if is_missing(value):
        return DASH
    suffix = f"\u00a0{unit}" if unit else ""
    x = float(value)  # type: ignore[arg-type]
    if is_missing(error) or float(error) <= 0 or x == 0:  # type: ignore[arg-type]
        return f"{number(value, digits + 1)}{suffix}"
    err = float(error)  # type: ignore[arg-type]
    exponent = math.floor(math.log10(abs(x))) if (abs(x) < 1e-3 or abs(x) >= 1e6) else 0
    x, err = x / 10.0 ** exponent, err / 10.0 ** exponent
    decimals = digits - 1 - math.floor(math.log10(err))
    shown = max(decimals, 0)
    text = f"{round(x, decimals):.{shown}f} ± {round(err, decimals):.{shown}f}"
    if exponent:
        text = f"({text}) × 10{str(exponent).translate(_SUPERSCRIPT)}"
    return text + suffix


def cell_text(value: object, column: Column | None = None) -> str:
    if column is not None and isinstance(value, str) and value in column.words:
        return column.words[value]
    return number(value, column.digits if column else 4)


def curated_table(frame: pd.DataFrame, columns: Sequence[Column], caption: str = "",
                  csv: str | None = None) -> Table:
    """The columns a reader needs, in the given order, formatted: only those the CSV has, and only those
    with at least one value (the full table keeps every column)."""
    present = [c for c in columns if c.key in frame.columns
               and not all(is_missing(v) or (isinstance(v, str) and not v.strip()) for v in frame[c.key])]
    rows = [[cell_text(row[c.key], c) for c in present] for _, row in frame.iterrows()]
    numeric = [pd.api.types.is_numeric_dtype(frame[c.key]) for c in present]
    return Table([c.header for c in present], rows, caption, csv, numeric)


def full_table(frame: pd.DataFrame, csv: str, caption: str = "") -> Table:
    """Every column of a CSV, as written by `harness analyze` (headers are the CSV's column names)."""
    rows = [[cell_text(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    return Table([str(c) for c in frame.columns], rows, caption or f"All columns of {csv}", csv, numeric)


def words_for_json(text: str) -> str:
    """A JSON-looking string (a dict or list someone stored in a cell) as 'key: value, ...' words."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return text
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return text
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return text


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def reference_name(path: str | None) -> str:
    """'CHGNet', 'DFT' or the file name, from a reference file's name (the report reads only results/)."""
    if not path:
        return "no reference"
    name = Path(str(path)).name
    lowered = name.lower()
    if "chgnet" in lowered:
        return "CHGNet"
    if "dft" in lowered or "pbe" in lowered or "lips25" in lowered or "lips-25" in lowered:
        return "DFT"
    return f"the reference in {name}"


# -- figures ----------------------------------------------------------------------------------------
def colours(names: Sequence[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(names)}


def save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    return path
