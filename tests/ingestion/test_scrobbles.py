"""Importing Last.fm scrobbles and ListenBrainz listens through the export import (docs/metrics.md, "The same
listen from two sources counts once"): real-shaped files written here, with accents, a listen also in a
Spotify export, name-only tracks, and malformed lines named in the refusal."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from ingestion.__main__ import main as ingestion_main
from ingestion.export_loader import import_export
from ingestion.export_reader import ExportError, surrogate_id
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from tests.ingestion.conftest import count, source_checksums, write_json
from warehouse.db import connect

HOPPIPOLLA = "3xZKY0mQd1g5T5E0CBWFcX"
SAEGLOPUR = "7mb9sOyl5ffBo3mnA6Fkyd"
# Played from 10:00:00 to 10:04:30 on 1 March 2024 (the Extended record's ts is the end).
EXTENDED = [
    {"ts": "2024-03-01T10:04:30Z", "ms_played": 270_000, "master_metadata_track_name": "Hoppípolla",
     "master_metadata_album_artist_name": "Sigur Rós", "master_metadata_album_album_name": "Takk...",
     "spotify_track_uri": f"spotify:track:{HOPPIPOLLA}", "spotify_episode_uri": None, "skipped": False},
    {"ts": "2024-03-01T10:12:00Z", "ms_played": 12_000, "master_metadata_track_name": "Sæglópur",
     "master_metadata_album_artist_name": "Sigur Rós", "master_metadata_album_album_name": "Takk...",
     "spotify_track_uri": f"spotify:track:{SAEGLOPUR}", "spotify_episode_uri": None, "skipped": True},
]
# Last.fm as lastfm-to-csv writes it (no header, UTC to the minute): the first scrobble is the Extended
# record's listen (names in capitals and decomposed accents), the second a song only Last.fm knows.
LASTFM = ("SIGUR RO\u0301S,Takk...,HOPPI\u0301POLLA,01 Mar 2024 10:00\n"
          "Björk,Homogenic,Jóga,02 Mar 2024 21:15\n"
          '"Sigur Rós","( )","Untitled #1 ""Vaka""",03 Mar 2024 08:30\n')


def lastfm_file(tmp_path: Path, text: str = LASTFM, name: str = "scrobbles.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def listens_file(tmp_path: Path, listens: list[dict], name: str = "listens.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(listen, ensure_ascii=False) + "\n" for listen in listens), encoding="utf-8")
    return path


def listen(at: int, artist: str, track: str, release: str | None = None, **info) -> dict:
    return {"listened_at": at, "user_name": "someone", "recording_msid": "b7ffd2af",
            "track_metadata": {"artist_name": artist, "track_name": track, "release_name": release,
                               "additional_info": info}}


def stored(settings, user: str) -> list[tuple]:
    with connect("source", settings) as conn:
        return conn.execute(
            "SELECT source, played_at, ms_played, track_id, track_name, artist_name, album_name, skipped "
            "FROM plays WHERE user_id = %s ORDER BY played_at, track_id", (user,)).fetchall()


def test_lastfm_scrobbles_merge_with_the_spotify_export_in_either_order(dbs, tmp_path):
    extended = write_json(tmp_path / "Streaming_History_Audio_2024.json", EXTENDED)
    scrobbles = lastfm_file(tmp_path)

    first = import_export([extended], "spotify-first", dbs, create_user=True)
    assert first.plays_loaded == 2
    then = import_export([scrobbles], "spotify-first", dbs)
    assert (then.records_read, then.merged_export, then.plays_loaded, then.merged_scrobble) == (3, 1, 2, 0)
    assert then.unresolved == 2 and then.scrobbles_without_length == 2  # Jóga and Vaka: names only, no length known

    import_export([scrobbles], "lastfm-first", dbs, create_user=True)
    again = import_export([extended], "lastfm-first", dbs)
    assert (again.records_read, again.merged_scrobble, again.plays_loaded) == (2, 1, 1)

    # Both orders end with the same plays: the listen once, with Spotify's time, length, source and id.
    assert [p[:4] + p[6:] for p in stored(dbs, "spotify-first")] == [p[:4] + p[6:] for p in stored(dbs, "lastfm-first")]
    plays = stored(dbs, "lastfm-first")
    assert len(plays) == 4
    hoppipolla = plays[0]
    assert hoppipolla[:4] == ("extended_export", hoppipolla[1], 270_000, HOPPIPOLLA)
    assert hoppipolla[1].isoformat() == "2024-03-01T10:04:30+00:00" and hoppipolla[7] is False
    joga = next(p for p in plays if p[4] == "Jóga")
    assert joga[:4] == ("lastfm", joga[1], 0, surrogate_id("track", "Björk", "Jóga"))
    assert joga[1].isoformat() == "2024-03-02T21:15:00+00:00" and joga[5:7] == ("Björk", "Homogenic")
    assert any(p[4] == 'Untitled #1 "Vaka"' and p[6] == "( )" for p in plays)

    # A second import of either file changes nothing.
    before = source_checksums(dbs)
    assert import_export([scrobbles], "lastfm-first", dbs).import_id is None
    assert import_export([extended], "spotify-first", dbs).import_id is None
    assert source_checksums(dbs) == before


