-- Share links of the web dashboard (dashboard/share_links.py): a random token
-- opens one user's pages. Only the token's sha256 hash is stored. Written in
-- main; replicated to the replica (this file is linked from migrations/replica),
-- where the dashboard checks tokens. A revoked link keeps its row (revoked_at).

CREATE TABLE public.dashboard_share_links (
    token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),  -- sha256 hex of the token
    user_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX dashboard_share_links_user ON public.dashboard_share_links (user_id);
