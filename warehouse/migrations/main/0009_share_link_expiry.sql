-- Optional expiry of dashboard share links (warehouse/share_links.py): a link whose
-- expires_at has passed opens nothing. NULL = no expiry. Replicated with the table
-- (this file is linked from migrations/replica).

ALTER TABLE public.dashboard_share_links ADD COLUMN expires_at timestamptz;
