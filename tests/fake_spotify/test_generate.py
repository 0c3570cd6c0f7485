import hashlib
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fake_spotify.generate import (
    generate,
    write_account_export,
    write_extended_export,
    write_to_source,
)
from warehouse.db import connect


@pytest.fixture(scope="module")
def listening():
    return generate(seed=7, users=4, days=120)


def digest(folder):
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*.json")):
        sha.update(str(path.relative_to(folder)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def test_same_seed_same_files_to_the_byte(tmp_path, listening):
    again = generate(seed=7, users=4, days=120)
    write_extended_export(listening, tmp_path / "a")
    write_extended_export(again, tmp_path / "b")
    write_account_export(listening, tmp_path / "a")
    write_account_export(again, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    other = generate(seed=8, users=4, days=120)
    write_extended_export(other, tmp_path / "c")
    assert digest(tmp_path / "c") != digest(tmp_path / "a")


def test_same_seed_same_source_rows(dbs, listening):
    def table_digest():
        with connect("source", dbs) as conn:
            return [
                conn.execute(f"SELECT md5(string_agg(t::text, '' ORDER BY t::text)) FROM {table} t").fetchone()[0]
                for table in ("users", "plays", "tracks", "albums", "artists")
            ]

    with connect("source", dbs) as conn:
        counts = write_to_source(conn, listening)
    assert counts["plays"] == len(listening.plays)
    first = table_digest()
    with connect("source", dbs) as conn:
        assert write_to_source(conn, generate(seed=7, users=4, days=120))["plays"] == 0
    assert table_digest() == first


def test_users_live_in_several_zones_one_with_dst(listening):
    zones = {u.timezone for u in listening.users}
    assert len(zones) == 4
    assert any(ZoneInfo(z).dst(datetime(2026, 7, 1)) for z in zones)


def test_catalog_has_real_album_structure(listening):
    for album in listening.albums:
        assert len(album.track_ids) == album.total_tracks
    tracks = listening.track_index()
    for album in listening.albums[:50]:
        assert [tracks[t].track_number for t in album.track_ids] == list(range(1, album.total_tracks + 1))
    popularity = [t.popularity for t in listening.tracks]
    assert None in popularity and any(p is not None for p in popularity)


def test_listening_looks_like_people(listening):
    tracks = listening.track_index()
    plays = [p for p in listening.plays if p.track_id]
    assert any(p.ms_played < 30_000 for p in plays)
    assert any(p.skipped for p in plays) and any(not p.skipped for p in plays)
    assert any(p.track_id is None for p in listening.plays)  # podcast episodes
    # Zipf-like: a user's favourite artist gets far more than an average artist.
    by_user = Counter((p.user_id, tracks[p.track_id].artist_ids[0]) for p in plays)
    user = listening.users[0].user_id
    counts = sorted((c for (u, _), c in by_user.items() if u == user), reverse=True)
    assert counts[0] > 5 * (sum(counts) / len(counts))
    # Some albums are played from first to last track within one user's listening.
    played = {}
    for p in plays:
        played.setdefault((p.user_id, tracks[p.track_id].album_id), set()).add(p.track_id)
    complete = [a for a in listening.albums if a.total_tracks >= 5
                and any(len(played.get((u.user_id, a.album_id), ())) == a.total_tracks for u in listening.users)]
    assert complete
    # Sessions: mostly back-to-back plays, with breaks over 30 minutes between sessions.
    mine = sorted((p for p in plays if p.user_id == user), key=lambda p: p.played_at)
    gaps = [b.played_at - timedelta(milliseconds=b.ms_played) - a.played_at
            for a, b in zip(mine, mine[1:], strict=False)]
    assert sum(g < timedelta(minutes=1) for g in gaps) > 0.7 * len(gaps)
    assert sum(g > timedelta(minutes=30) for g in gaps) > 30
    # A daily rhythm: the busiest local hour has several times the plays of the quietest.
    zone = ZoneInfo(listening.users[0].timezone)
    hours = Counter(p.played_at.astimezone(zone).hour for p in mine)
    assert max(hours.values()) > 4 * min(hours.get(h, 0) for h in range(24))


def test_no_play_in_the_future_of_its_end(listening):
    end = listening.generated_at
    assert max(p.played_at for p in listening.plays) < end + timedelta(days=1)
