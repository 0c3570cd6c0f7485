"""Album track lists in source (`album_tracks`): fetched page by page by enrichment, whole or not at all."""

from __future__ import annotations

import copy

import pytest

from fake_spotify.state import FakeSpotify
from ingestion import album_tracks
from ingestion.album_tracks import MAX_ALBUM_TRACKS, TrackListRefused, albums_to_list, fetch_track_list
from ingestion.recently_played import ingest_user
from tests.ingestion.conftest import Sleeps
from warehouse.db import connect


def listen_to_new_album(fake: FakeSpotify, user_id: str, tracks: int = 120, discs: int = 2):
    """A new album of `tracks` tracks, one of which the user has just played (so the next poll stores the album)."""
    album = fake.add_album(tracks, discs)
    with fake.lock:
        fake.add_plays(user_id, 1)
        fake.history[user_id][-1].track_id = album.track_ids[0]
        fake.history[user_id][-1].context = ("album", album.album_id)
    return album


def expected_rows(fake: FakeSpotify, album) -> list[tuple]:
    return [(fake.tracks[t].disc_number, fake.tracks[t].track_number, t, fake.tracks[t].name,
             fake.tracks[t].duration_ms) for t in album.track_ids]


def stored_rows(settings, album_id: str) -> list[tuple]:
    with connect("source", settings) as conn:
        return conn.execute("SELECT disc_number, track_number, track_id, name, duration_ms FROM album_tracks "
                            "WHERE album_id = %s ORDER BY disc_number, track_number", (album_id,)).fetchall()


def lists_state(settings) -> tuple[str, int]:
    """A checksum of every stored list, and the albums Spotify knows that still have none."""
    with connect("source", settings) as conn:
        return conn.execute(
            """SELECT (SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
                       FROM album_tracks t),
                      (SELECT count(*) FROM albums a WHERE a.fetched_at IS NOT NULL AND NOT a.is_surrogate
                         AND NOT EXISTS (SELECT 1 FROM album_tracks t WHERE t.album_id = a.album_id))""").fetchone()


def queued(settings, album_id: str):
    with connect("source", settings) as conn:
        return conn.execute("SELECT attempts, last_error FROM enrichment_queue "
                            "WHERE entity_type = 'album_tracks' AND entity_id = %s", (album_id,)).fetchone()


def test_an_album_of_more_than_50_tracks_is_stored_whole_and_a_second_run_changes_nothing(
        spotify_settings, fake_spotify, user):
    fake = fake_spotify.fake
    album = listen_to_new_album(fake, user)
    result = ingest_user(user, spotify_settings)
    assert result.status == "ok"
    assert stored_rows(spotify_settings, album.album_id) == expected_rows(fake, album)
    lists, albums_without = lists_state(spotify_settings)
    assert albums_without == 0  # every album of the plays has its list
    reported = result.enrichment.track_lists
    with connect("source", spotify_settings) as conn:
        albums, rows = conn.execute("SELECT count(DISTINCT album_id), count(*) FROM album_tracks").fetchone()
    assert (reported.stored, reported.tracks, reported.refused) == (albums, rows, [])
    assert reported.calls == fake_spotify.requests("album_tracks") == albums + 2  # the new album: 3 pages
    # A generated album's list is its tracks, numbered from 1.
    with connect("source", spotify_settings) as conn:
        (some,) = conn.execute("SELECT min(album_id) FROM album_tracks WHERE album_id <> %s",
                               (album.album_id,)).fetchone()
    assert stored_rows(spotify_settings, some) == expected_rows(fake, fake.albums[some])
    # Enrichment again: nothing asked, nothing written.
    again = ingest_user(user, spotify_settings)
    assert again.status == "ok" and again.enrichment.track_lists.calls == 0
    assert fake_spotify.requests("album_tracks") == albums + 2
    assert lists_state(spotify_settings) == (lists, 0)


def test_a_short_429_and_a_5xx_in_the_middle_of_an_album_are_retried(spotify_settings, fake_spotify, user):
    album = listen_to_new_album(fake_spotify.fake, user)
    path = f"/v1/albums/{album.album_id}/tracks"
    fake_spotify.fault(path=path, query={"offset": 50}, status=429, retry_after=2)
    fake_spotify.fault(path=path, query={"offset": 100}, status=502)
    sleeps = Sleeps()
    result = ingest_user(user, spotify_settings, sleep=sleeps)
    assert result.status == "ok" and result.enrichment.track_lists.refused == []
    assert 2 in sleeps and 0.5 in sleeps  # Retry-After waited, then the 5xx backoff
    assert stored_rows(spotify_settings, album.album_id) == expected_rows(fake_spotify.fake, album)


