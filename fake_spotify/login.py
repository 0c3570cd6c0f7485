"""Log fake Spotify users in through the login service, as a browser would.

    python -m fake_spotify.login [USER_ID ...] [--login-url URL] [--fake-url URL] [--tz ZONE] [--allow-comparison]

/login -> the fake's /authorize (which auto-approves the chosen user) ->
/callback: the login service stores the user and the tokens. With no user
given, every user of the fake logs in. `--allow-comparison` then ticks the
account page's "Allow comparison" and saves its settings, as the user would.
Used by the tests and the demo.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from urllib.parse import urlsplit

import requests

from warehouse.settings import get_settings


class LoginFailed(RuntimeError):
    pass


def log_in(login_url: str, fake_url: str, user_id: str, tz: str | None = None) -> requests.Session:
    """The whole browser flow for `user_id`; returns the browser session (its cookie is the login)."""
    requests.post(f"{fake_url}/_admin/mode", json={"login_user": user_id}, timeout=10).raise_for_status()
    browser = requests.Session()
    step = browser.get(f"{login_url}/login", params={"tz": tz} if tz else None, allow_redirects=False, timeout=10)
    for expected in ("/authorize", "/callback", "/account"):
        if step.status_code != 302 or urlsplit(step.headers["Location"]).path != expected:
            raise LoginFailed(f"login of {user_id}: expected a redirect to {expected}, got "
                              f"{step.status_code} {step.headers.get('Location') or step.text[:300]}")
        if expected != "/account":
            step = browser.get(step.headers["Location"], allow_redirects=False, timeout=10)
    return browser


def allow_comparison(login_url: str, browser: requests.Session) -> None:
    """Save the logged-in user's account settings as they are, with "Allow comparison" ticked."""
    page = browser.get(f"{login_url}/account", timeout=10)
    page.raise_for_status()

    def field(pattern: str) -> str:
        found = re.search(pattern, page.text)
        if found is None:
            raise LoginFailed(f"the account page has no {pattern!r}")
        return html.unescape(found.group(1))

    form = {"csrf_token": field(r'name="csrf_token" value="([^"]*)"'),
            "timezone": field(r'id="timezone" name="timezone" value="([^"]*)"'),
            "email": field(r'id="email" name="email" type="email" value="([^"]*)"'), "compare": "1"}
    if re.search(r'id="recap" [^>]*checked', page.text):
        form["recap"] = "1"
    saved = browser.post(f"{login_url}/account/settings", data=form, headers={"Origin": login_url},
                         allow_redirects=False, timeout=10)
    if saved.status_code != 302:
        raise LoginFailed(f"saving the account settings: {saved.status_code} {saved.text[:300]}")


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m fake_spotify.login", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("users", nargs="*")
    parser.add_argument("--login-url", default=f"http://127.0.0.1:{settings.flask_port}")
    parser.add_argument("--fake-url", default=settings.spotify_accounts_url)
    parser.add_argument("--tz", help="time zone the browser reports (default: none, the account page asks)")
    parser.add_argument("--allow-comparison", action="store_true", help="then allow comparison on the account page")
    args = parser.parse_args(argv)
    users = args.users or requests.get(f"{args.fake_url}/_admin/stats", timeout=10).json()["users"]
    try:
        for user_id in users:
            browser = log_in(args.login_url, args.fake_url, user_id, args.tz)
            if args.allow_comparison:
                allow_comparison(args.login_url, browser)
            print(f"{user_id} logged in" + (", allows comparison" if args.allow_comparison else ""))
    except (LoginFailed, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
