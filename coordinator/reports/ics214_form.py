"""ICS-214 Activity Log, one per unit, as a printable HTML form.

The boxes follow the FEMA ICS 214 layout (incident name, operational period,
name, ICS position, home agency, resources assigned, activity log, prepared
by), filled from the same report dict, so a unit's log agrees with the report.
"""

from __future__ import annotations

from typing import Any

from coordinator.reports.fmt import Clock, esc, humanize
from coordinator.reports.html import DEFAULT_TZ

_STEP_TEXT = {
    "dispatched": "Dispatched",
    "acknowledged": "Acknowledged",
    "en_route": "En route",
    "on_scene": "On scene",
    "completed": "Completed",
    "declined": "Declined",
    "cancelled": "Cancelled by dispatch",
}

_CSS = """
@page { size: letter; margin: 12mm 12mm 14mm; }
body { font: 10pt/1.35 Arial, "Liberation Sans", sans-serif; color: #111; margin: 0; }
h1 { font-size: 14pt; margin: 0 0 6px; display: flex; justify-content: space-between; }
table { width: 100%; border-collapse: collapse; }
td, th { border: 1px solid #111; padding: 4px 6px; vertical-align: top; text-align: left; }
.box-label { display: block; font-size: 7.5pt; font-weight: bold; text-transform: uppercase; }
th { background: #e8e8e8; font-size: 8pt; }
.log td:first-child { white-space: nowrap; width: 30mm; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
.section { margin-top: -1px; }
.form-id { font-size: 9pt; font-weight: normal; }
"""


def _entries(report: dict[str, Any], unit: dict[str, Any], clock: Clock) -> list[tuple[str, str]]:
    """(time, activity) rows for the unit: its assignment steps, its reports, its first and last fix."""
    rows: list[tuple[str, str]] = []
    incidents = {str(i.get("id")): i for i in report.get("incidents", [])}
    for a in report.get("assignments", []):
        if a.get("unit_id") != unit.get("id"):
            continue
        target = incidents.get(str(a.get("target_id")))
        what = humanize(target.get("kind")) if target else humanize(a.get("target_type"))
        for step, at in (a.get("times") or {}).items():
            if step not in _STEP_TEXT:
                continue
            text = f"{_STEP_TEXT[step]}: {humanize(a.get('kind')).lower()} — {what} ({a.get('id')})"
            if step == "dispatched" and a.get("reason"):
                text += f". Reason: {a['reason']}"
            if step in ("completed", "declined", "cancelled") and a.get("note"):
                text += f". Note: {a['note']}"
            rows.append((str(at), text))
    callsign = unit.get("callsign")
    for incident in report.get("incidents", []):
        if callsign and incident.get("reported_by") == callsign:
            note = f": {incident['note']}" if incident.get("note") else ""
            rows.append(
                (str(incident.get("reported_at")), f"Reported {humanize(incident.get('kind')).lower()}{note}")
            )
    track = report.get("tracks", {}).get(unit.get("id"), [])
    if track:
        rows.append((str(track[0][2]), "First position fix in this period"))
        rows.append((str(track[-1][2]), f"Last position fix ({len(track)} fixes in this period)"))
    rows.sort(key=lambda r: clock.local(r[0]) or clock.local("1970-01-01T00:00:00Z"))  # type: ignore[arg-type,return-value]
    return rows


def render_ics214(
    report: dict[str, Any],
    unit: dict[str, Any],
    *,
    home_agency: str,
    prepared_by: str,
    tz: str = DEFAULT_TZ,
) -> str:
    """Return the ICS 214 form for one unit as a complete HTML page."""
    clock = Clock(tz)
    window = report.get("window") or {}
    callsign = unit.get("callsign") or unit.get("id")
    position = humanize(unit.get("kind"))
    skills = ", ".join(str(s) for s in unit.get("skills") or []) or "—"
    log = (
        "".join(
            f"<tr><td>{esc(clock.short(at))}</td><td>{esc(text)}</td></tr>"
            for at, text in _entries(report, unit, clock)
        )
        or "<tr><td></td><td>No recorded activity in this period.</td></tr>"
    )

    def box(number: int, label: str, value: str, colspan: int = 1) -> str:
        return f'<td colspan="{colspan}"><span class="box-label">{number}. {esc(label)}</span>{value}</td>'

    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>ICS 214 {esc(callsign)}</title><style>{_CSS}</style></head><body>"
        '<h1>ACTIVITY LOG (ICS 214)<span class="form-id">ICS 214</span></h1>'
        "<table><tr>"
        + box(1, "Incident name", esc(report.get("title")))
        + box(
            2,
            "Operational period",
            f"From {esc(clock.stamp(window.get('start')))}<br>To {esc(clock.stamp(window.get('end')))}",
        )
        + "</tr><tr>"
        + box(3, "Name", esc(callsign))
        + box(4, "ICS position", esc(position))
        + "</tr><tr>"
        + box(5, "Home agency (and unit)", f"{esc(home_agency)} — {esc(callsign)}", colspan=2)
        + "</tr></table>"
        '<table class="section"><thead><tr><th colspan="3">6. Resources assigned</th></tr>'
        "<tr><th>Name</th><th>ICS position</th><th>Home agency (and unit)</th></tr></thead><tbody>"
        f"<tr><td>{esc(callsign)} <small>({esc(skills)})</small></td><td>{esc(position)}</td>"
        f"<td>{esc(home_agency)}</td></tr></tbody></table>"
        '<table class="section log"><thead><tr><th colspan="2">7. Activity log</th></tr>'
        "<tr><th>Date/Time</th><th>Notable activities</th></tr></thead>"
        f"<tbody>{log}</tbody></table>"
        '<table class="section"><tr>'
        + box(8, "Prepared by", f"Name: {esc(prepared_by)}<br>Position/Title: Report generator<br>Signature:")
        + box(8, "Date/Time", esc(clock.stamp(report.get("generated_at"))))
        + "</tr></table></body></html>"
    )
