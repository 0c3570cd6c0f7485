"""Checking a Web API answer before anything of it is stored: one refusal names what was asked and the field.

`Refused` subclasses name the kind of thing asked for (`ingestion.album_tracks`: an album's track list,
`ingestion.playlists`: a playlist); `integer` and `text` check one field's value, raising the given kind.
"""

from __future__ import annotations

from ingestion.bounds import OutOfBounds, check_text

INT_MAX = 2**31 - 1


class Refused(ValueError):
    """An answer we do not store: `what` `subject`'s field `field` and what is wrong with it."""

    what = "answer of"

    def __init__(self, subject: str, field_name: str, problem: str):
        self.subject, self.field = subject, field_name
        super().__init__(f"{self.what} {subject}: {field_name} {problem}")


def integer(refused: type[Refused], subject: str, name: str, value, low: int, high: int = INT_MAX) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise refused(subject, name, f"must be an integer, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise refused(subject, name, f"must be between {low} and {high}, got {value}")
    return value


def text(refused: type[Refused], subject: str, name: str, value, empty_ok: bool = True) -> str:
    """A string the database can hold (no NUL, valid Unicode); empty only when `empty_ok`."""
    if not isinstance(value, str):
        raise refused(subject, name, f"must be a string, got {type(value).__name__} {value!r}")
    if not value and not empty_ok:
        raise refused(subject, name, "must not be empty")
    try:
        check_text(name, value)
    except OutOfBounds as exc:
        raise refused(subject, name, str(exc).removeprefix(f"{name} ")) from None
    return value


def page_items(refused: type[Refused], subject: str, page: dict, offset: int, total: int, asked: int,
               unit: str) -> list:
    """The `items` of one page of a paged list (asked at `offset`, `asked` a page, `total` in all; `unit`
    names them): a non-empty list, no longer than asked, and not past `total`."""
    items = page.get("items")
    if not isinstance(items, list):
        raise refused(subject, "items", f"must be a list, got {type(items).__name__}")
    if not items:
        raise refused(subject, "items", f"is empty at offset {offset}, before the {total} {unit} of `total`")
    if len(items) > asked or offset + len(items) > total:
        raise refused(subject, "items", f"holds more {unit} than asked or than `total` ({total}): "
                                        f"{len(items)} at offset {offset}")
    return items
