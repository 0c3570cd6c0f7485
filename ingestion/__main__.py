"""`python -m ingestion import PATH... --user USER_ID`: import a Spotify data export.
`python -m ingestion poll [--until-enriched]`: one Web API ingestion run for every connected user, now.
`python -m ingestion exclude add|remove|list ...`, `python -m ingestion delete-plays ...`: a user's exclusion
rules and deletions of plays (`ingestion.your_data`).
`python -m ingestion export --user ID --format csv|json|parquet [--out PATH]`: the user's plays and statistics
in one zip (`ingestion.takeout`, `ingestion.your_data`).
`python -m ingestion playlists add|remove|list|refresh --user ID ...`: the user's playlists (`ingestion.playlists`).
`python -m ingestion editions split|merge|remove|list --user ID ...`: one song across editions, by hand
(`ingestion.editions`).

--skip-invalid skips records the source gate would refuse, counted in the report;
by default they refuse the import.
PATH: export files (`Streaming_History_Audio_*.json`, `endsong_*.json`,
`StreamingHistory*.json`), folders holding them, or the zip Spotify sends; also
a Last.fm scrobbles CSV and ListenBrainz listens (`.jsonl`, or their zip).
When the user has connected Spotify, name-only tracks are then resolved through
Spotify search (`ingestion.resolve_names`; skip with --no-resolve).
Exit status: 0 imported (or nothing new), 1 the export was refused (nothing
loaded), 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ingestion.export_loader import ExportImportError, import_export
from ingestion.export_reader import ExportError
from warehouse.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["poll"]:
        from ingestion.recently_played import main as poll

        return poll(argv[1:])
    if argv[:1] == ["exclude"]:
        from ingestion.your_data import exclude_main

        return exclude_main(argv[1:])
    if argv[:1] == ["delete-plays"]:
        from ingestion.your_data import delete_main

        return delete_main(argv[1:])
    if argv[:1] == ["playlists"]:
        from ingestion.your_data import playlists_main

        return playlists_main(argv[1:])
    if argv[:1] == ["editions"]:
        from ingestion.your_data import editions_main

        return editions_main(argv[1:])
    if argv[:1] == ["export"]:
        from ingestion.your_data import export_main

        return export_main(argv[1:])
    if argv[:1] != ["import"]:
        print("usage: python -m ingestion import PATH... --user ID | python -m ingestion poll [--until-enriched] "
              "| python -m ingestion exclude add|remove|list ... | python -m ingestion delete-plays ... "
              "| python -m ingestion export --user ID --format csv|json|parquet "
              "| python -m ingestion playlists add|remove|list|refresh --user ID ... "
              "| python -m ingestion editions split|merge|remove|list --user ID ...",
              file=sys.stderr)
        return 2
    return import_main(argv[1:])


def import_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--user", required=True, help="Spotify user id the history belongs to")
    parser.add_argument("--create-user", action="store_true",
                        help="create the user in source when it does not exist yet")
    parser.add_argument("--timezone", help="IANA time zone of a user created with --create-user")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="skip (and count) records outside the source gate's bounds (played before 2006 "
                             "or in the future, ms_played over 12 h, NUL or invalid Unicode) instead of refusing")
    parser.add_argument("--no-resolve", action="store_true",
                        help="do not resolve name-only tracks through Spotify search afterwards")
    args = parser.parse_args(argv)
    if args.timezone and not args.create_user:
        parser.error("--timezone only applies with --create-user")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        report = import_export(args.paths, args.user, settings, create_user=args.create_user,
                               timezone=args.timezone, progress=not args.no_progress,
                               skip_invalid=args.skip_invalid)
    except (ExportError, ExportImportError) as exc:
        print(f"import refused, nothing loaded: {exc}", file=sys.stderr)
        return 1
    except (SettingsError, ValueError) as exc:  # a bad setting or --timezone
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    if not args.no_resolve:
        from ingestion.resolve_names import resolve_for_user

        print(resolve_for_user(args.user, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
