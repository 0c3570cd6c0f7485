"""Periods in URLs and on pages: 'all', a year 'YYYY' or a month 'YYYY-MM' (docs/metrics.md, "Periods")."""

from __future__ import annotations

import re
from typing import NoReturn

from flask import abort

from dashboard.queries import User

PERIOD_PATTERN = re.compile(r"^(all|\d{4}|\d{4}-(0[1-9]|1[0-2]))$")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def well_formed(period: str) -> str:
    """The period, or a 404 saying what a period looks like."""
    if not PERIOD_PATTERN.match(period):
        abort(404, f"bad period {period!r}: give 'all', a year 'YYYY' or a month 'YYYY-MM'")
    return period


def abort_no_statistics(user_id: str, period: str) -> NoReturn:
    abort(404, f"no statistics for user {user_id!r} and period {period!r}; see /api/users/{user_id}/periods")


def checked_period(user: User, period: str) -> str:
    """A period the user has statistics for, or a 404 saying why not."""
    if well_formed(period) not in user.periods:
        abort_no_statistics(user.user_id, period)
    return period


def group_periods(periods: list[str]) -> list[tuple[str, list[str]]]:
    """Periods for the picker: all time, years, months (newest first)."""
    groups = [("All time", [p for p in periods if p == "all"]),
              ("Years", [p for p in periods if len(p) == 4]),
              ("Months", [p for p in periods if len(p) == 7])]
    return [(label, items) for label, items in groups if items]


def period_label(period: str) -> str:
    """'all' -> 'All time', '2024' -> '2024', '2024-03' -> 'March 2024'."""
    if period == "all":
        return "All time"
    if len(period) == 7:
        return f"{MONTHS[int(period[5:]) - 1]} {period[:4]}"
    return period
