"""Spotting personal details in free text, so they can be flagged where they are typed.

The product tracks responders, not protesters: a note that carries a phone
number or an email address is most likely about a person it must not record.
Such notes are kept (the report matters) but flagged for the author and reviewers.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Seven or more digits, allowing the separators people type: +1 (617) 555-0100, 617.555.0100.
PHONE = re.compile(r"(?<!\w)\+?(?:\d[\s().-]{0,2}){7,15}(?!\w)")


def personal_data_flags(text: str) -> list[str]:
    """Return which kinds of personal detail the text seems to contain: `email`, `phone`."""
    flags = []
    if EMAIL.search(text):
        flags.append("email")
    if PHONE.search(EMAIL.sub(" ", text)):
        flags.append("phone")
    return flags
