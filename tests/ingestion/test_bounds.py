"""What may reach `plays`: bounded export reading (zip bombs, huge or deeply nested files) and the
source gate's bounds applied by the import and the Web API ingestion (ingestion/bounds.py)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import zipfile
from datetime import timedelta

import pytest

from ingestion import bounds
from ingestion.export_loader import import_export
from ingestion.export_reader import MAX_ZIP_ENTRIES, ExportError, zip_entry_count
from ingestion.recently_played import ingest_user
from pipeline.gates import source_gate
from tests.ingestion.conftest import REAL_EXPORT, count, source_checksums, write_json
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT

BOMB_BYTES = 1536 * 2**20  # 1.5 GB of one repeated byte, about 1.5 MB compressed


def test_bounds_are_the_source_gates():
    contract = (PROJECT_ROOT / "soda/source/plays.yml").read_text()
    assert f"valid max: {bounds.MS_PLAYED_MAX}" in contract and "valid min: 0" in contract
    assert bounds.MS_PLAYED_MAX == 12 * 3600 * 1000
    assert f"played_at < timestamptz '{bounds.PLAYED_AT_MIN:%Y-%m-%d %H:%M:%S}+00'" in contract
    minutes = int(re.search(r"played_at > now\(\) \+ interval '(\d+) minutes'", contract).group(1))
    assert timedelta(minutes=minutes) == bounds.FUTURE_TOLERANCE


# -- the import: refused by default, skipped and counted on request --------------

BAD = {  # record index -> (change, field named, skip reason)
    3: ({"ts": "1990-06-01T10:00:00Z"}, "ts is before 2006-01-01", bounds.BEFORE_2006),
    5: ({"ts": "2099-01-01T00:00:00Z"}, "ts is in the future", bounds.IN_THE_FUTURE),
    7: ({"ms_played": 2**31 - 1}, "ms_played must be a whole number of milliseconds between 0 and 43200000",
        bounds.MS_OUT_OF_RANGE),
    9: ({"master_metadata_track_name": "Nul\x00Song"}, "master_metadata_track_name contains a NUL character",
        bounds.BAD_TEXT),
    11: ({"master_metadata_album_album_name": "Lone \ud800 surrogate"},
         "master_metadata_album_album_name is not valid Unicode", bounds.BAD_TEXT),
}


def _with_bad_records(real_records, tmp_path, indexes):
    records = [dict(r) for r in real_records[:20]]
    for index in indexes:
        records[index].update(BAD[index][0])
    # json.dumps writes the lone surrogate as the escape \ud800, as a hostile export would.
    return write_json(tmp_path / "Streaming_History_Audio_2023_1.json", records), records


@pytest.mark.parametrize("index", sorted(BAD))
def test_record_outside_the_gates_bounds_refuses_the_import(dbs, real_records, tmp_path, index):
    path, _ = _with_bad_records(real_records, tmp_path, [index])
    before = source_checksums(dbs)
    with pytest.raises(ExportError) as error:
        import_export([path], "me", dbs, create_user=True)
    assert error.value.file == str(path) and error.value.index == index
    assert BAD[index][1] in error.value.reason
    assert source_checksums(dbs) == before


def test_account_data_record_outside_the_bounds(dbs, tmp_path):
    records = [{"endTime": "2023-05-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1000},
               {"endTime": "1999-05-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1000}]
    path = write_json(tmp_path / "StreamingHistory_music_0.json", records)
    with pytest.raises(ExportError, match=r"StreamingHistory_music_0.json: record 1: endTime is before 2006"):
        import_export([path], "me", dbs, create_user=True)
    report = import_export([path], "me", dbs, create_user=True, skip_invalid=True)
    assert report.skipped == {bounds.BEFORE_2006: 1} and report.plays_loaded == 1


def test_skip_invalid_loads_the_rest_and_the_source_gate_passes(dbs, real_records, tmp_path):
    path, records = _with_bad_records(real_records, tmp_path, sorted(BAD))
    report = import_export([path], "me", dbs, create_user=True, skip_invalid=True)
    assert report.records_read == 20 and report.accounted == 20
    assert report.skipped == {bounds.BEFORE_2006: 1, bounds.IN_THE_FUTURE: 1, bounds.MS_OUT_OF_RANGE: 1,
                              bounds.BAD_TEXT: 2}
    assert report.plays_loaded == 15 == count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'me'")
    assert count(dbs, "SELECT count(*) FROM plays WHERE played_at < '2006-01-01' OR played_at > now() "
                      "OR ms_played > 43200000") == 0
    assert count(dbs, "SELECT report->'skipped' FROM export_imports") == report.skipped  # recorded too
    assert all(check.outcome == "pass" for check in source_gate(dbs))


def test_skip_invalid_from_the_command_line(dbs, real_records, tmp_path):
    path, _ = _with_bad_records(real_records, tmp_path, [3, 9])
    refused = cli(str(path), "--user", "al", "--create-user")
    assert refused.returncode == 1
    assert "Streaming_History_Audio_2023_1.json: record 3: ts is before 2006-01-01" in refused.stderr
    assert count(dbs, "SELECT count(*) FROM users") == 0
    done = cli(str(path), "--user", "al", "--create-user", "--skip-invalid", "--no-resolve")
    assert done.returncode == 0, done.stderr
    assert f"skipped: {bounds.BEFORE_2006}  1" in done.stdout and f"skipped: {bounds.BAD_TEXT}  1" in done.stdout
    assert count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'al'") == 18


# -- bounded reading --------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingestion", "import", "--no-progress", *args], cwd=PROJECT_ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=300)


# The child writes its own peak RSS (VmHWM) when it exits. Not ru_maxrss: Linux carries that across
# execve, so a child forked from a large pytest process would report the parent's size.
_REPORT_PEAK = (
    "import atexit, os, runpy, sys\n"
    "def peak():\n"
    "    hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
    "    open(os.environ['PEAK_FILE'], 'w').write(hwm.split()[1])\n"
    "atexit.register(peak)\n"
    "sys.argv = ['ingestion', *sys.argv[1:]]\n"
    "runpy.run_module('ingestion', run_name='__main__')\n"
)


def cli_peak(tmp_path, *args: str) -> tuple[int, str, int]:
    """Exit status, stderr and the peak RSS in kB of an import run in a child process."""
    peak = tmp_path / "peak.txt"
    done = subprocess.run([sys.executable, "-c", _REPORT_PEAK, "import", "--no-progress", *args], cwd=PROJECT_ROOT,
                          env={**os.environ, "PEAK_FILE": str(peak)}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=300)
    return done.returncode, done.stderr, int(peak.read_text())


def write_bomb(path, member: str, size: int, compresslevel: int = 9):
    """A zip whose `member` is `size` bytes of one byte, written streaming (small in memory and on disk)."""
    chunk = b" " * 2**20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf, \
            zf.open(member, "w", force_zip64=True) as out:
        for _ in range(size // len(chunk)):
            out.write(chunk)
    return path


def test_zip_bomb_is_refused_in_little_memory(dbs, tmp_path):
    bomb = write_bomb(tmp_path / "my_spotify_data.zip", "Spotify Extended Streaming History/"
                      "Streaming_History_Audio_2023_0.json", BOMB_BYTES)
    assert bomb.stat().st_size < 3 * 2**20
    before = source_checksums(dbs)
    status, stderr, peak_kb = cli_peak(tmp_path, str(bomb), "--user", "bomber", "--create-user")
    assert status == 1, stderr
    assert "Streaming_History_Audio_2023_0.json: 1,536.0 MB uncompressed" in stderr
    assert "EXPORT_MAX_FILE_MB=64" in stderr
    print(f"zip bomb import: peak RSS {peak_kb // 1024} MB")  # shown with pytest -s
    assert peak_kb < 300 * 1024, f"peak RSS {peak_kb} kB"
    assert source_checksums(dbs) == before


def test_compression_ratio_and_sizes_are_limited(dbs, tmp_path):
    dense = write_bomb(tmp_path / "dense.zip", "Streaming_History_Audio_2023_0.json", 8 * 2**20)
    with pytest.raises(ExportError, match=r"dense.zip:Streaming_History_Audio_2023_0.json: expands .* times .*"
                                          r"EXPORT_MAX_COMPRESSION_RATIO=100"):
        import_export([dense], "me", dbs, create_user=True)
    small = dbs.model_copy(update={"export_max_file_mb": 1})  # the real file holds 1.02 MB
    with pytest.raises(ExportError, match=r"Streaming_History_Audio_2023.json: 1.0 MB uncompressed, more than "
                                          r"the limit for one file \(EXPORT_MAX_FILE_MB=1\)"):
        import_export([REAL_EXPORT], "me", small, create_user=True)
    copy = tmp_path / "again" / "Streaming_History_Audio_2022.json"
    copy.parent.mkdir()
    copy.write_bytes(REAL_EXPORT.read_bytes())
    two_mb = dbs.model_copy(update={"export_max_total_mb": 2})
    with pytest.raises(ExportError, match=r"2.0 MB of JSON in all, more than EXPORT_MAX_TOTAL_MB=2"):
        import_export([REAL_EXPORT, copy.parent], "me", two_mb, create_user=True)
    assert count(dbs, "SELECT count(*) FROM users") == 0


def test_a_zip_of_too_many_entries_is_refused_before_its_directory_is_read(dbs, tmp_path):
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:  # 65,536 entries: the count lives in the zip64 record
        for i in range(MAX_ZIP_ENTRIES * 6 + 5_536):
            zf.writestr(f"f{i}.txt", b"")
    assert zip_entry_count(many) == 65_536
    with pytest.raises(ExportError, match=r"many.zip: the zip declares 65,536 entries, more than 10,000"):
        import_export([many], "me", dbs, create_user=True)
    assert count(dbs, "SELECT count(*) FROM users") == 0
    few = write_bomb(tmp_path / "few.zip", "Streaming_History_Audio_2023_0.json", 2**20)
    assert zip_entry_count(few) == 1


def test_deeply_nested_json_is_refused_clearly(dbs, tmp_path):
    path = tmp_path / "Streaming_History_Audio_2023_0.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ExportError, match=r"Streaming_History_Audio_2023_0.json: not a streaming history: "
                                          r"JSON nested too deeply"):
        import_export([path], "me", dbs, create_user=True)
    status, stderr, _ = cli_peak(tmp_path, str(path), "--user", "me", "--create-user")
    assert status == 1 and "JSON nested too deeply" in stderr and "Traceback" not in stderr


# -- the Web API ingestion ------------------------------------------------------------

def test_api_items_outside_the_bounds_are_dropped_and_logged(spotify_settings, fake_spotify, connect_user,
                                                               caplog):
    user = fake_spotify.fake.listening.users[0].user_id
    connect_user(user)
    window = fake_spotify.fake.window(user)
    nul, long = window[-1].track_id, window[0].track_id
    fake_spotify.fake.tracks[nul].name = "Nul\x00Song"
    fake_spotify.fake.tracks[long].duration_ms = 2**31 - 1
    with caplog.at_level(logging.WARNING, logger="ingestion.recently_played"):
        result = ingest_user(user, spotify_settings)
    kept = [p for p in window if p.track_id not in (nul, long)]
    assert result.status == "ok" and result.plays_inserted == len(kept) < 50
    with connect("source", spotify_settings) as conn:
        tracks = [t for (t,) in conn.execute("SELECT track_id FROM plays WHERE user_id = %s ORDER BY played_at",
                                             (user,))]
    assert tracks == [p.track_id for p in kept]
    assert f"metadata of track {nul!r}: name contains a NUL character" in caplog.text
    assert "track.duration_ms must be a whole number of milliseconds between 0 and 43200000" in caplog.text
    assert all(check.outcome == "pass" for check in source_gate(spotify_settings))

