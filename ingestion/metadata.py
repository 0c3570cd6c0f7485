"""Checking Spotify's track, album and artist objects before anything of them is stored.

A recently-played item's track (with its simplified album and artists) and each object an enrichment call
answers are checked field by field against what `tracks`, `albums` and `artists` hold: a wrong type, a
number out of range or text PostgreSQL cannot hold refuses the object, named by its kind, its id and the
field (`MetadataRefused`). A refused recently-played item is dropped and logged, as an out-of-bounds one
is; a refused enrichment answer is queued with that message (`enrichment_queue.last_error`), like an id
Spotify does not know, and nothing else of its call is lost.
"""

from __future__ import annotations

import re

from ingestion.answers import INT_MAX, Refused, integer, text

RELEASE_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
PRECISIONS = ("year", "month", "day")


class MetadataRefused(Refused):
    """Metadata we do not store: names the object (kind and id) and the field."""

    what = "metadata of"


def _subject(kind: str, obj) -> str:
    object_id = obj.get("id") if isinstance(obj, dict) else None
    return f"{kind} {object_id[:60]!r}" if isinstance(object_id, str) else f"{kind} without an id"


def _object(subject: str, name: str, value, optional: bool = False) -> dict | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise MetadataRefused(subject, name, f"must be an object, got {type(value).__name__}")
    return value


def _list(subject: str, name: str, value) -> list:
    """A list, or none given (an empty one)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MetadataRefused(subject, name, f"must be a list, got {type(value).__name__}")
    return value


def _optional_integer(subject: str, name: str, value, low: int, high: int = INT_MAX) -> None:
    if value is not None:
        integer(MetadataRefused, subject, name, value, low, high)


def _optional_text(subject: str, name: str, value) -> None:
    if value is not None:
        text(MetadataRefused, subject, name, value)


def _optional_boolean(subject: str, name: str, value) -> None:
    if value is not None and not isinstance(value, bool):
        raise MetadataRefused(subject, name, f"must be true or false, got {type(value).__name__} {value!r}")


def _identified(subject: str, obj: dict, where: str = "") -> None:
    text(MetadataRefused, subject, f"{where}id", obj.get("id"), empty_ok=False)
    text(MetadataRefused, subject, f"{where}name", obj.get("name"))


def _artists(subject: str, obj: dict, where: str = "") -> None:
    """Simplified artists: an id (none for some local files) and a name each."""
    for index, artist in enumerate(_list(subject, f"{where}artists", obj.get("artists"))):
        name = f"{where}artists[{index}]"
        _object(subject, name, artist)
        _optional_text(subject, f"{name}.id", artist.get("id"))
        text(MetadataRefused, subject, f"{name}.name", artist.get("name"))


def _images(subject: str, obj: dict, where: str = "") -> None:
    for index, image in enumerate(_list(subject, f"{where}images", obj.get("images"))):
        _object(subject, f"{where}images[{index}]", image)
        _optional_text(subject, f"{where}images[{index}].url", image.get("url"))


def check_album(obj, subject: str | None = None, where: str = "") -> dict:
    """An album object (full, or simplified inside a track: `where` then names it, e.g. `album.`)."""
    subject = subject or _subject("album", obj)
    _object(subject, where.rstrip(".") or "answer", obj)
    _identified(subject, obj, where)
    _optional_text(subject, f"{where}album_type", obj.get("album_type"))
    _artists(subject, obj, where)
    release_date, precision = obj.get("release_date"), obj.get("release_date_precision")
    _optional_text(subject, f"{where}release_date", release_date)
    if release_date is not None and not RELEASE_DATE.fullmatch(release_date):
        raise MetadataRefused(subject, f"{where}release_date",
                              f"must be a year, year-month or date, got {release_date[:40]!r}")
    if precision is not None and precision not in PRECISIONS:
        raise MetadataRefused(subject, f"{where}release_date_precision",
                              f"must be one of {', '.join(PRECISIONS)}, got {str(precision)[:40]!r}")
    _optional_integer(subject, f"{where}total_tracks", obj.get("total_tracks"), 0)
    _images(subject, obj, where)
    return obj


def check_track(obj) -> dict:
    """A track object with its simplified album and artists."""
    subject = _subject("track", obj)
    _object(subject, "answer", obj)
    _identified(subject, obj)
    album = _object(subject, "album", obj.get("album"), optional=True)
    if album is not None:
        check_album(album, subject, "album.")
    _artists(subject, obj)
    for name in ("duration_ms", "track_number", "disc_number"):
        _optional_integer(subject, name, obj.get(name), 0)
    _optional_integer(subject, "popularity", obj.get("popularity"), 0, 100)
    for name in ("explicit", "is_local"):
        _optional_boolean(subject, name, obj.get(name))
    external_ids = _object(subject, "external_ids", obj.get("external_ids"), optional=True) or {}
    _optional_text(subject, "external_ids.isrc", external_ids.get("isrc"))
    return obj


def check_artist(obj) -> dict:
    """A full artist object."""
    subject = _subject("artist", obj)
    _object(subject, "answer", obj)
    _identified(subject, obj)
    for index, genre in enumerate(_list(subject, "genres", obj.get("genres"))):
        text(MetadataRefused, subject, f"genres[{index}]", genre)
    _optional_integer(subject, "popularity", obj.get("popularity"), 0, 100)
    followers = _object(subject, "followers", obj.get("followers"), optional=True) or {}
    _optional_integer(subject, "followers.total", followers.get("total"), 0)
    _images(subject, obj)
    return obj


def check_recently_played(index: int, item) -> dict:
    """A recently-played item (the `index`th of its page): `played_at` text, a track object with its duration,
    and a context (type and URI) or none."""
    subject = f"recently-played item {index}"
    _object(subject, "item", item)
    text(MetadataRefused, subject, "played_at", item.get("played_at"), empty_ok=False)
    track = check_track(item.get("track"))
    if track.get("duration_ms") is None:
        raise MetadataRefused(_subject("track", track), "duration_ms", "is missing")
    context = _object(subject, "context", item.get("context"), optional=True) or {}
    for name in ("type", "uri"):
        _optional_text(subject, f"context.{name}", context.get(name))
    return item


CHECK = {"track": check_track, "album": check_album, "artist": check_artist}
