"""Imports run one way: the apps users name (accounts, alerts, watchlists, backtests) import jobs,
jobs imports stocks, stocks imports thetool; never back up. jobs tells the apps above it what
happened through jobs.signals and jobs.kinds instead."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ABOVE_JOBS = {"accounts", "alerts", "watchlists", "backtests"}
NOT_BELOW = {"jobs": ABOVE_JOBS, "stocks": ABOVE_JOBS | {"jobs"}}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports anywhere (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules_of(app: str) -> list[Path]:
    return [p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts]


@pytest.mark.parametrize("app", sorted(NOT_BELOW))
def test_an_app_never_imports_the_apps_built_on_it(app):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & NOT_BELOW[app])
        for path in modules_of(app)
        if imported_packages(path) & NOT_BELOW[app]
    }

    assert wrong == {}
