"""Getting listening into source: the Web API (recently played, enrichment) and Spotify data exports."""
