"""What a play may hold to be stored: the source gate's own bounds (soda/source/plays.yml).

Both ways into `plays` check them before anything is written: the export import
(`ingestion.export_reader`: the record is refused, or skipped and counted with
`--skip-invalid`) and the Web API ingestion (`ingestion.recently_played`: the
item is dropped and logged). A play the gate would fail on is never stored, so
one bad record cannot stop every user's analytics. `tests/ingestion/test_bounds.py`
checks that these numbers are the ones of the gate's contract.

- `played_at`: from 2006-01-01 00:00 UTC (no play before Spotify existed) to
  5 minutes after now (no play ends in the future);
- `ms_played`: 0 to 12 hours;
- text: no NUL character (PostgreSQL text cannot hold one) and valid Unicode
  (no lone surrogate, which JSON's `\\ud800` escapes can carry).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PLAYED_AT_MIN = datetime(2006, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)
MS_PLAYED_MAX = 12 * 3600 * 1000  # 43,200,000

# The kinds of violation: the skip reasons of an import report.
BEFORE_2006 = "played before 2006-01-01"
IN_THE_FUTURE = "played in the future"
MS_OUT_OF_RANGE = "ms_played outside 0 .. 12 h"
BAD_TEXT = "text with a NUL character or invalid Unicode"


class OutOfBounds(ValueError):
    """A value the source gate would fail on; `kind` is one of the kinds above."""

    def __init__(self, field: str, kind: str, detail: str):
        self.field, self.kind = field, kind
        super().__init__(f"{field} {detail}")


def check_played_at(field: str, at: datetime, now: datetime) -> None:
    if at < PLAYED_AT_MIN:
        raise OutOfBounds(field, BEFORE_2006, f"is before 2006-01-01 (before Spotify existed): {at.isoformat()}")
    if at > now + FUTURE_TOLERANCE:
        raise OutOfBounds(field, IN_THE_FUTURE, f"is in the future: {at.isoformat()}")


def check_ms_played(field: str, ms: int) -> None:
    if not 0 <= ms <= MS_PLAYED_MAX:
        raise OutOfBounds(field, MS_OUT_OF_RANGE,
                          f"must be a whole number of milliseconds between 0 and {MS_PLAYED_MAX} (12 h), got {ms}")


def check_text(field: str, value: str) -> None:
    """No NUL and no lone surrogate (the string must encode as UTF-8)."""
    if "\x00" in value:
        raise OutOfBounds(field, BAD_TEXT, f"contains a NUL character: {value!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise OutOfBounds(field, BAD_TEXT, f"is not valid Unicode (a lone surrogate at character "
                                               f"{exc.start}): {value!r}") from None


def check_texts(fields: tuple[str, ...], values: list) -> None:
    """`check_text` on each string of `values` (None allowed), named by `fields`; fast when all are clean."""
    clean = [v for v in values if v]
    joined = "".join(clean)
    if "\x00" not in joined and (joined.isascii() or _encodes(joined)):
        return
    for field, value in zip(fields, values, strict=True):
        if value:
            check_text(field, value)


def check_json_text(field: str, value) -> None:
    """`check_text` on every string (keys too) inside a JSON value; `field` names where, e.g. track.name."""
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(f"{field} key", key)
            check_json_text(f"{field}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_text(f"{field}[{index}]", item)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
