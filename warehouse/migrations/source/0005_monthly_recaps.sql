-- Monthly recap e-mails (recap/): who opted out, and which recaps were sent.

-- Set on the account page (flask_endpoint): no monthly recap e-mail for this user.
ALTER TABLE users ADD COLUMN recap_opt_out boolean NOT NULL DEFAULT false;

-- One row per recap e-mail sent: at most one per user and month. The row is
-- written in the same transaction that sends the message, so a failed send
-- records nothing and a re-run never sends the same month twice.
CREATE TABLE recap_sends (
    user_id     text NOT NULL REFERENCES users (user_id),
    month       text NOT NULL CHECK (month ~ '^\d{4}-(0[1-9]|1[0-2])$'),   -- local month 'YYYY-MM'
    sent_at     timestamptz NOT NULL DEFAULT now(),
    recipient   text NOT NULL,
    message_id  text NOT NULL UNIQUE,                                     -- the Message-ID header sent
    PRIMARY KEY (user_id, month)
);
