"""Formatting for the rendered report: escaped text, local times, durations.

Every value that reaches HTML goes through `esc`: notes, names and even ids are
typed or chosen by people, and the report is published.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from coordinator.domain.timefmt import parse_iso


def esc(value: Any) -> str:
    """Return `value` as text safe inside HTML elements and quoted attributes."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


# Codes whose plain spelling is not just the code with spaces.
_WORDS = {"deescalation": "de-escalation", "deescalation_team": "de-escalation team"}


def humanize(word: Any) -> str:
    """Turn a code such as `use_of_force` into `Use of force` for readers."""
    code = str(word or "")
    text = _WORDS.get(code, code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


class Clock:
    """Shows UTC instants in one zone, since readers think in the city's local time."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)

    def local(self, at: str | None) -> datetime | None:
        if not at:
            return None
        try:
            return parse_iso(at).astimezone(self.zone)
        except ValueError:
            return None

    def time(self, at: str | None) -> str:
        """HH:MM:SS, for tables of one day."""
        moment = self.local(at)
        return moment.strftime("%H:%M:%S") if moment else "—"

    def stamp(self, at: str | None) -> str:
        """Date, time and zone abbreviation, for headers and windows."""
        moment = self.local(at)
        return moment.strftime("%a %d %b %Y, %H:%M %Z") if moment else "—"

    def short(self, at: str | None) -> str:
        """Date and time without seconds, for time windows that may span days."""
        moment = self.local(at)
        return moment.strftime("%d %b %H:%M") if moment else "—"


def duration(seconds: float | None) -> str:
    """Return `4 min 05 s` style text; `—` when there is nothing to measure."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def between(start: str | None, end: str | None) -> float | None:
    """Seconds from `start` to `end`, or None when either is missing or unreadable."""
    if not start or not end:
        return None
    try:
        return (parse_iso(end) - parse_iso(start)).total_seconds()
    except ValueError:
        return None
