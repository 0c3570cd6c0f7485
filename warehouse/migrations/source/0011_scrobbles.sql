-- Listens from elsewhere (ingestion/export_reader.py): Last.fm scrobbles and ListenBrainz listens
-- are plays of their own source, and records merged into a play may come from them.

ALTER TABLE plays DROP CONSTRAINT plays_source_check;
ALTER TABLE plays ADD CONSTRAINT plays_source_check
    CHECK (source IN ('api', 'extended_export', 'account_export', 'lastfm', 'listenbrainz'));

ALTER TABLE export_merges DROP CONSTRAINT export_merges_record_source_check;
ALTER TABLE export_merges ADD CONSTRAINT export_merges_record_source_check
    CHECK (record_source IN ('extended_export', 'account_export', 'lastfm', 'listenbrainz'));
