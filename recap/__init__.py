"""Monthly recap e-mails: one user's month from the replica, rendered and sent once (see README)."""
