"""The import's entry points: the command line, the Flask upload form, the Airflow DAG."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta

import pytest
from flask import Flask

from testkit.web_session import log_in_client
from tests.airflow_support import DAGS_FOLDER, load_dag_bag, run_dag, use_dag_folder
from tests.ingestion.conftest import REAL_EXPORT, count, source_checksums, write_json
from warehouse.settings import PROJECT_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingestion", "import", *args], cwd=PROJECT_ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_command_line(dbs, real_records, tmp_path):
    refused = cli(str(REAL_EXPORT), "--user", "alice")
    assert refused.returncode == 1 and "user 'alice' does not exist" in refused.stderr
    assert cli(str(REAL_EXPORT), "--user", "alice", "--create-user", "--timezone", "Mars/Base").returncode == 2

    done = cli(str(REAL_EXPORT), "--user", "alice", "--create-user", "--timezone", "Europe/Berlin")
    assert done.returncode == 0, done.stderr
    assert "records read             1,470" in done.stdout
    assert "plays loaded             1,470  (13 episodes, 1,457 tracks)" in done.stdout
    assert "alice has not connected Spotify" in done.stdout  # no resolution without a connection
    assert count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'alice'") == 1470

    before = source_checksums(dbs)
    again = cli(str(REAL_EXPORT), "--user", "alice", "--no-resolve")
    assert again.returncode == 0 and "nothing new, nothing written" in again.stdout
    assert source_checksums(dbs) == before

    broken = [dict(r) for r in real_records[:5]]
    broken[2]["ts"] = "yesterday"
    bad = cli(str(write_json(tmp_path / "bad.json", broken)), "--user", "alice")
    assert bad.returncode == 1
    assert "import refused, nothing loaded" in bad.stderr and "bad.json: record 2: ts must look like" in bad.stderr
    assert source_checksums(dbs) == before


def make_upload_client(settings):
    """The upload blueprint alone, with the login service's sessions, CSRF check and body limit."""
    from flask_endpoint.upload import bp
    from warehouse import web

    app = Flask("upload-test")
    app.secret_key = "test"
    app.config["SETTINGS"] = settings
    web.init_app(app, public_url="http://localhost/", session_hours=1, max_content_bytes=settings.upload_max_mb * 2**20)
    app.register_blueprint(bp)
    return app.test_client()


@pytest.fixture
def upload_client(dbs):
    return make_upload_client(dbs)


