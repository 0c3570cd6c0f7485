"""`python -m fake_spotify [serve] --port N`: the fake Spotify on 127.0.0.1.

serve     in the foreground (the default; in the background: `python -m operations start fake-spotify`)
generate  deterministic listening into source and/or as Spotify export files (`generate --help`)
login     log the fake's users in through the login service, as a browser would (`login --help`)

The client id, secret and redirect URI default to the SPOTIFY_* settings, so
the login service and ingestion pointed at this server work without more setup.
"""

from __future__ import annotations

import argparse
import sys

from fake_spotify import Client, FakeSpotify, create_app
from warehouse.serving import serve
from warehouse.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("generate", "login"):
        from fake_spotify import generate, login

        return {"generate": generate.main, "login": login.main}[argv[0]](argv[1:])
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m fake_spotify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=["serve"], default="serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--client-id", default=settings.spotify_client_id or "wrapped-local")
    parser.add_argument("--client-secret", default=settings.spotify_client_secret or "wrapped-local-secret")
    parser.add_argument("--redirect-uri", action="append",
                        help=f"registered redirect URI (repeatable; default {settings.spotify_redirect_uri})")
    parser.add_argument("--development-mode", action="store_true", help="batch endpoints answer 403")
    args = parser.parse_args(argv)
    url = f"http://{args.host}:{args.port}"
    fake = FakeSpotify.generated(
        args.seed, args.users, args.days,
        clients=[Client(args.client_id, args.client_secret, args.redirect_uri or [settings.spotify_redirect_uri])],
        development_mode=args.development_mode,
    )
    print(f"fake Spotify on {url}: users {', '.join(fake.users)}", flush=True)
    # gunicorn (warehouse/serving.py), one worker: the fake's state lives in its memory (forked from here).
    serve(lambda: create_app(fake), name="python -m fake_spotify serve", host=args.host, port=args.port,
          workers=1, threads=8, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
