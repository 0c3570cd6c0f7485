"""Sending recaps over a real local SMTP server: who gets one, when, and never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from operations.postgres import free_port
from recap.send import DueRecap, due_recaps, send_due, send_recap
from testkit.web_session import log_in_client
from tests.recap_support import ADDRESSES, FEB_2, publish_run
from warehouse.db import connect


def sent_rows(settings) -> list[tuple]:
    with connect("source", settings) as conn:
        return conn.execute("SELECT user_id, month, recipient, message_id FROM recap_sends "
                            "ORDER BY user_id, month").fetchall()


def test_one_message_per_user_and_month_with_streams_and_none_twice(recap_settings, smtp):
    _, inbox = smtp
    publish_run(recap_settings, datetime(2026, 2, 1, 6, tzinfo=UTC))
    # alice's 2025-11 ended more than RECAP_MAX_AGE_DAYS (35) before: never mailed. carol has no streams.
    assert due_recaps(recap_settings, FEB_2) == [DueRecap("alice", "2025-12"), DueRecap("alice", "2026-01"),
                                                 DueRecap("bob", "2026-01")]
    results = send_due(recap_settings, FEB_2)
    assert [(r.user_id, r.month, r.status) for r in results] == [
        ("alice", "2025-12", "sent"), ("alice", "2026-01", "sent"), ("bob", "2026-01", "sent")]

    received = [(rcpt, msg["To"], msg["Subject"], msg["Message-ID"]) for rcpt, msg in inbox.received]
    assert [(rcpt, subject.split(":")[0]) for rcpt, _, subject, _ in received] == [
        ([ADDRESSES["alice"]], "Your December 2025 in music"),
        ([ADDRESSES["alice"]], "Your January 2026 in music"),
        ([ADDRESSES["bob"]], "Your January 2026 in music")]
    assert sent_rows(recap_settings) == [
        ("alice", "2025-12", ADDRESSES["alice"], received[0][3]),
        ("alice", "2026-01", ADDRESSES["alice"], received[1][3]),
        ("bob", "2026-01", ADDRESSES["bob"], received[2][3])]
    assert received[1][3] == "<recap.2026-01.alice@wrapped.test>"
    for _, message in inbox.received:
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.get_payload()] == ["text/plain", "text/html"]

    # A re-run, later that day, and a direct retry of one recap send nothing more.
    assert due_recaps(recap_settings, FEB_2 + timedelta(hours=5)) == []
    assert send_due(recap_settings, FEB_2 + timedelta(hours=5)) == []
    assert send_recap(recap_settings, "alice", "2026-01").status == "already_sent"
    assert len(inbox.received) == 3
    assert len(sent_rows(recap_settings)) == 3


def test_month_must_be_over_in_the_users_zone_and_published_and_replicated(recap_settings):
    # 2026-01 ends at 2026-01-31 23:00 UTC in Berlin (alice), at 2026-02-01 05:00 UTC in New York (bob).
    def due(hour: int, minute: int = 30) -> list[tuple[str, str]]:
        now = datetime(2026, 2, 1, hour, minute, tzinfo=UTC)
        return [(d.user_id, d.month) for d in due_recaps(recap_settings, now)]

    publish_run(recap_settings, datetime(2026, 1, 31, 22, 0, tzinfo=UTC))  # before alice's month ended
    assert due(4) == [("alice", "2025-12")]
    publish_run(recap_settings, datetime(2026, 2, 1, 0, 10, tzinfo=UTC))
    assert due(4) == [("alice", "2025-12"), ("alice", "2026-01")]
    assert due(5) == [("alice", "2025-12"), ("alice", "2026-01")]  # bob's month is over, not yet published
    publish_run(recap_settings, datetime(2026, 2, 1, 6, 0, tzinfo=UTC))
    assert due(6) == [("alice", "2025-12"), ("alice", "2026-01"), ("bob", "2026-01")]

    # A publication main holds and the replica does not yet: not due until the replica has it.
    with connect("main", recap_settings) as conn:
        conn.execute("UPDATE analytics.overview SET streams = streams + 1 WHERE user_id = 'bob'")
    assert due(6) == [("alice", "2025-12"), ("alice", "2026-01")]
    with connect("main", recap_settings) as conn:
        conn.execute("UPDATE analytics.overview SET streams = streams - 1 WHERE user_id = 'bob'")

    # With Debezium's bookkeeping on the replica, the replica must have applied that publication.
    with connect("replica", recap_settings, autocommit=True) as conn:
        conn.execute("INSERT INTO cdc.applied_position VALUES ('wrapped_replica', '0/1', "
                     "'2026-02-01 05:59+00', now(), 1, true)")
    assert due(6) == [("alice", "2025-12"), ("alice", "2026-01")]
    with connect("replica", recap_settings, autocommit=True) as conn:
        conn.execute("UPDATE cdc.applied_position SET committed_at = '2026-02-01 06:00:01+00'")
    assert due(6) == [("alice", "2025-12"), ("alice", "2026-01"), ("bob", "2026-01")]


def test_opted_out_and_users_without_an_address_get_nothing(recap_settings, smtp):
    _, inbox = smtp
    publish_run(recap_settings, datetime(2026, 2, 1, 6, tzinfo=UTC))
    with connect("source", recap_settings) as conn:
        conn.execute("UPDATE users SET recap_opt_out = true WHERE user_id = 'bob'")
        conn.execute("UPDATE users SET email = NULL WHERE user_id = 'alice'")
    assert due_recaps(recap_settings, FEB_2) == []
    assert send_recap(recap_settings, "bob", "2026-01").status == "opted_out"
    assert send_recap(recap_settings, "alice", "2026-01").status == "no_email"
    assert inbox.received == [] and sent_rows(recap_settings) == []


def test_a_failed_send_records_nothing_and_the_next_run_sends_it(recap_settings, smtp):
    _, inbox = smtp
    publish_run(recap_settings, datetime(2026, 2, 1, 6, tzinfo=UTC))
    down = recap_settings.model_copy(update={"smtp_port": free_port()})  # nobody listens there
    with pytest.raises(ConnectionRefusedError):
        send_due(down, FEB_2)
    assert sent_rows(recap_settings) == [] and inbox.received == []
    assert [r.status for r in send_due(recap_settings, FEB_2)] == ["sent", "sent", "sent"]
    assert len(inbox.received) == 3


def test_the_account_page_sets_the_opt_out(recap_settings):
    from cryptography.fernet import Fernet

    from flask_endpoint.app import create_app

    app = create_app(recap_settings.model_copy(update={
        "flask_secret_key": "test-secret-" + "x" * 32, "pipeline_api_key": "test-key",
        "token_encryption_key": Fernet.generate_key().decode(), "spotify_client_id": "client"}))
    client = app.test_client()
    token = log_in_client(client, user_id="bob", version=0)
    assert 'id="recap" name="recap" type="checkbox" value="1" checked' in client.get("/account").text

    def opted_out() -> bool:
        with connect("source", recap_settings) as conn:
            return conn.execute("SELECT recap_opt_out FROM users WHERE user_id = 'bob'").fetchone()[0]

    form = {"timezone": "America/New_York", "email": ADDRESSES["bob"], **token}
    assert client.post("/account/settings", data=form).status_code == 302  # box unticked
    assert opted_out() is True
    assert 'value="1">' in client.get("/account").text
    publish_run(recap_settings, datetime(2026, 2, 1, 6, tzinfo=UTC))
    assert DueRecap("bob", "2026-01") not in due_recaps(recap_settings, FEB_2)
    assert client.post("/account/settings", data={**form, "recap": "1"}).status_code == 302
    assert opted_out() is False
    assert DueRecap("bob", "2026-01") in due_recaps(recap_settings, FEB_2)