def test_a_long_429_in_the_middle_stores_nothing_of_the_album_and_the_next_run_completes(
        spotify_settings, fake_spotify, user):
    album = listen_to_new_album(fake_spotify.fake, user)
    fake_spotify.fault(path=f"/v1/albums/{album.album_id}/tracks", query={"offset": 50}, status=429,
                       retry_after=3600)
    stopped = ingest_user(user, spotify_settings, sleep=Sleeps())
    assert stopped.status == "rate_limited" and stopped.plays_inserted == 50 and "3600" in stopped.detail
    assert stored_rows(spotify_settings, album.album_id) == [] and queued(spotify_settings, album.album_id) is None
    resumed = ingest_user(user, spotify_settings)
    assert resumed.status == "ok"
    assert stored_rows(spotify_settings, album.album_id) == expected_rows(fake_spotify.fake, album)
    assert lists_state(spotify_settings)[1] == 0


def _missing_track_number(page):
    del page["items"][3]["track_number"]
    return "items[53].track_number is missing"


def _text_duration(page):
    page["items"][0]["duration_ms"] = "180000"
    return "items[50].duration_ms must be an integer, got str '180000'"


def _no_total(page):
    del page["total"]
    return "total is missing (page at offset 50)"


def _total_changes(page):
    page["total"] = 121
    return "total changed between pages: 120, then 121"


def _more_than_total(page):  # the last page (offset 100) with a 21st track: 121 tracks, `total` says 120
    extra = copy.deepcopy(page["items"][-1])
    extra["track_number"] = 99
    page["items"].append(extra)
    return "items holds more tracks than asked or than `total` (120): 21 at offset 100"


def _more_than_asked(page):
    page["items"].append(copy.deepcopy(page["items"][0]) | {"track_number": 99})
    return "items holds more tracks than asked or than `total` (120): 51 at offset 50"


def _ends_early(page):
    page["items"] = []
    return "items is empty at offset 50, before the 120 tracks of `total`"


@pytest.mark.parametrize(("offset", "spoil"), [
    (50, _missing_track_number), (50, _text_duration), (50, _no_total), (50, _total_changes),
    (100, _more_than_total), (50, _more_than_asked), (50, _ends_early)])
def test_a_malformed_page_stores_nothing_of_the_album_and_is_retried(spotify_settings, fake_spotify, user,
                                                                     offset, spoil):
    fake = fake_spotify.fake
    album = listen_to_new_album(fake, user)
    page = fake.album_tracks_page(f"{fake_spotify.url}/", album.album_id, 50, offset)
    problem = spoil(page)
    fake_spotify.fault(path=f"/v1/albums/{album.album_id}/tracks", query={"offset": offset}, body=page)
    result = ingest_user(user, spotify_settings)
    assert result.status == "ok"
    [refused] = result.enrichment.track_lists.refused
    assert refused.startswith(f"album {album.album_id}: {problem}")
    assert stored_rows(spotify_settings, album.album_id) == []
    attempts, error = queued(spotify_settings, album.album_id)
    assert attempts == 1 and error.startswith(f"album {album.album_id}: {problem}")
    assert lists_state(spotify_settings)[1] == 1  # every other album got its list
    # The answer is right again: the next enrichment stores the whole list and forgets the refusal.
    assert ingest_user(user, spotify_settings).enrichment.track_lists.stored == 1
    assert stored_rows(spotify_settings, album.album_id) == expected_rows(fake, album)
    assert queued(spotify_settings, album.album_id) is None


def test_unknown_albums_are_queued_and_left_alone_after_max_attempts(spotify_settings, fake_spotify, user):
    unknown = "0" * 22
    with connect("source", spotify_settings) as conn:
        conn.execute("INSERT INTO albums (album_id, name, fetched_at) VALUES (%s, 'Gone', now())", (unknown,))
    result = ingest_user(user, spotify_settings)
    assert result.enrichment.track_lists.refused == [f"album {unknown}: Spotify answered 404 to its tracks"]
    assert queued(spotify_settings, unknown)[0] == 1 and lists_state(spotify_settings)[1] == 1
    with connect("source", spotify_settings) as conn:
        assert albums_to_list(conn, [unknown]) == [unknown]
        conn.execute("UPDATE enrichment_queue SET attempts = 5 WHERE entity_id = %s", (unknown,))
        assert albums_to_list(conn, [unknown]) == []
        # Not known to Spotify yet (fetched_at NULL) or a surrogate: not asked either.
        conn.execute("INSERT INTO albums (album_id, name) VALUES ('1' || repeat('a', 21), 'Unfetched')")
        conn.execute("INSERT INTO albums (album_id, name, is_surrogate, fetched_at) "
                     "VALUES ('sur:album:x', 'X', true, now())")
        assert albums_to_list(conn, []) == []
    calls = fake_spotify.requests("album_tracks")
    assert ingest_user(user, spotify_settings).enrichment.track_lists.calls == 0
    assert fake_spotify.requests("album_tracks") == calls


