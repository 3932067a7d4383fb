"""Notes that look like they carry a phone number or an email address are flagged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.domain import validation as v
from coordinator.domain.events import StoredEvent
from coordinator.domain.privacy import personal_data_flags
from coordinator.domain.projection import State, apply
from coordinator.domain.rules import decide


@pytest.mark.parametrize(
    ("note", "flags"),
    [
        ("Call her brother at 617-555-0100", ["phone"]),
        ("reach +1 (617) 555 0100", ["phone"]),
        ("617.555.0100", ["phone"]),
        ("write to jane.doe@example.org", ["email"]),
        ("jane@example.org or 6175550100", ["email", "phone"]),
        ("Fall near the bandstand; leg injury, conscious", []),
        ("Crowd of 2500 near gate 4 at 14:30", []),
        ("Unit DE-3 on scene, severity 4", []),
    ],
)
def test_notes_are_flagged_for_phone_numbers_and_emails(note: str, flags: list[str]) -> None:
    assert personal_data_flags(note) == flags


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=200))
def test_text_without_digits_or_at_signs_is_never_flagged_as_phone(text: str) -> None:
    assert "phone" not in personal_data_flags(text)


def test_an_incident_keeps_its_note_and_carries_the_flag() -> None:
    state = State()
    decision = decide(
        state,
        v.report_incident(
            {"kind": "injury", "triage": "minor", "lat": 42.36, "lon": -71.06, "note": "ph 617 555 0100"}
        ),
        lambda prefix: f"{prefix}-000001",
    )
    for seq, event in enumerate(decision.events, start=1):
        apply(state, StoredEvent(seq, "2026-05-01T12:00:00.000Z", "user:ops", event.type, event.payload))
    incident = state.incidents["inc-000001"]
    assert incident.note == "ph 617 555 0100" and incident.note_flags == ["phone"]
