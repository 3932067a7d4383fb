"""ISO 8601 times: the hand-written format and the fast parse agree with the standard library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.domain.timefmt import iso, parse_iso
from coordinator.store.protocols import Fix

OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
MOMENTS = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30), timezones=OFFSETS)


def _stdlib_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(MOMENTS)
def test_iso_writes_what_isoformat_writes(moment: datetime) -> None:
    assert iso(moment) == _stdlib_iso(moment)


@given(MOMENTS)
def test_parse_iso_reads_back_what_iso_writes_as_utc_to_the_millisecond(moment: datetime) -> None:
    parsed = parse_iso(iso(moment))
    assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T10:00:00.123+01:00", datetime(2026, 12, 1, 9, 0, 0, 123000, tzinfo=UTC)),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T10:00:00.123z", datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-12-01T10:00:00.123456Z", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_other_forms_with_an_offset_are_read_and_moved_to_utc(text: str, expected: datetime) -> None:
    assert parse_iso(text) == expected
    assert parse_iso(text).tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["2026-12-01T10:00:00.123", "2026-13-01T10:00:00.123Z", "2026-12-01T10:00:00.12xZ"]
)
def test_a_time_without_an_offset_or_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)


def test_a_fix_keeps_a_device_time_to_the_millisecond_whatever_its_offset() -> None:
    east = datetime(2026, 12, 1, 15, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))
    fix = Fix.taken_at("u", 42.0, -71.0, None, at=east, received_at="r")
    assert fix.at == "2026-12-01T10:00:00.123Z"
    assert fix.taken == datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)
