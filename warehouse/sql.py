"""SQL shared by every writer: "insert new rows, update a row only when its values changed".

An update that rewrites identical values still writes a new row version, fires
replication and wakes Debezium; these statements leave unchanged rows untouched.
"""

from __future__ import annotations

from collections.abc import Sequence


def upsert_changed(table: str, key: Sequence[str], columns: Sequence[str], select: str, *,
                   alias: str = "d", compared: Sequence[str] | None = None) -> str:
    """`INSERT INTO table (columns) <select> ON CONFLICT (key) DO UPDATE ... WHERE <values differ>`.

    Every non-key column is updated; `compared` (default: every non-key column)
    are the columns whose difference makes a row changed. Append `RETURNING
    (xmax = 0) AS inserted` to tell inserts from updates.
    """
    updated = [c for c in columns if c not in key]
    compared = updated if compared is None else list(compared)
    return (
        f"INSERT INTO {table} AS {alias} ({', '.join(columns)}) {select} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in updated)
        + f" WHERE ({', '.join(f'{alias}.{c}' for c in compared)}) IS DISTINCT FROM "
        f"({', '.join(f'excluded.{c}' for c in compared)})"
    )
