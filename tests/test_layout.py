"""The house's layout, read from the source (ast, no imports of the code under test): imports run one way.

harness/ renders, launches and reads run folders without the analysis package (only the command-line entry point,
harness/cli.py, hands `harness analyze` and `harness report` to it); analysis/ reads run folders and takes from
harness/ only the shared core. Every task of the render-side registry ships the templates it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The only harness/ module that may import analysis: the command line, which dispatches `harness analyze/report`.
HARNESS_MAY_IMPORT_ANALYSIS = {"harness/cli.py"}

# The shared core: what analysis/ may import from harness/. units, elements, errors and the run-directory contract
# (rundir), and the readers of the input files both sides read: the Task 2 reference extxyz (extxyz) and the Task 1
# formation reference CSV (formation_reference).
CORE_MODULES = ("harness.units", "harness.elements", "harness.errors", "harness.rundir", "harness.extxyz",
                "harness.formation_reference")

_IMPORTERS = ("import_module", "__import__")   # importlib.import_module("analysis.x"), __import__("analysis")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, dotted name) of everything a module imports, anywhere in it (functions too): ``import a.b`` gives a.b,
    ``from a import b`` gives a.b (b may be a module), relative imports are resolved, and string arguments of
    importlib.import_module / __import__ are included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [(node.lineno, ".".join(p for p in (base, alias.name if alias.name != "*" else "") if p))
                      for alias in node.names]
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in _IMPORTERS and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_harness_does_not_import_analysis():
    """No module of harness/ but the command line imports analysis, in any form (also inside functions)."""
    offences = [f"{path.relative_to(REPO)}:{line} imports {name}"
                for path in _modules("harness") if str(path.relative_to(REPO)) not in HARNESS_MAY_IMPORT_ANALYSIS
                for line, name in imported_modules(path, _module_name(path)) if _is_under(name, "analysis")]
    assert not offences, "harness/ must not import analysis/:\n" + "\n".join(offences)


def test_analysis_imports_only_the_core_of_harness():
    """analysis/ reads files plus the shared core: from harness/ only CORE_MODULES."""
    offences = [f"{path.relative_to(REPO)}:{line} imports {name}"
                for path in _modules("analysis")
                for line, name in imported_modules(path, _module_name(path))
                if _is_under(name, "harness") and not any(_is_under(name, core) for core in CORE_MODULES)]
    assert not offences, (f"analysis/ may import from harness/ only {', '.join(CORE_MODULES)}:\n"
                          + "\n".join(offences))


def test_every_registered_task_has_its_templates():
    """Each task of the registry lives in harness/tasks/NAME.py, NAME its campaign section, and every template it
    names exists in templates/."""
    from harness.paths import templates_dir
    from harness.tasks import REGISTRY
    assert REGISTRY, "the registry is empty"
    for task in REGISTRY:
        assert task.plan.__module__ == f"harness.tasks.{task.name}", \
            f"task {task.name}: its planner lives in {task.plan.__module__}, not harness/tasks/{task.name}.py"
        assert (REPO / "harness" / "tasks" / f"{task.name}.py").is_file()
        assert task.templates, f"task {task.name} names no template"
        for template in task.templates:
            assert (templates_dir() / template).is_file(), f"task {task.name}: template {template} is missing"


@pytest.mark.parametrize("source, expected", [
    ("import analysis", ["analysis"]),
    ("import analysis.forces as f", ["analysis.forces"]),
    ("from analysis import formation", ["analysis.formation"]),
    ("def f():\n    from analysis.errors import AnalysisError\n", ["analysis.errors.AnalysisError"]),
    ("from .. import analysis", ["analysis"]),
    ("import importlib\nimportlib.import_module('analysis.cli')", ["importlib", "analysis.cli"]),
])
def test_the_import_finder_sees_every_form(source, expected, tmp_path):
    """The checks above can fail: each form of importing analysis is found (here in a module harness.x)."""
    (tmp_path / "x.py").write_text(source)
    assert [name for _, name in imported_modules(tmp_path / "x.py", "harness.x")] == expected
