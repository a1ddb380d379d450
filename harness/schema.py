"""The building blocks of the strict schema of campaign and potential files (pydantic v2), and the one-line error.

Every value read from a TOML file passes through a model built from these types before any other code sees it:
unknown keys are errors, types are strict (text is not a number, true is not an integer), numbers are finite and
in a stated range, element symbols are real elements and pressures are parsed to Pa. A failed validation becomes
one line: the file, the field path as the user wrote it (``[robustness].min_distance_A.P-S``) and what was
expected (``expected a number, got 'far'``).
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

from ase.data import chemical_symbols
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, Strict, ValidationError
from pydantic_core import PydanticCustomError

from harness.units import parse_pressure_pa

# The chemical elements H..Og (ASE's table; its index 0 is the placeholder "X"); index = atomic number - 1.
ELEMENT_SYMBOLS: tuple[str, ...] = tuple(chemical_symbols[1:])
_ELEMENTS = frozenset(ELEMENT_SYMBOLS)


class StrictModel(BaseModel):
    """A table of a TOML file: no unknown keys, no type coercion (a TOML integer is accepted for a float)."""
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_default=False)


def fail(message: str) -> PydanticCustomError:
    """A validation error whose text is ``message`` exactly (no pydantic prefix); raise it from a validator."""
    return PydanticCustomError("harness", message)   # no context given: the text is taken literally


def show(value: Any) -> str:
    """A value as the user would recognise it, on one line and short: -5, 0.1, 'far', [1, 2]."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        text = str(int(value))
    elif isinstance(value, float):
        text = f"{value:.12g}"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------------------------------------ numbers

def number(*, minimum: float = 0.0, inclusive: bool = False, at_least: float | None = None, maximum: float,
           unit: str = "") -> Any:
    """A finite float with ``minimum < value`` (``<=`` when ``inclusive``), ``value >= at_least`` (a practical floor
    such as the shortest sensible timestep) and ``value <= maximum``. TOML integers are accepted, booleans are not."""
    suffix = f" {unit}" if unit else ""

    def check(value: float) -> float:
        if value < minimum or (value == minimum and not inclusive):
            if minimum == 0:
                raise fail(f"must be {'zero or positive' if inclusive else 'a positive number'}, got {show(value)}")
            raise fail(f"must be {'at least' if inclusive else 'above'} {show(minimum)}{suffix}, got {show(value)}")
        if at_least is not None and value < at_least:
            raise fail(f"must be at least {show(at_least)}{suffix}, got {show(value)}")
        if value > maximum:
            raise fail(f"must be at most {show(maximum)}{suffix}, got {show(value)}")
        return float(value)

    return Annotated[float, Strict(), AfterValidator(check)]


def integer(*, minimum: int = 1, maximum: int) -> Any:
    """An integer (not a boolean, not 1.0) with ``minimum <= value <= maximum``."""

    def check(value: int) -> int:
        if value < minimum:
            words = {1: "a positive integer", 0: "zero or a positive integer"}.get(minimum, f"an integer >= {minimum}")
            raise fail(f"must be {words}, got {value}")
        if value > maximum:
            raise fail(f"must be at most {maximum}, got {value}")
        return value

    return Annotated[int, Strict(), AfterValidator(check)]