def test_scrobbles_are_streams_and_a_known_track_gives_its_length(dbs, tmp_path):
    with connect("source", dbs) as conn:
        add_user(conn, "me")
        add_track(conn, HOPPIPOLLA, name="Hoppípolla", artist_name="Sigur Rós", duration_ms=268_000)
    # The scrobble's names resolve to nothing stored, but ListenBrainz gives the Spotify id: the track's length.
    listens = [listen(1_709_287_200, "Sigur Rós", "Hoppípolla", spotify_id=f"https://open.spotify.com/track/{HOPPIPOLLA}"),
               listen(1_709_290_800, "Sigur Rós", "Glósóli", duration_ms=20_000)]
    report = import_export([listens_file(tmp_path, listens)], "me", dbs)
    assert (report.plays_loaded, report.unresolved, report.scrobbles_without_length) == (2, 1, 0)
    assert [p[:4] for p in stored(dbs, "me")] == [
        ("listenbrainz", stored(dbs, "me")[0][1], 268_000, HOPPIPOLLA),
        ("listenbrainz", stored(dbs, "me")[1][1], 20_000, surrogate_id("track", "Sigur Rós", "Glósóli"))]
    assert stored(dbs, "me")[0][1].isoformat() == "2024-03-01T10:04:28+00:00"  # started 10:00:00, 268 s
    load_main(dbs)
    with connect("main", dbs) as conn:
        facts = conn.execute("SELECT ms_played, is_stream, started_at FROM fact_play ORDER BY played_at").fetchall()
    # A 20-second scrobble is a stream: Last.fm and ListenBrainz only keep listens that counted.
    assert [(ms, stream) for ms, stream, _ in facts] == [(268_000, True), (20_000, True)]
    assert facts[0][2].isoformat() == "2024-03-01T10:00:00+00:00"


def test_listenbrainz_merges_with_api_plays_and_with_lastfm_and_counts_once(dbs, tmp_path):
    with connect("source", dbs) as conn:
        add_user(conn, "me")
        add_track(conn, HOPPIPOLLA, name="Hoppípolla", artist_name="Sigur Rós", duration_ms=270_000)
        add_play(conn, "me", HOPPIPOLLA, "2024-03-01T10:04:31Z", ms_played=270_000)  # polled: started 10:00:01
    lastfm = import_export([lastfm_file(tmp_path)], "me", dbs)
    assert (lastfm.merged_api, lastfm.plays_loaded) == (1, 2)
    listens = [
        listen(1_709_287_200, "Sigur Rós", "Hoppípolla", "Takk...", duration_ms=270_000,
               spotify_id=f"https://open.spotify.com/track/{HOPPIPOLLA}"),  # the polled play
        listen(1_709_414_140, "björk", "jóga", "Homogenic"),  # Last.fm's 21:15 scrobble, 40 s later
        listen(1_709_414_400 + 400, "Björk", "Jóga", "Homogenic"),  # a second listen of Jóga, 7 minutes on
    ]
    report = import_export([listens_file(tmp_path, listens)], "me", dbs)
    assert (report.records_read, report.merged_api, report.merged_scrobble, report.plays_loaded) == (3, 1, 1, 1)
    with connect("source", dbs) as conn:
        by_source = dict(conn.execute("SELECT source, count(*) FROM plays GROUP BY 1"))
        kept = conn.execute("SELECT count(*) FROM export_merges WHERE record_source = 'listenbrainz'").fetchone()[0]
    assert by_source == {"api": 1, "lastfm": 2, "listenbrainz": 1} and kept == 2
    # The play polled from the Web API learned its album from the scrobble.
    assert stored(dbs, "me")[0][6] == "Takk..."


