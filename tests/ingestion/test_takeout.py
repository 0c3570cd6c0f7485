"""The takeout (ingestion/takeout.py): a user's plays in CSV, JSON and Parquet, imported again into an empty
user as a Spotify export gives the same plays; the excluded flags; ListenBrainz listens."""

from __future__ import annotations

import json
import stat
import zipfile
from collections import Counter

import pyarrow.parquet as pq
import pytest

from fake_spotify.generate import generate, write_to_source
from ingestion.__main__ import main as ingestion_main
from ingestion.exclusions import add_rule
from ingestion.export_loader import import_export
from ingestion.takeout import PLAY_COLUMNS, PLAY_SCHEMA, PLAYS_PER_FILE, TakeoutError, export_user
from star_schema.load import load_main
from tests.ingestion.conftest import REAL_EXPORT
from warehouse.catalog import STATISTICS
from warehouse.db import connect

# What makes a play the same play once imported again: an export knows the second it ended.
SAME_PLAY = ("date_trunc('second', played_at), content_type, coalesce(track_id, episode_uri, audiobook_chapter_uri),"
             " ms_played")


def plays(settings, user_id: str) -> Counter:
    with connect("source", settings) as conn:
        return Counter(conn.execute(f"SELECT {SAME_PLAY} FROM plays WHERE user_id = %s", (user_id,)).fetchall())


@pytest.fixture
def generated(dbs):
    listening = generate(seed=8, users=2, days=40)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
    user_id = listening.users[0].user_id
    (artist,) = [t.artist_ids[0] for t in listening.tracks if t.track_id == next(
        p.track_id for p in listening.plays if p.user_id == user_id and p.track_id)]
    with connect("source", dbs) as conn:
        add_rule(conn, user_id, "artist", "test", target=artist)
    load_main(dbs)
    return user_id, artist


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_takeout_imports_again_as_the_same_plays(dbs, generated, tmp_path, fmt):
    user_id, _ = generated
    report = export_user(user_id, fmt, tmp_path / f"out.{fmt}.zip", dbs)
    assert report.plays == sum(plays(dbs, user_id).values()) > 0
    assert stat.S_IMODE((tmp_path / f"out.{fmt}.zip").stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.part"))
    again = import_export([tmp_path / f"out.{fmt}.zip"], "copy", dbs, create_user=True)
    assert again.plays_loaded == report.plays and again.duplicates == 0
    # JSON also holds the track plays as ListenBrainz listens: each is the same listen as its play.
    with connect("source", dbs) as conn:
        (tracks,) = conn.execute("SELECT count(*) FROM plays WHERE user_id = %s AND content_type = 'track'",
                                 (user_id,)).fetchone()
    listens = tracks if fmt == "json" else 0
    assert again.records_read == report.plays + listens and again.merged_export == listens
    assert plays(dbs, "copy") == plays(dbs, user_id)


def test_a_real_export_goes_out_and_in_again(dbs, tmp_path):
    import_export([REAL_EXPORT], "me", dbs, create_user=True, timezone="Asia/Kolkata")
    assert export_user("me", "csv", tmp_path / "me.zip", dbs).plays == 1470
    assert import_export([tmp_path / "me.zip"], "copy", dbs, create_user=True).plays_loaded == 1470
    assert plays(dbs, "copy") == plays(dbs, "me")
    with connect("source", dbs) as conn:  # the names came along
        names = dict(conn.execute("SELECT user_id, count(DISTINCT (track_name, artist_name, album_name, "
                                  "episode_name, episode_show_name)) FROM plays GROUP BY 1"))
    assert names["copy"] == names["me"] > 100


def test_parquet_reads_back_with_every_row_its_types_and_the_excluded_flags(dbs, generated, tmp_path):
    user_id, artist = generated
    out = tmp_path / "out.zip"
    report = export_user(user_id, "parquet", out, dbs)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert sorted(n for n in names if n.startswith("statistics/")) == sorted(
            f"statistics/{name}.parquet" for name in STATISTICS)
        tables = [pq.read_table(archive.open(name)) for name in sorted(names) if name.startswith("plays/")]
    assert len(tables) == -(-report.plays // PLAYS_PER_FILE)
    assert all(table.schema == PLAY_SCHEMA for table in tables)
    rows = [row for table in tables for row in table.to_pylist()]
    assert len(rows) == report.plays and list(rows[0]) == list(PLAY_COLUMNS)
    with connect("source", dbs) as conn:
        by_artist = dict(conn.execute("SELECT p.play_id, t.artist_ids @> ARRAY[%s] FROM plays p "
                                      "JOIN tracks t USING (track_id) WHERE p.user_id = %s", (artist, user_id)))
    assert {row["play_id"]: row["excluded"] for row in rows} == {
        row["play_id"]: by_artist.get(row["play_id"], False) for row in rows}  # episodes: no artist rule matches
    assert sum(by_artist.values()) > 0 and len(by_artist) < len(rows)
    assert [row["played_at"] for row in rows] == sorted(row["played_at"] for row in rows)


def test_json_has_listenbrainz_listens_and_bad_requests_are_refused(dbs, generated, tmp_path, capsys):
    user_id, _ = generated
    out = tmp_path / "lb.zip"
    assert ingestion_main(["export", "--user", user_id, "--format", "json", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        listens = [json.loads(line) for line in archive.open("listens.jsonl")]
        records = [r for name in archive.namelist() if name.startswith("plays/") for r in json.load(archive.open(name))]
    tracks = [r for r in records if r["content_type"] == "track"]
    assert len(listens) == len(tracks) > 0
    first, record = listens[0], tracks[0]
    assert first["track_metadata"]["track_name"] == record["master_metadata_track_name"]
    assert first["track_metadata"]["additional_info"]["spotify_id"] == \
        "https://open.spotify.com/track/" + record["track_id"]
    assert first["listened_at"] == int(json_time(record["played_at"]) - record["ms_played"] / 1000)
    with pytest.raises(TakeoutError):
        export_user("nobody", "csv", tmp_path / "x.zip", dbs)
    assert not (tmp_path / "x.zip").exists() and not list(tmp_path.glob("*.part"))
    with pytest.raises(SystemExit):
        ingestion_main(["export", "--user", user_id, "--format", "xml"])


def json_time(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()
