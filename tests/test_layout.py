"""The direction of dependency, enforced: every import of the project is walked and checked.

- the ground (`warehouse`) imports no other package of the project;
- domain packages import the ground only, never each other (except the arrows in ALLOWED, each with its reason);
- orchestration and operations (`pipeline`, `dags`, `operations`, `docker`) and the benchmarks (`bench`) sit on top;
- nothing imports `tests`; only the tests and the benchmarks import `testkit` (their shared helpers).
"""

from __future__ import annotations

import ast
from pathlib import Path

from warehouse.settings import PROJECT_ROOT

GROUND = {"warehouse"}
DOMAIN = {"ingestion", "star_schema", "spark_scripts", "cdc_connectors", "dashboard", "flask_endpoint", "recap",
          "fake_spotify"}
TOP = {"pipeline", "dags", "operations", "docker", "bench"}
LAYER = {**dict.fromkeys(GROUND, 0), **dict.fromkeys(DOMAIN, 1), **dict.fromkeys(TOP, 2)}
# Arrows between domain packages, each for a reason.
ALLOWED = {
    ("flask_endpoint", "ingestion"): "the login service is the web front of ingestion: it stores the tokens "
                                     "ingestion polls with, proxies recently-played and imports uploaded exports",
}
PROJECT = {*LAYER, "tests", "testkit"}


def python_files() -> list[Path]:
    return sorted(path for package in PROJECT for path in (PROJECT_ROOT / package).rglob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import of a project package in `path`, at any depth of the code."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in PROJECT]
    return found


def wrong_arrow(source: str, target: str) -> str | None:
    """Why `source` may not import `target`, or None when it may."""
    if source == target:
        return None
    if target == "tests":
        return "nothing imports the tests"
    if target == "testkit":
        return None if source in ("tests", "bench") else "only the tests and the benchmarks use testkit"
    if source in ("tests", "testkit"):
        return None
    if target not in LAYER or source not in LAYER:
        return f"{target} is not part of the product"
    if LAYER[target] > LAYER[source]:
        return "an arrow against the direction of dependency (ground < domain < orchestration and operations)"
    if LAYER[source] == LAYER[target] == 1 and (source, target) not in ALLOWED:
        return "domain packages share through the ground, not through each other"
    return None


def test_every_import_follows_the_direction_of_dependency():
    wrong = []
    for path in python_files():
        source = path.relative_to(PROJECT_ROOT).parts[0]
        for line, target in imported(path):
            reason = wrong_arrow(source, target)
            if reason:
                wrong.append(f"{path.relative_to(PROJECT_ROOT)}:{line} imports {target}: {reason}")
    assert wrong == [], "\n".join(wrong)


def test_the_rule_catches_wrong_arrows(tmp_path):
    """The walk finds imports inside functions too, and the rule refuses each kind of wrong arrow."""
    module = tmp_path / "module.py"
    module.write_text("import os\n\ndef f():\n    from dashboard.queries import Replica\n    import tests.conftest\n")
    assert imported(module) == [(4, "dashboard"), (5, "tests")]
    assert wrong_arrow("warehouse", "dashboard")
    assert wrong_arrow("recap", "dashboard")
    assert wrong_arrow("dashboard", "pipeline")
    assert wrong_arrow("operations", "tests")
    assert wrong_arrow("pipeline", "testkit")
    assert wrong_arrow("flask_endpoint", "ingestion") is None
    assert wrong_arrow("operations", "spark_scripts") is None
    assert wrong_arrow("bench", "testkit") is None
