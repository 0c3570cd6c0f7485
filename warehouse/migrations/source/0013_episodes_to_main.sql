-- Podcast episode plays now reach main (docs/metrics.md, "Podcasts"; main migration 0024): the load
-- follows revisions, so the episode plays stored before this release take a new one and the next load
-- stages them, as it stages any changed play.
UPDATE plays SET revision = nextval('plays_revision_seq') WHERE content_type = 'episode';