def _pressure(minimum_pa: float, inclusive: bool, maximum_pa: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise fail(f"expected a pressure (a number in Pa or a string such as '1 GPa'), got {show(value)}")
        try:
            pa = parse_pressure_pa(value)
        except ValueError as exc:
            known = str(exc).startswith(("not a pressure", "unknown pressure unit"))
            raise fail(str(exc) if known else f"not a pressure: {value!r} (use a number in Pa or e.g. '1 GPa', "
                       "'10 bar')") from None
        if not math.isfinite(pa):
            raise fail(f"must be a finite pressure, got {show(value)}")
        if pa < minimum_pa or (pa == minimum_pa and not inclusive):
            raise fail(f"pressures must be {'zero or positive' if inclusive else 'positive'}, got {show(value)}")
        if pa > maximum_pa:
            raise fail(f"must be at most {maximum_pa:g} Pa, got {show(value)}")
        return pa
    return parse


def pressure(*, inclusive_zero: bool, maximum_pa: float = 1e13) -> Any:
    """A pressure: a number in Pa or a string with a unit ("1 GPa", "10 bar"), parsed to a float in Pa."""
    return Annotated[float, PlainValidator(_pressure(0.0, inclusive_zero, maximum_pa))]


# ------------------------------------------------------------------------------------------------- text

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _line(value: str) -> str:
    if _CONTROL.search(value):
        raise fail(f"must be one line of text without control characters, got {show(value)}")
    return value


def _nonempty(value: str) -> str:
    if not value.strip():
        raise fail("must not be empty")
    return value


def check_element(value: str) -> str:
    """An element symbol as written in the periodic table ('Li', not 'li' or 'Qq')."""
    if value not in _ELEMENTS:
        raise fail(f"unknown element symbol {value!r} (write e.g. 'Li', 'P', 'S')")
    return value


NAME_MAX = 64   # names become folder names and parts of run ids (which add ~40 characters)


def name_pattern(what: str) -> Callable[[str], str]:
    """Names that become folder names and parts of run ids: letters, digits and . _ + - only, at most 64."""
    def check(value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", value):
            raise fail(f"{what} {show(value)} may hold only letters, digits and . _ + - (it names folders and run ids)")
        if len(value) > NAME_MAX:
            raise fail(f"{what} is {len(value)} characters long (at most {NAME_MAX})")
        return value
    return check


def _path_text(value: str) -> str:
    """A file or folder path the operating system can take: each part at most 255 bytes, all at most 4096."""
    if len(value.encode()) > 4096 or any(len(part.encode()) > 255 for part in value.split("/")):
        raise fail(f"path {show(value)} is too long for a file system (at most 255 bytes a part, 4096 in all)")
    return value


Line = Annotated[str, Strict(), AfterValidator(_line)]
NonEmptyLine = Annotated[str, Strict(), AfterValidator(_line), AfterValidator(_nonempty)]
Element = Annotated[str, Strict(), AfterValidator(check_element)]
PathText = Annotated[str, Strict(), AfterValidator(_line), AfterValidator(_nonempty), AfterValidator(_path_text)]
OptionalPathText = Annotated[str, Strict(), AfterValidator(_line), AfterValidator(lambda v: _path_text(v) if v else v)]


# --------------------------------------------------------------------------------------- the one error line

_EXPECTED = {
    "float_type": "expected a number", "int_type": "expected an integer", "string_type": "expected a string",
    "bool_type": "expected true or false", "list_type": "expected a list", "dict_type": "expected a table",
    "model_type": "expected a table", "model_attributes_type": "expected a table", "tuple_type": "expected a list",
    "finite_number": "must be a finite number", "int_from_float": "expected an integer",
}


def _fields_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation (through Annotated, Optional and unions); None if there is none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _fields_of(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        for member in typing.get_args(annotation):
            found = _fields_of(member)
            if found is not None:
                return found
    return None


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that validated the table at ``loc`` (to list its known fields)."""
    model: type[BaseModel] | None = root
    annotation: Any = None
    for part in loc:
        if model is not None and isinstance(part, str) and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            model = _fields_of(annotation)
            continue
        # a key of a dict or an index of a list: step into the value type
        while typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        args = typing.get_args(annotation)
        if not args:
            return None
        annotation = args[-1]
        model = _fields_of(annotation)
    return model


def field_path(loc: tuple[str | int, ...], table_depth: Callable[[tuple[str | int, ...]], int]) -> str:
    """``('robustness', 'min_distance_A', 'P-S')`` -> ``[robustness].min_distance_A.P-S``: the leading keys that
    name a TOML table go in brackets, list indices as ``[i]``."""
    depth = min(table_depth(loc), len(loc))
    head = ".".join(str(p) for p in loc[:depth])
    text = f"[{head}]" if head else ""
    for part in loc[depth:]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def error_line(exc: ValidationError, root: type[BaseModel], table_depth: Callable[[tuple[str | int, ...]], int],
               top_is_sections: bool = False) -> str:
    """The first validation error as ``PATH: WHAT WAS EXPECTED`` (or just ``WHAT`` for the file as a whole)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(p for p in error["loc"] if p != "[key]")
    kind = error["type"]
    if kind in ("extra_forbidden", "missing") and loc:
        parent, key = loc[:-1], loc[-1]
        where = field_path(parent, table_depth)
        model = _model_at(root, parent)
        if kind == "missing":
            if not parent and top_is_sections:
                message = f"missing section [{key}]"
            else:
                message = f"missing field {key!r}"
                info = model.model_fields.get(str(key)) if model is not None else None
                if info is not None and info.description:
                    message += f" ({info.description})"
        else:
            known = ", ".join(model.model_fields) if model is not None else ""
            if not parent and top_is_sections:
                message = f"unknown task or section [{key}] (known: {known})"
            else:
                message = f"unknown field {key!r}" + (f" (known: {known})" if known else "")
        return f"{where}: {message}" if where else message
    where = field_path(loc, table_depth)
    if kind in _EXPECTED:
        message = f"{_EXPECTED[kind]}, got {show(error['input'])}"
    elif kind == "too_short":
        wanted = error.get("ctx", {}).get("min_length", 1)
        message = f"list at least {'one value' if wanted == 1 else f'{wanted} values'}, got {show(error['input'])}"
    elif kind == "too_long":
        message = f"list at most {error.get('ctx', {}).get('max_length')} values, got {show(error['input'])}"
    elif kind == "literal_error":
        message = f"expected one of {error.get('ctx', {}).get('expected')}, got {show(error['input'])}"
    elif kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
    else:
        message = str(error["msg"])
    message = " ".join(message.split())   # one line, whatever the library said
    return f"{where}: {message}" if where else message
