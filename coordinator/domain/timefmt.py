"""UTC timestamps as ISO 8601 strings, the only time format on the wire and on disk."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with milliseconds and a Z."""
    # By hand: each position fix is formatted twice, and `isoformat` with the conversion and
    # the replace took 1.8 us against 1.0 (an f-string with format specs takes 2.2).
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601 with an explicit offset; naive times are refused as ambiguous."""
    if len(text) == 24 and text[23] == "Z" and text[19] == "." and text[10] == "T":
        # The form `iso` writes and every tablet sends: already UTC, nothing to convert.
        return datetime.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time has no UTC offset")
    return moment.astimezone(UTC)
