"""Importing Spotify data exports into source: counts, identity, merges, all-or-nothing."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import datetime, timedelta

import pytest

from fake_spotify.generate import generate, write_account_export, write_extended_export
from ingestion import export_loader
from ingestion.export_loader import ExportImportError, import_export
from ingestion.export_reader import ExportError, surrogate_id
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from tests.ingestion.conftest import REAL_EXPORT, count, source_checksums, write_json
from warehouse.db import connect, connect_owner
from warehouse.plays import export_play_key


@pytest.fixture(scope="module")
def listening():
    return generate(seed=11, users=1, days=200, plays_per_day=25)


def plays_by_type(settings, user="me") -> dict[str, int]:
    with connect("source", settings) as conn:
        return dict(conn.execute(
            "SELECT content_type, count(*) FROM plays WHERE user_id = %s GROUP BY 1", (user,)))


def test_real_export_loads_every_record(dbs, real_records):
    report = import_export([REAL_EXPORT], "me", dbs, create_user=True, timezone="Asia/Kolkata")

    assert report.records_read == 1470 == len(real_records)
    assert report.loaded == {"track": 1457, "episode": 13, "audiobook": 0}
    assert report.skipped == {} and report.duplicates == 0 and report.merged_api == 0
    assert plays_by_type(dbs) == {"track": 1457, "episode": 13}
    assert count(dbs, "SELECT timezone FROM users WHERE user_id = 'me'") == "Asia/Kolkata"
    assert count(dbs, "SELECT count(*) FROM export_imports") == 1
    # Same identity as the record: user, ts, track (URI) and ms_played.
    with connect("source", dbs) as conn:
        keys = {k for (k,) in conn.execute("SELECT play_key FROM plays")}
        expected = {export_play_key(datetime.fromisoformat(r["ts"]),
                                    r["spotify_track_uri"] or r["spotify_episode_uri"], r["ms_played"])
                    for r in real_records}
        assert keys == expected
        # Every field we keep, as the record gave it.
        first = real_records[0]
        row = conn.execute(
            "SELECT track_id, track_name, artist_name, album_name, platform, conn_country, "
            "reason_start, reason_end, shuffle, skipped, offline, incognito_mode, ms_played, "
            "played_at, offline_timestamp, source FROM plays WHERE play_key = %s",
            (export_play_key(datetime.fromisoformat(first["ts"]), first["spotify_track_uri"],
                             first["ms_played"]),)).fetchone()
        assert row[:13] == (
            first["spotify_track_uri"].split(":")[2], first["master_metadata_track_name"],
            first["master_metadata_album_artist_name"], first["master_metadata_album_album_name"],
            first["platform"], first["conn_country"], first["reason_start"], first["reason_end"],
            first["shuffle"], first["skipped"], first["offline"], first["incognito_mode"],
            first["ms_played"])
        assert row[13] == datetime.fromisoformat(first["ts"])
        assert row[14].timestamp() == first["offline_timestamp"]
        assert row[15] == "extended_export"
        # Podcasts are kept apart: no track, their episode fields set.
        episodes = conn.execute(
            "SELECT count(*) FROM plays WHERE content_type = 'episode' AND track_id IS NULL "
            "AND episode_uri LIKE 'spotify:episode:%' AND episode_show_name IS NOT NULL").fetchone()[0]
        assert episodes == 13
        # One tracks row per URI, artist = album artist (surrogate), queued for enrichment.
        uris = {r["spotify_track_uri"] for r in real_records if r["spotify_track_uri"]}
        assert conn.execute("SELECT count(*) FROM tracks WHERE NOT is_surrogate").fetchone()[0] == len(uris)
        queued = {i for (i,) in conn.execute("SELECT entity_id FROM enrichment_queue WHERE entity_type = 'track'")}
        assert queued == {u.split(":")[2] for u in uris}
        artist_ids, album_id, album_name, album_artists = conn.execute(
            "SELECT t.artist_ids, t.album_id, a.name, a.artist_ids FROM tracks t "
            "JOIN albums a USING (album_id) WHERE t.track_id = %s",
            (first["spotify_track_uri"].split(":")[2],)).fetchone()
        assert artist_ids == [surrogate_id("artist", "Labrinth")] == album_artists
        assert album_name == first["master_metadata_album_album_name"]
        assert album_id == surrogate_id("album", album_name, "Labrinth")
        assert conn.execute("SELECT bool_and(is_surrogate) FROM albums").fetchone()[0] is True


def test_reimport_changes_nothing(dbs):
    first = import_export([REAL_EXPORT], "me", dbs, create_user=True)
    before = source_checksums(dbs)
    again = import_export([REAL_EXPORT], "me", dbs, create_user=True)
    assert source_checksums(dbs) == before
    assert again.import_id is None and again.previous_import_id == first.import_id
    assert again.already_present == 1470 and again.plays_loaded == 0


def test_generated_extended_export_equals_the_listening(dbs, listening, tmp_path):
    files = write_extended_export(listening, tmp_path, per_file=1000)
    assert len(files) > 3
    user = listening.users[0].user_id
    report = import_export([tmp_path], user, dbs, create_user=True)
    plays = listening.plays
    assert report.records_read == len(plays)
    assert report.loaded["track"] == sum(p.track_id is not None for p in plays)
    assert report.loaded["episode"] == sum(p.track_id is None for p in plays) > 0
    assert report.plays_loaded == count(dbs, "SELECT count(*) FROM plays WHERE user_id = %s", user)
    with connect("source", dbs) as conn:
        keys = {k for (k,) in conn.execute("SELECT play_key FROM plays")}
        tracks = dict(conn.execute("SELECT track_id, name FROM tracks"))
    assert keys == {export_play_key(p.played_at, f"spotify:track:{p.track_id}" if p.track_id else p.episode[0],
                                    p.ms_played) for p in plays}
    names = {t.track_id: t.name for t in listening.tracks}
    assert tracks == {t: names[t] for t in {p.track_id for p in plays if p.track_id}}


def test_account_export_gets_surrogates(dbs, listening, tmp_path):
    write_account_export(listening, tmp_path)
    records = json.loads(next(tmp_path.rglob("*.json")).read_text())
    report = import_export([tmp_path], "me", dbs, create_user=True)
    assert report.records_read == len(records) == report.loaded["track"] + report.duplicates
    assert report.files[0]["format"] == "account"
    with connect("source", dbs) as conn:
        r = records[0]
        track_id, artist_ids, album_id, surrogate = conn.execute(
            "SELECT t.track_id, t.artist_ids, t.album_id, t.is_surrogate FROM plays p "
            "JOIN tracks t USING (track_id) WHERE p.play_key = %s",
            (export_play_key(datetime.fromisoformat(r["endTime"] + ":00+00:00"),
                             f"{r['artistName']}|{r['trackName']}", r["msPlayed"]),)).fetchone()
        assert track_id == surrogate_id("track", r["artistName"], r["trackName"])
        assert artist_ids == [surrogate_id("artist", r["artistName"])] and album_id is None and surrogate
        distinct = {(x["artistName"], x["trackName"]) for x in records}
        assert conn.execute("SELECT count(*) FROM tracks WHERE is_surrogate").fetchone()[0] == len(distinct)
        # Surrogates are not queued for /v1/tracks: they are resolved by search.
        assert conn.execute("SELECT count(*) FROM enrichment_queue").fetchone()[0] == 0


def test_folder_with_both_formats_and_repeated_files(dbs, listening, tmp_path):
    write_extended_export(listening, tmp_path / "extended", per_file=2000)
    write_account_export(listening, tmp_path / "account")
    copy = next((tmp_path / "extended").rglob("*_0.json"))
    shutil.copy(copy, tmp_path / "extended" / "copy_of_first.json")  # files overlap
    account = json.loads(next((tmp_path / "account").rglob("*.json")).read_text())
    (tmp_path / "Userdata.json").write_text('{"username": "someone"}')  # other parts of an export

    report = import_export([tmp_path], "me", dbs, create_user=True)
    plays = listening.plays
    assert report.duplicates == len(json.loads(copy.read_text()))
    assert report.ignored_files == {str(tmp_path / "Userdata.json"): "not a streaming history (not a list)"}
    assert {f["format"] for f in report.files} == {"extended", "account"}
    # Every Account-data record is the same play as an Extended record: merged, not doubled.
    assert report.merged_export == len(account)
    assert report.plays_loaded == len(plays) == count(dbs, "SELECT count(*) FROM plays")
    assert count(dbs, "SELECT count(*) FROM plays WHERE source = 'account_export'") == 0
    assert report.records_read == report.accounted
    before = source_checksums(dbs)
    assert import_export([tmp_path], "me", dbs).import_id is None
    assert source_checksums(dbs) == before


def test_merge_plans_do_not_trust_the_statistics_of_plays(dbs, listening, tmp_path, monkeypatch):
    """Autovacuum may analyze `plays` while an import's transaction holds its uncommitted plays (the pipeline role
    cannot ANALYZE a table it does not own): the statistics then say `plays` is empty. The merge must still look
    plays up by index from the stage, never scan `plays` once per staged record (which took hours at 350k)."""
    write_extended_export(listening, tmp_path / "extended")
    write_account_export(listening, tmp_path / "account")
    plans, queries, merge = [], set(), export_loader._merge

    class Explained:  # the import's connection, explaining each pairing statement before running it
        def __init__(self, conn):
            self.conn = conn

        def execute(self, query, params=None):
            if query.lstrip().startswith("INSERT INTO export_pairs"):
                plans.append(self.conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0])
                queries.add(query)
            return self.conn.execute(query, params)

    def merge_after_autovacuum(conn, user_id, source, window):
        with connect_owner("source", dbs, autocommit=True) as other:
            other.execute("ANALYZE plays")  # as autovacuum would: it sees none of this import's plays
        merge(Explained(conn), user_id, source, window)

    monkeypatch.setattr(export_loader, "_merge", merge_after_autovacuum)
    report = import_export([tmp_path], "me", dbs, create_user=True)
    account = sum(len(json.loads(f.read_text())) for f in (tmp_path / "account").rglob("*.json"))
    assert report.merged_export == account and report.records_read == report.accounted
    assert report.plays_loaded == len(listening.plays) == count(dbs, "SELECT count(*) FROM plays")
    # Every pairing statement (one per rule, again for each round that paired) was explained.
    assert queries == {export_loader.PAIR.format(candidates=c) for c in export_loader.CANDIDATES.values()}
    for plan in plans:
        scans = {(node["Node Type"], node["Relation Name"]) for node in _plan_nodes(plan)
                 if "Relation Name" in node}
        assert ("Seq Scan", "plays") not in scans, plan
        assert ("Index Scan", "plays") in scans or ("Bitmap Heap Scan", "plays") in scans, plan


def _plan_nodes(plan):
    for node in plan if isinstance(plan, list) else [plan]:
        node = node.get("Plan", node)
        yield node
        yield from _plan_nodes(node.get("Plans", []))


def test_account_first_then_extended_upgrades_the_plays(dbs, listening, tmp_path):
    write_extended_export(listening, tmp_path / "extended")
    write_account_export(listening, tmp_path / "account")
    account = import_export([tmp_path / "account"], "me", dbs, create_user=True)
    extended = import_export([tmp_path / "extended"], "me", dbs)
    assert extended.merged_export == account.plays_loaded
    assert count(dbs, "SELECT count(*) FROM plays") == len(listening.plays)
    # The Account-data plays now point at the real tracks and know their skips.
    assert count(dbs, "SELECT count(*) FROM plays WHERE track_id LIKE 'sur:%%' OR skipped IS NULL "
                      "AND content_type = 'track'") == 0
    before = source_checksums(dbs)
    again = import_export([tmp_path], "me", dbs)
    assert again.import_id is None and again.already_present == again.records_read
    assert source_checksums(dbs) == before
    load_main(dbs)  # refuses plays whose track has no row: every play has one
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM fact_play").fetchone()[0] == len(listening.plays)  # episodes too


def test_plays_polled_from_the_api_are_merged_not_doubled(dbs, real_records, tmp_path):
    with connect("source", dbs) as conn:
        add_user(conn, "me")
        by_uri = {r["spotify_track_uri"]: r for r in real_records[100:] if r["spotify_track_uri"]}
        polled = list(by_uri.values())[:40]  # 40 plays of 40 different tracks
        for r in polled:
            track_id = r["spotify_track_uri"].split(":")[2]
            add_track(conn, track_id, artist_id=f"ar-{track_id}", album_id=f"al-{track_id}")
            # The API has milliseconds; its played_at lands within a second or two of ts.
            at = datetime.fromisoformat(r["ts"]) + timedelta(milliseconds=1_730)
            add_play(conn, "me", track_id, at.isoformat(), ms_played=200_000)
        # A play of the same track 40 s away is another play.
        far = polled[0]
        add_play(conn, "me", far["spotify_track_uri"].split(":")[2],
                 (datetime.fromisoformat(far["ts"]) + timedelta(seconds=40)).isoformat())
        conn.commit()
    report = import_export([REAL_EXPORT], "me", dbs)
    assert report.merged_api == 40
    assert report.loaded["track"] == 1457 - 40
    assert count(dbs, "SELECT count(*) FROM plays") == 1470 - 40 + 41
    with connect("source", dbs) as conn:
        merged = conn.execute(
            "SELECT p.track_id, p.skipped, p.platform, p.reason_end, p.ms_played, p.album_name "
            "FROM plays p JOIN export_merges m USING (play_id) ORDER BY p.played_at").fetchall()
        # The API row is kept (its time and duration) and gains what the export knows.
        assert [(m[0], m[1], m[2], m[3], m[4], m[5]) for m in merged] == [
            (r["spotify_track_uri"].split(":")[2], r["skipped"], r["platform"], r["reason_end"], 200_000,
             r["master_metadata_album_album_name"]) for r in sorted(polled, key=lambda r: r["ts"])]
        # Tracks the API ingestion already described are not overwritten by export names.
        assert conn.execute("SELECT count(*) FROM tracks WHERE track_id = %s AND album_id = %s",
                            (polled[0]["spotify_track_uri"].split(":")[2],
                             "al-" + polled[0]["spotify_track_uri"].split(":")[2])).fetchone()[0] == 1
    before = source_checksums(dbs)
    again = import_export([REAL_EXPORT], "me", dbs)
    assert again.already_present == 1470 and again.merged_api == 0 and again.import_id is None
    assert source_checksums(dbs) == before
    # Main gets each play once (the export's 13 podcast episodes too).
    load_main(dbs)
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM fact_play").fetchone()[0] == 1470 - 40 + 41


def test_zip_of_the_export(dbs, listening, tmp_path):
    write_extended_export(listening, tmp_path / "files", per_file=3000)
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (tmp_path / "files").rglob("*.json"):
            zf.write(path, f"Spotify Extended Streaming History/{path.name}")
        zf.writestr("Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF")
        zf.write(REAL_EXPORT, "Spotify Extended Streaming History/Streaming_History_Audio_2023.json")
    report = import_export([archive], "me", dbs, create_user=True)
    assert report.records_read == len(listening.plays) + 1470
    assert report.plays_loaded == len(listening.plays) + 1470 == count(dbs, "SELECT count(*) FROM plays")
    assert all(f["name"].startswith(f"{archive}:Spotify Extended Streaming History/") for f in report.files)


def test_older_endsong_files_drop_personal_data(dbs, real_records, tmp_path):
    old = [{**{k: v for k, v in r.items() if not k.startswith("audiobook")}, "username": "someone",
            "ip_addr_decrypted": "10.1.2.3", "user_agent_decrypted": "unknown"} for r in real_records[:50]]
    write_json(tmp_path / "endsong_0.json", old)
    report = import_export([tmp_path / "endsong_0.json"], "me", dbs, create_user=True)
    assert report.plays_loaded == 50
    with connect("source", dbs) as conn:
        dump = "".join(str(row) for row in conn.execute("SELECT p.*, e.* FROM plays p, export_imports e"))
    assert "10.1.2.3" not in dump and "someone" not in dump and "unknown" not in dump


def _broken(tmp_path, real_records, name, records):
    good = write_json(tmp_path / "Streaming_History_Audio_2023_0.json", real_records)
    return good, write_json(tmp_path / name, records)


@pytest.mark.parametrize("index, change, reason", [
    (5, {"ts": "2023-02-30T10:00:00Z"}, "ts is not a real instant: '2023-02-30T10:00:00Z'"),
    (7, {"ts": "2023-02-25 10:00:00"}, "ts must look like 2023-06-04T22:06:13Z"),
    (9, {"ms_played": "61839"}, "ms_played must be a whole number of milliseconds >= 0"),
    (11, {"ms_played": -1}, "ms_played must be a whole number"),
    (12, {"skipped": "yes"}, "skipped must be true, false or null"),
    (13, {"spotify_track_uri": "https://open.spotify.com/track/x"}, "not a Spotify track URI"),
])
def test_malformed_record_rejects_the_whole_import(dbs, real_records, tmp_path, index, change, reason):
    records = [dict(r) for r in real_records[:20]]
    records[index].update(change)
    _broken(tmp_path, real_records, "Streaming_History_Audio_2023_1.json", records)
    before = source_checksums(dbs)
    with pytest.raises(ExportError) as error:
        import_export([tmp_path], "me", dbs, create_user=True)
    assert error.value.file.endswith("Streaming_History_Audio_2023_1.json")
    assert error.value.index == index
    assert reason in str(error.value)
    assert source_checksums(dbs) == before  # nothing loaded, not even the user


def test_missing_key_and_wrong_shape(dbs, real_records, tmp_path):
    records = [dict(r) for r in real_records[:10]]
    del records[3]["spotify_track_uri"]
    path = write_json(tmp_path / "a.json", records)
    with pytest.raises(ExportError, match=r"a.json: record 3: missing key 'spotify_track_uri'"):
        import_export([path], "me", dbs, create_user=True)
    path = write_json(tmp_path / "b.json", {"items": real_records[:3]})
    with pytest.raises(ExportError, match=r"b.json: must be a JSON list of records, got a JSON dict"):
        import_export([path], "me", dbs, create_user=True)
    path = write_json(tmp_path / "c.json", [*real_records[:4], ["not", "a", "record"]])
    with pytest.raises(ExportError, match=r"c.json: record 4: not a streaming-history record"):
        import_export([path], "me", dbs, create_user=True)
    assert count(dbs, "SELECT count(*) FROM users") == 0


def test_truncated_file_is_named_with_its_record(dbs, real_records, tmp_path):
    good = write_json(tmp_path / "Streaming_History_Audio_2023_0.json", real_records)
    text = json.dumps(real_records[:30], indent=2)
    cut = text.index('"ts": "' + real_records[17]["ts"]) + 3  # inside record 17
    (tmp_path / "Streaming_History_Audio_2023_1.json").write_text(text[:cut])
    with pytest.raises(ExportError) as error:
        import_export([good, tmp_path / "Streaming_History_Audio_2023_1.json"], "me", dbs, create_user=True)
    assert error.value.index == 17 and "truncated" in error.value.reason
    assert count(dbs, "SELECT count(*) FROM plays") == 0
    # A file cut between two records.
    (tmp_path / "Streaming_History_Audio_2023_1.json").write_text(text[:text.index("},", cut) + 2])
    with pytest.raises(ExportError, match="record 18: truncated"):  # the file ends where 18 starts
        import_export([tmp_path], "me", dbs, create_user=True)
    assert count(dbs, "SELECT count(*) FROM users") == 0


def test_unknown_user_is_refused(dbs):
    with pytest.raises(ExportImportError, match="user 'ghost' does not exist"):
        import_export([REAL_EXPORT], "ghost", dbs)


def test_records_without_content_and_audiobooks(dbs, real_records, tmp_path):
    base = real_records[0]
    empty = {**base, "master_metadata_track_name": None, "master_metadata_album_artist_name": None,
             "master_metadata_album_album_name": None, "spotify_track_uri": None, "ms_played": 0}
    book = {**empty, "ts": "2023-03-01T10:00:00Z", "ms_played": 600_000, "audiobook_title": "A Book",
            "audiobook_uri": "spotify:show:book1", "audiobook_chapter_uri": "spotify:episode:ch1",
            "audiobook_chapter_title": "Chapter 1"}
    junk_offline = {**base, "ts": "2023-03-02T10:00:00Z", "offline_timestamp": 3}
    ms_offline = {**base, "ts": "2023-03-03T10:00:00Z", "offline_timestamp": 1677837600123}
    path = write_json(tmp_path / "x.json", [empty, book, junk_offline, ms_offline])
    report = import_export([path], "me", dbs, create_user=True)
    assert report.skipped == {"no track, episode or audiobook in the record": 1}
    assert report.loaded == {"track": 2, "episode": 0, "audiobook": 1}
    assert plays_by_type(dbs) == {"track": 2, "audiobook": 1}
    with connect("source", dbs) as conn:
        stamps = [t for (t,) in conn.execute(
            "SELECT offline_timestamp FROM plays WHERE content_type = 'track' ORDER BY played_at")]
        assert stamps[0] is None and stamps[1].timestamp() == 1677837600.123
        assert conn.execute("SELECT audiobook_chapter_title FROM plays WHERE content_type = 'audiobook'"
                            ).fetchone()[0] == "Chapter 1"


def test_album_of_a_track_is_the_one_on_its_latest_record(dbs, real_records, tmp_path):
    r = next(r for r in real_records if r["spotify_track_uri"])
    older = {**r, "ts": "2020-01-01T00:00:00Z", "master_metadata_album_album_name": "Old Album"}
    newer = {**r, "ts": "2024-01-01T00:00:00Z", "master_metadata_album_album_name": "Deluxe Album"}
    import_export([write_json(tmp_path / "a.json", [older])], "me", dbs, create_user=True)
    import_export([write_json(tmp_path / "b.json", [newer])], "me", dbs)
    import_export([write_json(tmp_path / "c.json", [older, r])], "me", dbs)  # older than the newest
    track_id = r["spotify_track_uri"].split(":")[2]
    assert count(dbs, "SELECT a.name FROM tracks t JOIN albums a USING (album_id) WHERE track_id = %s",
                 track_id) == "Deluxe Album"
