"""The order and page of a paged statistic (a whole ranking) in URLs: `?sort=...&page=N&per_page=N`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request

from warehouse.catalog import BY_NAME, PAGE_SIZE

MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Paging:
    sort: str  # a key of the statistic's `sorts`
    page: int  # from 1
    per_page: int

    @property
    def bounds(self) -> dict[str, int]:
        """The page's rows as query parameters: those after the first `offset`, `limit` of them."""
        return {"offset": (self.page - 1) * self.per_page, "limit": self.per_page}

    def pages(self, rows_total: int) -> int:
        """How many pages `rows_total` rows make (at least 1: an empty ranking has one empty page)."""
        return max(1, -(-rows_total // self.per_page))


def _number(name: str, default: int, highest: int) -> int:
    text = request.args.get(name, str(default))
    if not text.isdigit() or not 1 <= int(text) <= highest:
        abort(400, f"bad {name} {text!r}: give a whole number from 1 to {highest:,}")
    return int(text)


def requested_paging(statistic: str) -> Paging:
    """The request's order and page of `statistic`, or a 400 saying what they may be."""
    sorts = BY_NAME[statistic].sorts
    sort = request.args.get("sort", next(iter(sorts)))
    if sort not in sorts:
        abort(400, f"bad sort {sort!r}: {statistic} sorts by {' or '.join(sorts)}")
    return Paging(sort, _number("page", 1, MAX_PAGE), _number("per_page", PAGE_SIZE, MAX_PER_PAGE))
