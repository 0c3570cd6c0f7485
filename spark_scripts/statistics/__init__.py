"""One module per statistic, named as in docs/metrics.md and warehouse/catalog.py."""

from spark_scripts.statistics.album_completion import album_completion
from spark_scripts.statistics.artist_streaks import artist_streaks
from spark_scripts.statistics.day_of_week import day_of_week
from spark_scripts.statistics.duration_preference import duration_preference
from spark_scripts.statistics.explicit_preference import explicit_preference
from spark_scripts.statistics.genre_distribution import genre_distribution
from spark_scripts.statistics.hour_of_day import hour_of_day
from spark_scripts.statistics.listening_clock import listening_clock
from spark_scripts.statistics.longest_days import longest_days
from spark_scripts.statistics.overview import overview
from spark_scripts.statistics.play_gaps import play_gaps
from spark_scripts.statistics.popularity_distribution import popularity_distribution
from spark_scripts.statistics.release_years import release_years
from spark_scripts.statistics.session_summary import session_summary
from spark_scripts.statistics.sessions import sessions
from spark_scripts.statistics.top_albums import top_albums
from spark_scripts.statistics.top_artists import top_artists
from spark_scripts.statistics.top_tracks import top_tracks

COMPUTE = {
    function.__name__: function
    for function in (
        overview, top_tracks, top_artists, top_albums, hour_of_day, day_of_week, listening_clock,
        album_completion, artist_streaks, sessions, session_summary, play_gaps, popularity_distribution,
        duration_preference, explicit_preference, release_years, longest_days, genre_distribution,
    )
}