def test_development_mode_fetches_track_lists_too(spotify_settings, fake_spotify, user):
    fake_spotify.admin("POST", "/mode", development=True)
    album = listen_to_new_album(fake_spotify.fake, user, tracks=51, discs=1)
    result = ingest_user(user, spotify_settings)
    assert result.status == "ok" and result.enrichment.batch_forbidden
    assert stored_rows(spotify_settings, album.album_id) == expected_rows(fake_spotify.fake, album)
    assert lists_state(spotify_settings)[1] == 0


# -- the checks on their own, against a stub of the client ---------------------------------------------

class Pages:
    """A stand-in for SpotifyApi: answers `album_tracks` from a list of pages, recording the offsets asked."""

    def __init__(self, *pages):
        self.pages, self.offsets = list(pages), []

    def call(self, method, album_id, limit, offset):
        assert method == "album_tracks" and limit == 50
        self.offsets.append(offset)
        return self.pages.pop(0)


def item(number: int, disc: int = 1, **fields) -> dict:
    return {"id": f"t{disc}x{number}", "name": f"Track {number}", "disc_number": disc, "track_number": number,
            "duration_ms": 200_000, "explicit": False, "artists": [], **fields}


def page(items, total) -> dict:
    return {"items": items, "total": total, "limit": 50, "offset": 0, "next": None}


def test_a_list_is_read_by_offsets_it_computes_and_never_follows_next():
    first = page([item(n) for n in range(1, 51)], 60) | {"next": "http://elsewhere.example/steal-the-token"}
    api = Pages(first, page([item(n) for n in range(51, 61)], 60))
    rows = fetch_track_list(api, "AL")
    assert api.offsets == [0, 50] and len(rows) == 60
    assert rows[0] == ("AL", 1, 1, "t1x1", "Track 1", 200_000) and rows[-1][2] == 60


@pytest.mark.parametrize(("answer", "field_name", "problem"), [
    (["not", "a", "page"], "answer", "must be a paging object"),
    (page([item(1)], True), "total", "must be an integer, got bool"),
    (page([item(1)], 0), "total", "is 0"),
    (page([item(1)], MAX_ALBUM_TRACKS + 1), "total", f"more than the {MAX_ALBUM_TRACKS}"),
    (page({"0": item(1)}, 1), "items", "must be a list"),
    (page([item(1), item(2)], 1), "items", "more tracks than asked or than `total` (1)"),
    (page([item(1), "track"], 2), "items[1]", "must be a track object"),
    (page([item(1, id=None)], 1), "items[0].id", "is missing"),
    (page([item(1, id="")], 1), "items[0].id", "must not be empty"),
    (page([item(1, name=7)], 1), "items[0].name", "must be a string, got int"),
    (page([item(1, name="A\x00B")], 1), "items[0].name", "contains a NUL character"),
    (page([item(1, name="\ud800")], 1), "items[0].name", "is not valid Unicode"),
    (page([item(0)], 1), "items[0].track_number", "must be between 1 and"),
    (page([item(1, disc=True)], 1), "items[0].disc_number", "must be an integer, got bool"),
    (page([item(1, duration_ms=-1)], 1), "items[0].duration_ms", "must be between 0 and"),
    (page([item(1, duration_ms=2.5)], 1), "items[0].duration_ms", "must be an integer, got float"),
    (page([item(1), item(1)], 2), "items[1].track_number", "repeats disc 1 track 1"),
])
def test_hostile_answers_are_refused_naming_the_album_and_the_field(answer, field_name, problem):
    with pytest.raises(TrackListRefused) as refused:
        fetch_track_list(Pages(answer), "AL")
    assert refused.value.album_id == "AL" and refused.value.field == field_name
    assert str(refused.value).startswith(f"album AL: {field_name} ") and problem in str(refused.value)


def test_the_same_track_number_on_two_discs_is_two_tracks():
    rows = fetch_track_list(Pages(page([item(1), item(1, disc=2)], 2)), "AL")
    assert [(r[1], r[2]) for r in rows] == [(1, 1), (2, 1)]


def test_the_per_run_limit_is_a_slice_of_the_albums_without_a_list(dbs):
    with connect("source", dbs) as conn:
        for index in range(5):
            conn.execute("INSERT INTO albums (album_id, name, fetched_at) VALUES (%s, 'A', now())", (f"al{index}",))
        assert albums_to_list(conn, ["al3"], limit=2) == ["al3", "al0"]  # this run's albums first
        album_tracks.store_track_list(conn, "al0", [("al0", 1, 1, "t", "T", 1000)])
        assert album_tracks.store_track_list(conn, "al0", [("al0", 1, 1, "t", "T", 1000), ("al0", 1, 2, "u", "U", 1)
                                                           ]) == 0  # a list is stored once, never mixed
        assert albums_to_list(conn, [], limit=2) == ["al1", "al2"]
        assert conn.execute("SELECT count(*) FROM album_tracks").fetchone()[0] == 1
