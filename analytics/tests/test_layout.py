"""The import graph keeps the layout of docs/layout.md: no arrow from tenancy into the data
apps, none between the two products, none from writes to reads, none into bench.

Every Python file of the checkout is parsed (not imported), tests and migrations included,
and so are the module names given to import_module, __import__ and include.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "node_modules", "staticfiles", ".git"}

# Package -> the packages it must never import.
FORBIDDEN = {
    "projects": {"ingest", "insights", "experiments", "rights"},
    "ingest": {"insights", "experiments", "rights"},
    "experiments": {"ingest", "insights", "rights"},
    # Data rights sit above the products: they call into them, never the reverse.
    "insights": {"rights"},
}
# Nobody imports the benchmarks: they are a client of the product, never part of it.
NOBODY_IMPORTS = {"bench"}
DYNAMIC_IMPORTERS = {"import_module", "__import__", "include"}


def imported_modules(source: str) -> set[str]:
    """Every absolute module name the source imports, statically or by a literal name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from a import b` imports a, and b may be a module of it.
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if name in DYNAMIC_IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def package_of(path: Path) -> str | None:
    """The top-level package a file belongs to; None for files at the root."""
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else None


def forbidden_arrows(importer: str | None, modules: set[str]) -> set[tuple[str | None, str]]:
    arrows = set()
    for module in modules:
        target = module.split(".")[0]
        if target == importer:
            continue
        if target in FORBIDDEN.get(importer or "", set()) or target in NOBODY_IMPORTS:
            arrows.add((importer, target))
    return arrows


def python_files() -> list[Path]:
    return [path for path in sorted(ROOT.rglob("*.py")) if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts)]


def test_the_checkout_holds_every_app():
    packages = {package_of(path) for path in python_files()}
    assert {"analytics", "projects", "ingest", "insights", "experiments", "rights", "bench"} <= packages


def test_no_module_imports_across_a_forbidden_arrow():
    offences = []
    for path in python_files():
        importer = package_of(path)
        for arrow in forbidden_arrows(importer, imported_modules(path.read_text())):
            offences.append(f"{path.relative_to(ROOT)}: {arrow[0] or 'root'} -> {arrow[1]}")
    assert offences == []


@pytest.mark.parametrize(
    ("importer", "source", "target"),
    [
        ("projects", "from ingest.models import Event", "ingest"),
        ("projects", "def f():\n    from insights import admin", "insights"),
        ("projects", "import experiments.models", "experiments"),
        ("ingest", "from insights.selectors import traffic_stats", "insights"),
        ("ingest", "from experiments import services", "experiments"),
        ("experiments", "import ingest", "ingest"),
        ("experiments", "importlib.import_module('insights.views')", "insights"),
        ("analytics", "from bench import run", "bench"),
        ("ingest", "from rights.services import erase_visitor", "rights"),
        (None, "import bench.insights", "bench"),
    ],
)
def test_the_check_catches_a_forbidden_import(importer, source, target):
    assert forbidden_arrows(importer, imported_modules(source)) == {(importer, target)}


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("insights", "from ingest.models import Event"),
        ("insights", "from projects.selectors import get_project"),
        ("ingest", "from projects.auth import authenticate_public"),
        ("experiments", "from analytics.errors import ApiError"),
        ("projects", "from . import services"),
        ("bench", "from insights import selectors"),
        ("analytics", "include('insights.urls')"),
        ("rights", "from experiments.services import erase_visitor_data"),
        ("rights", "from ingest.services import erase_visitor_data"),
    ],
)
def test_the_allowed_arrows_pass(importer, source):
    assert forbidden_arrows(importer, imported_modules(source)) == set()


def test_the_results_page_shapes_statistics_it_does_not_compute():
    # experiments.selectors computes every statistic once; report.py only words and draws it.
    imported = imported_modules((ROOT / "experiments" / "report.py").read_text())
    assert "experiments.selectors" in imported
    assert "experiments.stats" not in imported
