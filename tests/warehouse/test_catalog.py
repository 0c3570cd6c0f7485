"""Every statistic of the catalog has all its parts, and nothing exists outside the catalog.

A statistic is: its catalog entry (warehouse/catalog.py), its Spark module
(spark_scripts/statistics/<name>.py with a function <name>), its Soda contract
(soda/analytics/<name>.yml, `checks for <name>`), its table analytics.<name> in
main and in the replica (migrations). The rest reads the catalog.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from warehouse.catalog import CATALOG, STATISTICS, soda_variables
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT

MODULES = PROJECT_ROOT / "spark_scripts" / "statistics"
CONTRACTS = PROJECT_ROOT / "soda" / "analytics"


def module_functions(path: Path) -> set[str]:
    return {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}


def missing_parts(statistic: str, main_tables: set[str], replica_tables: set[str]) -> list[str]:
    """What `statistic` lacks among module, function, Soda file and tables."""
    missing = []
    module = MODULES / f"{statistic}.py"
    if not module.exists():
        missing.append(f"Spark module {module.relative_to(PROJECT_ROOT)}")
    elif statistic not in module_functions(module):
        missing.append(f"function {statistic} in {module.relative_to(PROJECT_ROOT)}")
    contract = CONTRACTS / f"{statistic}.yml"
    if not contract.exists():
        missing.append(f"Soda file {contract.relative_to(PROJECT_ROOT)}")
    elif f"checks for {statistic}" not in yaml.safe_load(contract.read_text()):
        missing.append(f"`checks for {statistic}` in {contract.relative_to(PROJECT_ROOT)}")
    for database, tables in (("main", main_tables), ("replica", replica_tables)):
        if statistic not in tables:
            missing.append(f"table analytics.{statistic} in {database} (a migration)")
    return missing


def analytics_tables(settings, database: str) -> set[str]:
    with connect(database, settings) as conn:
        return {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")}


def test_every_statistic_has_its_module_contract_and_tables(dbs):
    main, replica = analytics_tables(dbs, "main"), analytics_tables(dbs, "replica")
    missing = {name: parts for name in STATISTICS if (parts := missing_parts(name, main, replica))}
    assert missing == {}
    modules = {path.stem for path in MODULES.glob("*.py") if not path.stem.startswith("_")}
    contracts = {path.stem for path in CONTRACTS.glob("*.yml")}
    assert modules - set(STATISTICS) == set(), "Spark modules of statistics the catalog does not name"
    assert contracts - set(STATISTICS) == set(), "Soda files of statistics the catalog does not name"
    assert (main | replica) - set(STATISTICS) == set(), "analytics tables the catalog does not name"


def test_a_statistic_without_its_parts_is_named(dbs):
    """The check above can fail: a catalog entry with no module, Soda file or table is reported part by part."""
    main, replica = analytics_tables(dbs, "main"), analytics_tables(dbs, "replica")
    assert missing_parts("listening_moods", main, replica) == [
        "Spark module spark_scripts/statistics/listening_moods.py",
        "Soda file soda/analytics/listening_moods.yml",
        "table analytics.listening_moods in main (a migration)",
        "table analytics.listening_moods in replica (a migration)",
    ]


def test_fixed_size_contracts_count_the_catalogs_rows():
    """A fixed-size statistic's Soda file checks its row count through the catalog's variable, not a literal."""
    variables = soda_variables()
    assert variables["HOUR_OF_DAY_ROWS"] == "24" and variables["LISTENING_CLOCK_ROWS"] == "168"
    for statistic in CATALOG:
        if statistic.fixed_rows:
            text = (CONTRACTS / f"{statistic.name}.yml").read_text()
            assert f"${{{statistic.name.upper()}_ROWS}}" in text, statistic.name
