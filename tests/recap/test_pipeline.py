"""Recaps of `make demo`'s generated listening run through the real pipeline
(generate -> source -> main -> Spark -> replica): every number equals the replica's, and the example
committed under docs/ is exactly what the renderer makes of that data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fake_spotify.generate import generate, write_to_source
from pipeline import analytics
from recap.__main__ import write_recap
from recap.send import send_due
from star_schema.load import load_main
from tests.recap.test_render import assert_matches_replica
from tests.recap_support import copy_main_to_replica
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_recaps_of_generated_listening_match_the_replica(dbs, spark, smtp, tmp_path):
    controller, inbox = smtp
    listening = generate(seed=42, users=3, days=365)  # make demo's defaults: Berlin, New York, Sydney
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
        conn.execute("INSERT INTO users (user_id, display_name, email, timezone) "
                     "VALUES ('quiet', 'Quiet', 'quiet@example.org', 'UTC')")  # no streams: no recap
    load_main(dbs)
    analytics.run(dbs, full=True, spark=spark)
    copy_main_to_replica(dbs)

    settings = dbs.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": controller.port,
                                      "smtp_starttls": False, "recap_max_age_days": 5})
    now = datetime(2026, 10, 2, tzinfo=UTC)  # September is over in every zone; August too long ago
    sent = send_due(settings, now)
    users = sorted(u.user_id for u in listening.users)
    assert [(r.user_id, r.month, r.status) for r in sent] == [(u, "2026-09", "sent") for u in users]
    assert sorted(rcpt[0] for rcpt, _ in inbox.received) == sorted(u.email for u in listening.users)
    for result, (_, message) in zip(sent, inbox.received, strict=True):
        assert_matches_replica(settings, result.user_id, result.month, message)
    assert send_due(settings, now) == [] and len(inbox.received) == 3

    # docs/recap-example.*: `python -m recap render --user listener-42-001 --month 2026-09 --out docs`
    # on this data (then renamed), with the default dashboard and login-service URLs.
    html, text = write_recap(dbs, "listener-42-001", "2026-09", tmp_path)
    assert text.read_text() == (PROJECT_ROOT / "docs" / "recap-example.txt").read_text()
    assert html.read_text() == (PROJECT_ROOT / "docs" / "recap-example.html").read_text()
