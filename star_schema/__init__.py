"""The star schema in main (`dim_user`, `dim_track`, `dim_album`, `dim_artist`, `fact_play`), built from source
by `star_schema.load`; its contract is checked by the main gate (soda/main/)."""
