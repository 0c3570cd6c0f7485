"""What makes two plays the same play (docs/metrics.md, "Identity of a play").

- From the Web API: one user and one `played_at` (millisecond precision).
- From an export: one user, `ts`, track (URI, or names when the export has
  none) and `ms_played`: records equal on all four are one play, whichever
  files they came from.
- From a Last.fm or ListenBrainz file: one user, source, the second the listen
  started, artist and track names.

The key is stored in `plays.play_key`, unique per user.
"""

from __future__ import annotations

from datetime import UTC, datetime

EXPORT_TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def api_play_key(played_at: datetime) -> str:
    utc = played_at.astimezone(UTC)
    return "api:" + utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def export_play_key(played_at: datetime, item: str, ms_played: int) -> str:
    """`item` is the track or episode URI, or `artist|track` names when there is none."""
    ts = played_at.astimezone(UTC).strftime(EXPORT_TS_FORMAT)
    return f"export:{ts}|{item}|{ms_played}"



def scrobble_play_key(source: str, started_at: datetime, artist: str, track: str) -> str:
    """A Last.fm scrobble or ListenBrainz listen: `source`, the second it started, artist and track names."""
    ts = started_at.astimezone(UTC).strftime(EXPORT_TS_FORMAT)
    return f"{source}:{ts}|{artist}|{track}"
