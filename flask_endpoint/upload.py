"""Upload form for a Spotify data export, or Last.fm / ListenBrainz listens: `GET/POST /import` for the
logged-in user.

The blueprint `bp` is registered by the login service (flask_endpoint.app),
whose `config["SETTINGS"]` it reads. The user is `session["user_id"]`, set at
login; nobody else can import into that history. The upload (the export's zip,
its JSON files, a Last.fm scrobbles CSV or ListenBrainz listens) is saved to a
private temporary folder under RUNTIME_DIR, imported in one transaction
(`ingestion.export_loader`), and deleted. Answers:
200 with the report, 400 when the export is refused (nothing loaded; the
message names file, record and reason), 401 when not logged in, 413 when
larger than UPLOAD_MAX_MB (the app's MAX_CONTENT_LENGTH: Werkzeug stops reading
there, chunked uploads included). The form's "skip invalid records" box imports the rest
of an export whose records fall outside the source gate's bounds (counted in the report).
Name-only tracks are left for the `spotify_import` DAG's resolution step or the
next `make import`; the analytics pick the plays up on their next run.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, current_app, render_template, request, session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from ingestion.export_loader import ExportImportError, import_export
from ingestion.export_reader import ExportError

bp = Blueprint("upload", __name__, template_folder="templates")
ALLOWED = (".zip", ".json", ".jsonl", ".csv")


def _page(status: int = 200, **context):
    return render_template("upload.html", max_mb=current_app.config["SETTINGS"].upload_max_mb, **context), status


def _user_names(text: str, folder: Path) -> str:
    """Name files as the user called them, not by our temporary folder."""
    return re.sub(re.escape(str(folder)) + r"/\d{3}/", "", text)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_: RequestEntityTooLarge):
    return _page(413, error=f"the upload is larger than {current_app.config['SETTINGS'].upload_max_mb} MB "
                            "(UPLOAD_MAX_MB)")


@bp.get("/import")
def form():
    if "user_id" not in session:
        return _page(401, error="log in with Spotify first")
    return _page()


@bp.post("/import")
def upload():
    settings = current_app.config["SETTINGS"]
    if "user_id" not in session:
        return _page(401, error="log in with Spotify first")
    files = [f for f in request.files.getlist("export") if f.filename]
    if not files:
        return _page(400, error="choose the zip Spotify sent, its .json files, or a Last.fm or ListenBrainz export")
    bad = [f.filename for f in files if not f.filename.lower().endswith(ALLOWED)]
    if bad:
        return _page(400, error=f"not a .zip, .json, .jsonl or .csv file: {', '.join(bad)}")
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.runtime_dir))
    try:
        paths = []
        for number, part in enumerate(files):
            path = folder / f"{number:03d}" / (secure_filename(part.filename) or "export.json")
            path.parent.mkdir()
            part.save(path)
            paths.append(path)
        try:
            report = import_export(paths, session["user_id"], settings,
                                   skip_invalid=request.form.get("skip_invalid") == "1")
        except (ExportError, ExportImportError) as exc:
            return _page(400, error=_user_names(str(exc), folder))
        return _page(report=report, report_text=_user_names(str(report), folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