def as_zip(*members: tuple[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_upload_form(dbs, upload_client, real_records):
    assert upload_client.get("/import").status_code == 401
    assert upload_client.post("/import", data={"export": (io.BytesIO(b"[]"), "x.json")}).status_code == 403
    anonymous = log_in_client(upload_client)  # a session (its CSRF token) but no user
    answer = upload_client.post("/import", data={"export": (io.BytesIO(b"[]"), "x.json"), **anonymous})
    assert answer.status_code == 401
    from testkit.sourcedata import add_user
    from warehouse.db import connect

    with connect("source", dbs) as conn:
        add_user(conn, "bob")
        conn.commit()
    token = log_in_client(upload_client, user_id="bob")
    page = upload_client.get("/import")
    assert page.status_code == 200 and b'type="file" name="export"' in page.data

    export = as_zip(("Spotify Extended Streaming History/Streaming_History_Audio_2023.json", REAL_EXPORT.read_bytes()),
                    ("Spotify Extended Streaming History/ReadMeFirst.pdf", b"%PDF"))
    answer = upload_client.post("/import", data={"export": (export, "my_spotify_data.zip"), **token})
    assert answer.status_code == 200, answer.data
    assert b"Imported: 1470 new plays." in answer.data
    assert b"my_spotify_data.zip:Spotify Extended Streaming History/Streaming_History_Audio_2023.json" in answer.data
    assert count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'bob'") == 1470

    before = source_checksums(dbs)
    again = upload_client.post("/import", data={"export": (io.BytesIO(REAL_EXPORT.read_bytes()), "again.json"),
                                                **token})
    assert again.status_code == 200 and b"Nothing new" in again.data
    broken = json.dumps(real_records[:3])[:-40]
    refused = upload_client.post("/import", data={"export": (io.BytesIO(broken.encode()), "cut.json"), **token})
    assert refused.status_code == 400
    assert b"nothing was loaded: cut.json: record 2: truncated" in refused.data
    wrong = upload_client.post("/import", data={"export": (io.BytesIO(b"x"), "notes.txt"), **token})
    assert wrong.status_code == 400 and b"not a .zip, .json, .jsonl or .csv file: notes.txt" in wrong.data
    assert source_checksums(dbs) == before


def test_upload_size_limit(dbs):
    upload_client = make_upload_client(dbs.model_copy(update={"upload_max_mb": 1}))
    token = log_in_client(upload_client, user_id="bob")
    answer = upload_client.post("/import", data={"export": (io.BytesIO(b" " * 2**21), "big.json"), **token})
    assert answer.status_code == 413 and b"larger than 1 MB (UPLOAD_MAX_MB)" in answer.data


def test_upload_form_can_skip_invalid_records(dbs, upload_client, real_records):
    from testkit.sourcedata import add_user
    from warehouse.db import connect

    with connect("source", dbs) as conn:
        add_user(conn, "dan")
        conn.commit()
    token = log_in_client(upload_client, user_id="dan")
    records = json.dumps([{**real_records[0], "ts": "1990-06-01T10:00:00Z"}, *real_records[1:4]]).encode()
    refused = upload_client.post("/import", data={"export": (io.BytesIO(records), "history.json"), **token})
    assert refused.status_code == 400 and b"record 0: ts is before 2006-01-01" in refused.data
    assert count(dbs, "SELECT count(*) FROM plays") == 0
    done = upload_client.post("/import", data={"export": (io.BytesIO(records), "history.json"), "skip_invalid": "1",
                                               **token})
    assert done.status_code == 200 and b"skipped: played before 2006-01-01  1" in done.data
    assert count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'dan'") == 3


@pytest.mark.slow
def test_dag_imports_then_triggers_the_analytics(airflow_home, dbs, tmp_path, monkeypatch):
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "spotify_import.py").symlink_to(DAGS_FOLDER / "spotify_import.py")
    dag = load_dag_bag(folder).dags["spotify_import"]  # parsed as the scheduler would, no import error
    assert {t.task_id for t in dag.tasks} == {"import_export", "resolve_names", "source_gate", "new_plays",
                                              "trigger_spotify_analytics"}
    assert dag.get_task("trigger_spotify_analytics").trigger_dag_id == "spotify_analytics"
    assert set(dag.params) == {"path", "user_id", "create_user", "timezone", "skip_invalid"}
    assert dag.params["skip_invalid"] is False  # records outside the gate's bounds refuse by default

    (folder / "spotify_analytics.py").symlink_to(DAGS_FOLDER / "spotify_analytics.py")
    use_dag_folder(monkeypatch, folder)
    dag = load_dag_bag(folder).dags["spotify_import"]
    from airflow.models.dagrun import DagRun

    analytics_runs = len(DagRun.find(dag_id="spotify_analytics"))  # other tests of the session ran it too
    run, states = run_dag(dag, run_conf={"path": str(REAL_EXPORT), "user_id": "carol", "create_user": True,
                                         "timezone": "Asia/Kolkata"})
    assert states == {"import_export": "success", "resolve_names": "success", "source_gate": "success",
                      "new_plays": "success", "trigger_spotify_analytics": "success"}, states
    assert count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'carol'") == 1470
    assert len(DagRun.find(dag_id="spotify_analytics")) == analytics_runs + 1


def test_upload_of_lastfm_scrobbles_and_listenbrainz_listens(dbs, upload_client, real_records):
    from testkit.sourcedata import add_user
    from warehouse.db import connect

    with connect("source", dbs) as conn:
        add_user(conn, "eve")
        conn.commit()
    token = log_in_client(upload_client, user_id="eve")
    first = real_records[0]
    assert upload_client.post("/import", data={"export": (io.BytesIO(json.dumps([first]).encode()), "h.json"),
                                               **token}).status_code == 200
    # Last.fm's scrobble of the same listen (it started ms_played before ts), and one Spotify never saw.
    started = datetime.fromisoformat(first["ts"]) - timedelta(milliseconds=first["ms_played"])
    scrobbles = (f'"{first["master_metadata_album_artist_name"]}",,"{first["master_metadata_track_name"]}",'
                 f'{started:%d %b %Y %H:%M}\nMúm,Finally We Are No One,Green Grass of Tunnel,01 Mar 2024 10:00\n')
    listens = as_zip(("listens/2024/3.jsonl", json.dumps({"listened_at": 1_709_290_800, "track_metadata": {
        "artist_name": "Múm", "track_name": "Green Grass of Tunnel"}}).encode()))
    answer = upload_client.post("/import", data={"export": [(io.BytesIO(scrobbles.encode()), "scrobbles.csv"),
                                                            (listens, "listenbrainz_eve.zip")], **token})
    assert answer.status_code == 200, answer.data
    assert b"Imported: 2 new plays." in answer.data and b"merged across formats        1" in answer.data
    assert count(dbs, "SELECT count(*) FROM plays WHERE user_id = 'eve'") == 3
