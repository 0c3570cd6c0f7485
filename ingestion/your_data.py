"""`python -m ingestion exclude add|remove|list`, `python -m ingestion delete-plays`, `python -m ingestion export`,
`python -m ingestion playlists` and `python -m ingestion editions`: a user's exclusion rules
(`ingestion.exclusions`), deletions of plays (`ingestion.deletions`), takeout (`ingestion.takeout`), playlists
(`ingestion.playlists`) and recording rules (`ingestion.editions`) from the command line, as the account page
makes them. The next `make etl` applies rules and deletions.

  python -m ingestion exclude add --user ID --artist LINK|URI|ID   (or --album, --track, --context LINK|URI)
  python -m ingestion exclude add --user ID --from 2024-03-01 [--to 2024-03-02]   (local time; dates inclusive)
  python -m ingestion exclude remove --user ID RULE_ID
  python -m ingestion exclude list --user ID
  python -m ingestion delete-plays --user ID (--play PLAY_ID ... | --from WHEN --to WHEN) [--yes]
  python -m ingestion export --user ID --format csv|json|parquet [--out PATH]
  python -m ingestion playlists add --user ID LINK|URI|ID   (fetched by the user's next poll, or:)
  python -m ingestion playlists refresh --user ID | list --user ID | remove --user ID PLAYLIST_ID
  python -m ingestion editions split --user ID TRACK   (the track counts alone, whatever its ISRC)
  python -m ingestion editions merge --user ID TRACK INTO_TRACK   (counts as the same song as INTO_TRACK)
  python -m ingestion editions remove --user ID RULE_ID | list --user ID

Exit status: 0 done, 1 refused (the message names the value), 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from ingestion.deletions import delete_plays
from ingestion.editions import add_recording_rule, list_recording_rules, remove_recording_rule
from ingestion.exclusions import ID_KINDS, RuleError, add_rule, list_rules, remove_rule
from ingestion.playlists import PlaylistError, add_playlist, list_playlists, refresh_playlists, remove_playlist
from ingestion.spotify_client import SpotifyApi
from ingestion.takeout import FORMATS, TakeoutError, export_user
from ingestion.takeout import __doc__ as takeout_doc
from ingestion.tokens import valid_access_token
from warehouse.db import connect
from warehouse.settings import SettingsError, get_settings


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def _run(action: Callable[[], tuple[str, int]]) -> int:
    """Print what `action` says and return its status; 1 for a refused value, 2 for bad settings."""
    try:
        text, status = action()
    except (RuleError, TakeoutError, PlaylistError) as exc:
        print(f"refused, nothing changed: {exc}", file=sys.stderr)
        return 1
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text, file=sys.stdout if status == 0 else sys.stderr)
    return status


def exclude_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion exclude", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="add a rule")
    add.add_argument("--user", required=True)
    what = add.add_mutually_exclusive_group(required=True)
    for kind in (*ID_KINDS, "context"):
        what.add_argument(f"--{kind}", metavar="LINK|URI|ID")
    what.add_argument("--from", dest="local_from", metavar="WHEN", help="start, local time (with --to)")
    add.add_argument("--to", dest="local_to", metavar="WHEN", help="end, local time (a date: that whole day)")
    remove = verbs.add_parser("remove", help="remove a rule")
    remove.add_argument("--user", required=True)
    remove.add_argument("rule_id", type=int)
    listing = verbs.add_parser("list", help="the user's rules")
    listing.add_argument("--user", required=True)
    args = parser.parse_args(argv)

    def action() -> tuple[str, int]:
        with connect("source", get_settings()) as conn:
            if args.verb == "add":
                if args.local_from is not None:
                    rule_id = add_rule(conn, args.user, "time", _who(), local_from=args.local_from,
                                       local_to=args.local_to or args.local_from)
                else:
                    kind = next(k for k in (*ID_KINDS, "context") if getattr(args, k) is not None)
                    rule_id = add_rule(conn, args.user, kind, _who(), target=getattr(args, kind))
                return f"rule {rule_id} of {args.user}: applied by the next `make etl`", 0
            if args.verb == "remove":
                if not remove_rule(conn, args.user, args.rule_id):
                    return f"{args.user} has no rule {args.rule_id}", 1
                return f"rule {args.rule_id} of {args.user} removed: its plays count again after the next `make etl`", 0
            return _listed(list_rules(conn, args.user)), 0
    return _run(action)


def _listed(rules) -> str:
    """One line per rule: its id, what it does, who made it and when."""
    return "\n".join(f"{rule.rule_id:>6}  {rule.describe()}  (by {rule.created_by}, {rule.created_at:%Y-%m-%d %H:%M})"
                     for rule in rules)


def delete_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion delete-plays", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", required=True)
    parser.add_argument("--play", type=int, action="append", metavar="PLAY_ID", help="a play's id (repeatable)")
    parser.add_argument("--from", dest="local_from", metavar="WHEN", help="start, local time")
    parser.add_argument("--to", dest="local_to", metavar="WHEN", help="end, local time (a date: that whole day)")
    parser.add_argument("--yes", action="store_true", help="do not ask")
    args = parser.parse_args(argv)
    if bool(args.play) == bool(args.local_from or args.local_to):
        parser.error("give --play PLAY_ID..., or --from and --to")
    if not args.yes and input(f"delete these plays of {args.user} for good? [y/N] ").strip().lower() != "y":
        print("nothing deleted")
        return 1

    def action() -> tuple[str, int]:
        settings = get_settings()
        with connect("source", settings) as conn:
            deletion = delete_plays(conn, args.user, _who(), settings.default_timezone, play_ids=args.play,
                                    local_from=args.local_from, local_to=args.local_to)
        return (f"deletion {deletion.deletion_id}: {deletion.plays} plays deleted ({deletion.description}); "
                "gone from main and the statistics after the next `make etl`"), 0
    return _run(action)


def export_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion export", description=takeout_doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user", required=True)
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", type=Path, help="the zip to write (default wrapped-<user>-<format>.zip)")
    args = parser.parse_args(argv)
    return _run(lambda: (str(export_user(args.user, args.format, args.out)), 0))


def playlists_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion playlists", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    for verb, text in (("add", "follow a playlist"), ("remove", "stop following one"), ("list", "the user's"),
                       ("refresh", "fetch the user's due playlists now")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("--user", required=True)
        if verb in ("add", "remove"):
            sub.add_argument("playlist", metavar="LINK|URI|ID" if verb == "add" else "PLAYLIST_ID")
    args = parser.parse_args(argv)

    def action() -> tuple[str, int]:
        settings = get_settings()
        with connect("source", settings) as conn:
            if args.verb == "add":
                playlist_id = add_playlist(conn, args.user, args.playlist)
                return f"playlist {playlist_id} of {args.user}: fetched by the next poll (or `playlists refresh`)", 0
            if args.verb == "remove":
                if not remove_playlist(conn, args.user, args.playlist):
                    return f"{args.user} has no playlist {args.playlist}", 1
                return f"playlist {args.playlist} removed from {args.user}'s", 0
            if args.verb == "refresh":
                api = SpotifyApi(settings, lambda stale: valid_access_token(args.user, settings, stale=stale))
                report = refresh_playlists(conn, api, args.user)
                return "\n".join([str(report), *report.failed]), 0 if report.stopped is None else 1
            return "\n".join(f"{p['playlist_id']}  {p['status']:<9}  {p['tracks']:>5} tracks  "
                             f"{p['name'] or '(not fetched yet)'}" + (f"  ({p['detail']})" if p["detail"] else "")
                             for p in list_playlists(conn, args.user)), 0
    return _run(action)


def editions_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion editions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    for verb, text in (("split", "count a track alone"), ("merge", "count a track as the same song as another"),
                       ("remove", "remove a rule"), ("list", "the user's rules")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("--user", required=True)
        if verb in ("split", "merge"):
            sub.add_argument("track", metavar="LINK|URI|ID")
        if verb == "merge":
            sub.add_argument("into", metavar="INTO_LINK|URI|ID")
        if verb == "remove":
            sub.add_argument("rule_id", type=int)
    args = parser.parse_args(argv)

    def action() -> tuple[str, int]:
        with connect("source", get_settings()) as conn:
            if args.verb in ("split", "merge"):
                rule_id = add_recording_rule(conn, args.user, args.verb, args.track, _who(),
                                             getattr(args, "into", None))
                return f"recording rule {rule_id} of {args.user}: applied by the next `make etl`", 0
            if args.verb == "remove":
                if not remove_recording_rule(conn, args.user, args.rule_id):
                    return f"{args.user} has no recording rule {args.rule_id}", 1
                return f"recording rule {args.rule_id} of {args.user} removed (from the next `make etl` on)", 0
            return _listed(list_recording_rules(conn, args.user)), 0
    return _run(action)