def test_a_lastfm_export_with_a_header_and_the_listenbrainz_json_list(dbs, tmp_path):
    header = ("uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"
              "1709287200,\"01 Mar 2024, 10:00\",Sigur Rós,,Takk...,,Hoppípolla,\n"
              "1709287500,\"01 Mar 2024, 10:05\",Sigur Rós,,Takk...,,Hoppípolla,\n")
    listens = [listen(1_709_287_200, "Sigur Rós", "Hoppípolla")]
    report = import_export([lastfm_file(tmp_path, header), write_json(tmp_path / "listens.json", listens)],
                           "me", dbs, create_user=True)
    assert [f["format"] for f in report.files] == ["listenbrainz", "lastfm"]
    assert (report.records_read, report.plays_loaded, report.merged_scrobble) == (3, 2, 1)


@pytest.mark.parametrize(("name", "text", "error"), [
    ("scrobbles.csv", LASTFM.replace("02 Mar 2024 21:15", "02 Mrz 2024 21:15"),
     r"scrobbles.csv: line 2: date must look like 31 Jan 2021 12:34, got '02 Mrz 2024 21:15'"),
    ("scrobbles.csv", LASTFM + "Björk,Homogenic\n", r"scrobbles.csv: line 4: 2 fields where the file has 4"),
    ("scrobbles.csv", LASTFM.replace("Björk,", ","), r"scrobbles.csv: line 2: a scrobble needs an artist"),
    ("scrobbles.csv", LASTFM.replace("01 Mar 2024", "01 Mar 2004"), r"scrobbles.csv: line 1: date is before 2006"),
    ("listens.jsonl", '{"listened_at": 1709287200, "track_metadata": {"artist_name": "a", "track_name": "b"}}\n'
                      '{"listened_at": 1709287500, "track_metadata": {"artist_name": "a", \n',
     r"listens.jsonl: line 2: not valid JSON"),
    ("listens.jsonl", '\n{"listened_at": "yesterday", "track_metadata": {}}\n',
     r"listens.jsonl: line 2: listened_at must be a Unix time in whole seconds, got 'yesterday'"),
    ("listens.jsonl", json.dumps(listen(1_709_287_200, "a", "b", spotify_id="https://example.com/x")),
     r"listens.jsonl: line 1: track_metadata.additional_info.spotify_id is not a Spotify track link"),
    ("listens.jsonl", json.dumps(listen(1_709_287_200, "a", "b", duration_ms=-5)),
     r"line 1: track_metadata.additional_info.duration_ms must be a whole number of milliseconds between 0"),
])
def test_a_malformed_line_is_named_and_nothing_is_loaded(dbs, tmp_path, name, text, error):
    with connect("source", dbs) as conn:
        add_user(conn, "me")
    before = source_checksums(dbs)
    with pytest.raises(ExportError, match=error):
        import_export([lastfm_file(tmp_path, text, name)], "me", dbs)
    assert source_checksums(dbs) == before


def test_the_command_reports_each_outcome(dbs, tmp_path, capsys):
    assert ingestion_main(["import", str(lastfm_file(tmp_path)), "--user", "me", "--create-user",
                           "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "scrobbles.csv: lastfm, 3 records" in out and "plays loaded                 3" in out
    assert "name-only (unresolved)       3" in out and "me has not connected Spotify" in out
    assert count(dbs, "SELECT count(*) FROM plays WHERE artist_name = %s",
                 unicodedata.normalize("NFD", "SIGUR RÓS")) == 1  # names are kept as the file wrote them
