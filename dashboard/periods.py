"""Periods in URLs and on pages: 'all', a year 'YYYY', a month 'YYYY-MM' or a rolling period such as
'last-4-weeks' (docs/metrics.md, "Local time and periods")."""

from __future__ import annotations

import re
from datetime import date
from typing import NoReturn

from flask import abort

from dashboard.queries import User
from warehouse.catalog import ROLLING_PERIODS

PERIOD_PATTERN = re.compile(r"^(all|\d{4}|\d{4}-(0[1-9]|1[0-2])|" + "|".join(map(re.escape, ROLLING_PERIODS)) + ")$")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def well_formed(period: str) -> str:
    """The period, or a 404 saying what a period looks like."""
    if not PERIOD_PATTERN.match(period):
        abort(404, f"bad period {period!r}: give 'all', a year 'YYYY', a month 'YYYY-MM' or a rolling period "
                   f"({', '.join(map(repr, ROLLING_PERIODS))})")
    return period


def abort_no_statistics(user_id: str, period: str) -> NoReturn:
    abort(404, f"no statistics for user {user_id!r} and period {period!r}; see /api/users/{user_id}/periods")


def checked_period(user: User, period: str) -> str:
    """A period the user has statistics for, or a 404 saying why not."""
    if well_formed(period) not in user.periods:
        abort_no_statistics(user.user_id, period)
    return period


def group_periods(periods: list[str]) -> list[tuple[str, list[str]]]:
    """Periods for the picker: all time, the rolling periods (shortest first), years, months (newest first)."""
    groups = [("All time", [p for p in periods if p == "all"]),
              ("Rolling", [p for p in ROLLING_PERIODS if p in periods]),
              ("Years", [p for p in periods if len(p) == 4]),
              ("Months", [p for p in periods if len(p) == 7])]
    return [(label, items) for label, items in groups if items]


def period_label(period: str, user: User | None = None) -> str:
    """'all' -> 'All time', 'last-4-weeks' -> 'Last 4 weeks', '2024' -> '2024', '2024-03' -> 'March 2024'; with
    the `user`, a rolling period with the days its overview row says it spans: 'Last 4 weeks · 7 Nov – 4 Dec 2026'."""
    if period == "all":
        return "All time"
    if period in ROLLING_PERIODS:
        amount, unit = ROLLING_PERIODS[period]
        days = user.days(period) if user else None
        return f"Last {amount} {unit}" + (f" · {days_label(*days)}" if days else "")
    if len(period) == 7:
        return f"{MONTHS[int(period[5:]) - 1]} {period[:4]}"
    return period


def days_label(first: date, last: date) -> str:
    """'7 Nov – 4 Dec 2026', '25 Dec 2025 – 21 Jan 2026': the year once when both days share it."""
    start = f"{first.day} {MONTHS[first.month - 1][:3]}" + ("" if first.year == last.year else f" {first.year}")
    return f"{start} – {last.day} {MONTHS[last.month - 1][:3]} {last.year}"


def by_month(period: str) -> bool:
    """Whether a page charts the period month by month: 'all' and a year, made of whole local months (not a
    month itself, nor a rolling period, whose first day cuts its first month)."""
    return period == "all" or len(period) == 4
