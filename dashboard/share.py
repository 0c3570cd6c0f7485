"""`python -m dashboard share create [--expires-days N] USER_ID`, `list USER_ID` and `revoke TOKEN_OR_ID`:
the dashboard's share links.

A share link opens one user's dashboard pages and API answers, until revoked or,
with `--expires-days N`, for N days. Its token is printed once, at creation;
only its sha256 hash is stored (in main, replicated to the replica). `list`
shows each link's id (the first characters of the hash), which `revoke`
accepts as well as the token itself.
"""

from __future__ import annotations

import argparse
import sys

from warehouse.settings import SettingsError, get_settings
from warehouse.share_links import ShareLinkError, create_share_link, list_share_links, revoke_share_link


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard share", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="a new share link for a user")
    create.add_argument("user_id")
    create.add_argument("--expires-days", type=int, metavar="N", help="the link opens nothing after N days")
    sub.add_parser("list", help="a user's share links").add_argument("user_id")
    sub.add_parser("revoke", help="revoke a link by its token or id").add_argument("token_or_id")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        if args.command == "create":
            token = create_share_link(settings, args.user_id, args.expires_days)
            until = f"; it expires in {args.expires_days} days" if args.expires_days else ""
            print(f"share link for {args.user_id} (shown once; keep it secret, revoke it when done{until}):")
            print(f"{settings.dashboard_link_url}/s/{token}")
        elif args.command == "list":
            links = list_share_links(settings, args.user_id)
            if not links:
                print(f"no share links for {args.user_id}")
            for link in links:
                print(f"{link.id}  created {link.created_at:%Y-%m-%d %H:%M:%S %Z}  {link.state}")
        else:
            link = revoke_share_link(settings, args.token_or_id)
            print(f"revoked share link {link.id} of {link.user_id} at {link.revoked_at:%Y-%m-%d %H:%M:%S %Z}")
    except (SettingsError, ShareLinkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
