"""The recap e-mail, rendered with Jinja2 templates (recap/templates/) from a MonthRecap.

The written recap is generated from the numbers by `story.txt.j2`; the
plain-text part (`recap.txt.j2`) lists every number under plain labels, the
HTML part (`recap.html.j2`) shows the same. No external service is involved.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import quote, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from recap.data import MonthRecap
from warehouse.settings import Settings

_ENV = Environment(
    loader=PackageLoader("recap", "templates"),
    autoescape=select_autoescape(["html.j2"], default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def minutes(ms: float) -> int:
    """Whole minutes, rounded half up."""
    return int((ms + 30_000) // 60_000)


def minutes_text(total: int) -> str:
    """'41 h 07 min', or '52 min' under an hour."""
    return f"{total} min" if total < 60 else f"{total // 60} h {total % 60:02d} min"


def duration(ms: float) -> str:
    return minutes_text(minutes(ms))


def signed_minutes(total: int) -> str:
    """A difference of minutes: '+3 h 05 min', '-12 min', '+0 min'."""
    return ("-" if total < 0 else "+") + minutes_text(abs(total))


def number(value: int) -> str:
    return f"{value:,}"


def signed(value: int) -> str:
    return f"{value:+,}"


def percent(fraction: float) -> str:
    return f"{round(fraction * 100)}%"


def month_name(month: str) -> str:
    return f"{calendar.month_name[int(month[5:])]} {month[:4]}"


def day_name(day: date) -> str:
    return f"{calendar.day_name[day.weekday()]} {day.day} {calendar.month_name[day.month]} {day.year}"


def short_day(day: date) -> str:
    return f"{day.day} {calendar.month_name[day.month]}"


def hour_range(hour: int) -> str:
    return f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"


_ENV.filters.update(duration=duration, minutes_text=minutes_text, signed_minutes=signed_minutes, number=number,
                    signed=signed, percent=percent, month_name=month_name, day_name=day_name, short_day=short_day,
                    hour_range=hour_range, minutes=minutes)


@dataclass(frozen=True)
class RenderedRecap:
    subject: str
    text: str
    html: str


def dashboard_link(settings: Settings, user_id: str, month: str) -> str:
    """The dashboard's page of `user_id` for `month` (dashboard/app.py: /users/<id>?period=)."""
    return f"{settings.dashboard_link_url}/users/{quote(user_id, safe='')}?period={month}"


def account_link(settings: Settings) -> str:
    """The login service's account page, where e-mail and opt-out are set (next to its /callback)."""
    parts = urlsplit(settings.spotify_redirect_uri)
    return urlunsplit((parts.scheme, parts.netloc, "/account", "", ""))


def render_recap(recap: MonthRecap, settings: Settings) -> RenderedRecap:
    previous_minutes = minutes(recap.previous.listening_ms) if recap.previous else None
    context = {
        "r": recap,
        "name": recap.display_name or "there",
        "month": month_name(recap.month),
        "previous_month": month_name(recap.previous.month) if recap.previous else None,
        # Listening-time change in whole minutes of each month, so it equals the two shown times.
        "minutes_change": minutes(recap.listening_ms) - previous_minutes if recap.previous else None,
        "dashboard_url": dashboard_link(settings, recap.user_id, recap.month),
        "account_url": account_link(settings),
        "album_min_tracks": settings.album_min_tracks,
    }
    context["story"] = _ENV.get_template("story.txt.j2").render(context).strip()
    top_artist = recap.top_artists[0].name if recap.top_artists and recap.top_artists[0].name else None
    subject = f"Your {context['month']} in music: {duration(recap.listening_ms)}"
    if top_artist:
        subject += f", mostly {top_artist}"
    return RenderedRecap(subject, _ENV.get_template("recap.txt.j2").render(context),
                         _ENV.get_template("recap.html.j2").render(context))


def message_id(settings: Settings, user_id: str, month: str) -> str:
    """The same Message-ID for the same user and month: mail clients drop a duplicate."""
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    return f"<recap.{month}.{quote(user_id, safe='')}@{domain}>"


def build_message(rendered: RenderedRecap, settings: Settings, to: str, display_name: str | None,
                  msg_id: str) -> EmailMessage:
    """A multipart/alternative message: the text part first, then the HTML part."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = settings.smtp_from
    message["To"] = formataddr((display_name or "", to))
    message["Message-ID"] = msg_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
