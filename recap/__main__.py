"""`python -m recap render --user ID --month YYYY-MM [--out DIR]`: write one recap without sending.
`python -m recap send-due`: send every due recap now (what the monthly_recap DAG does)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recap.data import RecapError, load_recap
from recap.render import render_recap
from recap.send import send_due
from warehouse.settings import Settings, SettingsError, get_settings


def write_recap(settings: Settings, user_id: str, month: str, out: Path | None = None) -> tuple[Path, Path]:
    """Render the recap into `out` (default <runtime_dir>/recaps) as <user>-<month>.html and .txt."""
    rendered = render_recap(load_recap(settings, user_id, month), settings)
    out = out or settings.runtime_dir / "recaps"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{user_id}-{month}".replace("/", "_")
    html, text = out / f"{stem}.html", out / f"{stem}.txt"
    html.write_text(rendered.html, encoding="utf-8")
    text.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
    return html, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recap", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="write one recap (HTML and text) to files, without sending")
    render.add_argument("--user", required=True)
    render.add_argument("--month", required=True, help="local month YYYY-MM")
    render.add_argument("--out", type=Path, help="folder (default <RUNTIME_DIR>/recaps)")
    commands.add_parser("send-due", help="send every due recap now")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        if args.command == "render":
            for path in write_recap(settings, args.user, args.month, args.out):
                print(path)
        else:
            results = send_due(settings)
            for result in results:
                print(f"{result.user_id} {result.month}: {result.status}")
            print(f"{sum(r.status == 'sent' for r in results)} recap(s) sent")
    except (RecapError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
