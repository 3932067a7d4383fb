"""The report's sections as HTML fragments, one function per section.

Each function takes the report dict and returns markup with every value
escaped; html.py only arranges them on the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from coordinator.domain.model import ASSIGNMENT_STATUSES
from coordinator.reports.charts import tension_chart, tension_colour
from coordinator.reports.fmt import Clock, between, duration, esc, humanize
from coordinator.reports.reportmap import ASSIGNMENT_ACTIVE, ASSIGNMENT_COLOURS, incident_colour, unit_colours

# Credential bookkeeping is in the log but says nothing about the day's events.
_ROUTINE_EVENTS = frozenset(
    {"UserCreated", "ApiTokenCreated", "ApiTokenRevoked", "UnitTokenIssued", "UnitTokenRevoked"}
)
MEASURES = {
    "incident_to_dispatch": "Incident reported → unit dispatched",
    "dispatch_to_ack": "Dispatched → acknowledged",
    "dispatch_to_on_scene": "Dispatched → on scene",
}
GROUPS = {"assignment_kind": "Assignment", "incident_kind": "Incident"}


def table(headers: Iterable[str], rows: Iterable[str], css: str = "", *, grouped: bool = False) -> str:
    """Wrap pre-rendered rows; headers are escaped here.

    `grouped` rows are already <tbody> groups, each kept on one printed page.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(rows) if grouped else f"<tbody>{''.join(rows)}</tbody>"
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead>{body}</table>'


def _incidents_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(i.get("id")): i for i in report.get("incidents", [])}


def _incident_label(incident: dict[str, Any] | None, incident_id: Any, clock: Clock) -> str:
    if incident is None:
        return f"Incident {esc(incident_id)}"
    where = f", {esc(incident.get('neighborhood'))}" if incident.get("neighborhood") else ""
    return (
        f"{esc(humanize(incident.get('kind')))} at {esc(clock.time(incident.get('reported_at')))}"
        f'{where} <span class="id">{esc(incident_id)}</span>'
    )


def header(report: dict[str, Any], clock: Clock) -> str:
    window = report.get("window") or {}
    scope = ""
    if report.get("demonstration_id"):
        names = {d.get("id"): d.get("name") for d in report.get("demonstrations", [])}
        scope_id = report["demonstration_id"]
        scope = (
            f"<p class='scope'>Limited to the demonstration <b>{esc(names.get(scope_id, scope_id))}</b>.</p>"
        )
    notice = ""
    if report.get("redacted"):
        notice = (
            '<p class="redaction" role="note"><b>Redacted edition.</b> Details that could identify '
            "people (names, free-text notes, precise positions) have been removed or generalised "
            "before publication. Counts and times are complete.</p>"
        )
    return (
        '<header class="report-header">'
        '<p class="kicker">Emergency Operations Center · After-action report</p>'
        f"<h1>{esc(report.get('title'))}</h1>"
        f'<p class="window">From <time>{esc(clock.stamp(window.get("start")))}</time> to '
        f"<time>{esc(clock.stamp(window.get('end')))}</time></p>{scope}"
        f'<p class="generated">Generated {esc(clock.stamp(report.get("generated_at")))}</p>{notice}</header>'
    )


def totals(report: dict[str, Any]) -> str:
    t = report.get("totals") or {}
    injuries = t.get("injuries") or {}
    by_status = t.get("by_status") or {}
    status_text = ", ".join(f"{esc(n)} {esc(humanize(s).lower())}" for s, n in sorted(by_status.items()))

    def card(value: Any, label: str, detail: str = "") -> str:
        sub = f"<span class='detail'>{detail}</span>" if detail else ""
        return (
            f"<div class='card'><span class='value'>{esc(value)}</span>"
            f"<span class='label'>{esc(label)}</span>{sub}</div>"
        )

    injury_total = sum(int(injuries.get(k) or 0) for k in ("immediate", "delayed", "minor"))
    injury_detail = (
        f"{esc(injuries.get('immediate', 0))} immediate · {esc(injuries.get('delayed', 0))} delayed · "
        f"{esc(injuries.get('minor', 0))} minor"
    )
    cards = [
        card(t.get("incidents", 0), "incidents"),
        card(injury_total, "injuries", injury_detail),
        card(t.get("assignments", 0), "assignments", status_text),
        card(t.get("units", 0), "units"),
        card(f"{int(t.get('fixes') or 0):,}", "position fixes"),
        card(len(report.get("compliance_alerts", [])), "compliance alerts"),
        card(len(report.get("footage_requests", [])), "footage requests"),
    ]
    return f'<section class="totals" aria-label="Totals"><div class="cards">{"".join(cards)}</div></section>'


def legend(report: dict[str, Any]) -> str:
    def swatch(colour: str, label: str, shape: str = "dot") -> str:
        style = f"color:{esc(colour)}" if shape.endswith("dash") else f"background:{esc(colour)}"
        return f'<li><span class="swatch {shape}" style="{style}"></span>{esc(label)}</li>'

    incidents = [
        swatch(incident_colour({"kind": "injury", "triage": t}), f"Injury, {t}")
        for t in ("immediate", "delayed", "minor")
    ]
    for kind in (
        "federal_activity",
        "use_of_force",
        "warrantless_entry",
        "property_damage",
        "escalation",
        "other",
    ):
        incidents.append(swatch(incident_colour({"kind": kind}), humanize(kind)))
    tension = [swatch(tension_colour(level), f"Tension {level}", "ring") for level in range(1, 6)]
    callsigns = {u["id"]: u.get("callsign") or u["id"] for u in report.get("units", [])}
    units = [swatch(c, f"{callsigns.get(uid, uid)} track", "line") for uid, c in unit_colours(report).items()]
    lines = [
        swatch(ASSIGNMENT_ACTIVE, "Assignment open (unit at dispatch → target)", "dash"),
        swatch(ASSIGNMENT_COLOURS["completed"], "Assignment completed", "dot-dash"),
        swatch(ASSIGNMENT_COLOURS["declined"], "Declined or cancelled", "dash"),
    ]
    return (
        '<div class="legend"><div><h4>Incidents</h4><ul>' + "".join(incidents) + "</ul></div>"
        "<div><h4>Demonstrations</h4><ul>" + "".join(tension) + "</ul></div>"
        "<div><h4>Units</h4><ul>" + "".join(units + lines) + "</ul></div>"
        "<div><h4>Density</h4><p>Shaded from blue (one incident) to red (several, or severe) "
        "where incidents cluster.</p></div></div>"
    )


def demonstrations(report: dict[str, Any], clock: Clock) -> str:
    parts = []
    for demo in report.get("demonstrations", []):
        crowds = [s.get("crowd_estimate") for s in demo.get("series") or [] if s.get("crowd_estimate")]
        peak = max(crowds, default=demo.get("crowd_estimate") or 0)
        facts = [
            f"Status: <b>{esc(humanize(demo.get('status')))}</b>",
            f"Tension at end: <b>{esc(demo.get('tension'))}</b> of 5",
            f"Crowd estimate: <b>{int(demo.get('crowd_estimate') or 0):,}</b> (peak {int(peak):,})",
            "Languages: " + esc(", ".join(demo.get("languages") or []) or "—"),
            "<b class='flag'>Federal presence reported</b>"
            if demo.get("federal_presence")
            else "No federal presence reported",
        ]
        parts.append(
            f'<article class="demo"><h3><span class="swatch ring" style="background:'
            f'{tension_colour(demo.get("tension"))}"></span>{esc(demo.get("name"))}</h3>'
            f'<ul class="facts">{"".join(f"<li>{f}</li>" for f in facts)}</ul>'
            f"<figure>{tension_chart(demo, report.get('window') or {}, clock)}"
            "<figcaption>Tension (line, left axis, 1&ndash;5) and crowd estimate (shaded, right axis), "
            "held at each reading until the next.</figcaption></figure></article>"
        )
    if not parts:
        return "<p class='muted'>No demonstrations in this window.</p>"
    return "".join(parts)


def timeline(report: dict[str, Any], clock: Clock) -> str:
    rows = [
        f"<tr><td class='num'>{esc(clock.time(e.get('at')))}</td>"
        f"<td>{esc(humanize_event(e.get('type')))}</td>"
        f"<td>{esc(e.get('summary'))}</td><td>{esc(e.get('actor'))}</td></tr>"
        for e in report.get("timeline", [])
        if e.get("type") not in _ROUTINE_EVENTS
    ]
    if not rows:
        return "<p class='muted'>No events in this window.</p>"
    return table(["Time", "Event", "What happened", "By"], rows, "timeline")


def humanize_event(event_type: Any) -> str:
    """`AssignmentOnScene` → `Assignment on scene`."""
    text = str(event_type or "")
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in text).strip()
    return words[:1].upper() + words[1:]


def _verdict(met: Any) -> str:
    # Symbol and word as well as colour, so the verdict survives greyscale printing.
    if met is True:
        return "<td class='verdict met'>✔ Met</td>"
    if met is False:
        return "<td class='verdict missed'>✘ Not met</td>"
    return "<td class='verdict none'>No target</td>"


def response_times(report: dict[str, Any]) -> str:
    rows = []
    for r in report.get("response_times", []):
        target = r.get("target_s")
        rows.append(
            f"<tr><td>{esc(GROUPS.get(r.get('group'), humanize(r.get('group'))))}: "
            f"<b>{esc(humanize(r.get('key')))}</b></td>"
            f"<td>{esc(MEASURES.get(r.get('measure'), humanize(r.get('measure'))))}</td>"
            f"<td class='num'>{esc(r.get('count'))}</td>"
            f"<td class='num'>{esc(duration(r.get('median_s')))}</td>"
            f"<td class='num'>{esc(duration(r.get('p90_s')))}</td>"
            f"<td class='num'>{esc(duration(target) if target is not None else '—')}</td>"
            f"{_verdict(r.get('met'))}</tr>"
        )
    if not rows:
        return "<p class='muted'>No measured responses in this window.</p>"
    return (
        table(["For", "Measure", "Count", "Median", "90th percentile", "Target", "Result"], rows, "response")
        + "<p class='note'>Count is the number of measured responses; the result compares them with "
        "the executive order's target.</p>"
    )


def incidents(report: dict[str, Any], clock: Clock) -> str:
    rows = []
    for i in sorted(report.get("incidents", []), key=lambda i: str(i.get("reported_at") or "")):
        kind = esc(humanize(i.get("kind")))
        if i.get("triage"):
            kind += f" <span class='triage'>({esc(i['triage'])})</span>"
        places = ", ".join(str(p) for p in (i.get("city_property") or []) + (i.get("sensitive_sites") or []))
        rows.append(
            f"<tr><td class='num'>{esc(clock.time(i.get('reported_at')))}</td>"
            f"<td><span class='swatch dot' style='background:{incident_colour(i)}'></span>{kind}"
            f"{' <b class=flag>federal</b>' if i.get('federal_involved') else ''}</td>"
            f"<td class='num'>{esc(i.get('severity'))}</td><td>{esc(i.get('neighborhood'))}"
            f"{'<br><small>' + esc(places) + '</small>' if places else ''}</td>"
            f"<td>{esc(humanize(i.get('status')))}</td><td class='note-cell'>{esc(i.get('note'))}"
            f"<br><small>Reported by {esc(i.get('reported_by'))} · <span class='id'>{esc(i.get('id'))}</span>"
            "</small></td></tr>"
        )
    if not rows:
        return "<p class='muted'>No incidents in this window.</p>"
    return table(["Time", "Kind", "Severity", "Where", "Status", "Note"], rows, "incidents")


def alerts(report: dict[str, Any], clock: Clock) -> str:
    by_id = _incidents_by_id(report)
    parts = []
    for alert in report.get("compliance_alerts", []):
        rows = [
            f"<tr><td><b>{esc(p.get('name'))}</b><br><small>{esc(humanize(p.get('layer')))}"
            f"{' · ' + esc(humanize(p.get('category'))) if p.get('category') else ''}</small></td>"
            f"<td>{esc(p.get('rule'))}</td><td class='num'>{esc(_metres(p.get('distance_m')))}</td></tr>"
            for p in alert.get("places", [])
        ]
        incident = by_id.get(str(alert.get("incident_id")))
        parts.append(
            f'<article class="alert" id="alert-{esc(alert.get("id"))}">'
            f"<h3>{esc(humanize(alert.get('kind')))}</h3>"
            f"<p>Raised {esc(clock.time(alert.get('raised_at')))} for "
            f"{_incident_label(incident, alert.get('incident_id'), clock)} "
            f'<span class="id">{esc(alert.get("id"))}</span></p>'
            + table(["Place", "Rule", "Distance"], rows, "places")
            + "</article>"
        )
    if not parts:
        return "<p class='muted'>No compliance alerts were raised in this window.</p>"
    return "".join(parts)


def _metres(value: Any) -> str:
    if value is None:
        return "—"
    try:
        return "inside" if float(value) <= 0 else f"{float(value):,.0f} m"
    except (TypeError, ValueError):
        return str(value)


def footage(report: dict[str, Any], clock: Clock) -> str:
    by_id = _incidents_by_id(report)
    parts = []
    for request in report.get("footage_requests", []):
        cameras = "".join(
            f"<li><b>{esc(c.get('name'))}</b> — {esc(_metres(c.get('distance_m')))} away"
            f"{', covers ' + esc(_metres(c.get('range_m'))) if c.get('range_m') is not None else ''}</li>"
            for c in request.get("cameras", [])
        )
        incident = by_id.get(str(request.get("incident_id")))
        parts.append(
            f'<article class="footage" id="footage-{esc(request.get("id"))}">'
            f"<p><b>Preserve {esc(clock.short(request.get('window_start')))} &ndash; "
            f"{esc(clock.short(request.get('window_end')))}</b> for "
            f"{_incident_label(incident, request.get('incident_id'), clock)}. "
            f"Requested {esc(clock.time(request.get('requested_at')))} "
            f'<span class="id">{esc(request.get("id"))}</span></p>'
            f"<ul class='cameras'>{cameras or '<li>No camera in range.</li>'}</ul></article>"
        )
    if not parts:
        return "<p class='muted'>No footage preservation requests in this window.</p>"
    return "".join(parts)


def _outcome_time(times: dict[str, Any]) -> str | None:
    for step in ("completed", "declined", "cancelled"):
        if times.get(step):
            return str(times[step])
    return None


def assignments(report: dict[str, Any], clock: Clock) -> str:
    by_id = _incidents_by_id(report)
    demo_names = {str(d.get("id")): d.get("name") for d in report.get("demonstrations", [])}
    rows = []
    ordered = sorted(
        report.get("assignments", []), key=lambda a: str((a.get("times") or {}).get("dispatched", ""))
    )
    for a in ordered:
        times = a.get("times") or {}
        if a.get("target_type") == "incident":
            target = _incident_label(by_id.get(str(a.get("target_id"))), a.get("target_id"), clock)
        elif a.get("target_type") == "demonstration":
            target = f"{esc(demo_names.get(str(a.get('target_id')), a.get('target_id')))} (demonstration)"
        else:
            target = (
                f"{esc(humanize(a.get('target_type')))} <span class='id'>{esc(a.get('target_id'))}</span>"
            )
        dispatched = times.get("dispatched")
        ended = _outcome_time(times)
        ack = between(dispatched, times.get("acknowledged"))
        scene = between(dispatched, times.get("on_scene"))
        status = str(a.get("status") or "")
        steps = " · ".join(
            f"{esc(humanize(s))} {esc(clock.time(times[s]))}" for s in ASSIGNMENT_STATUSES if times.get(s)
        )
        rows.append(
            f"<tbody class='keep'><tr class='assignment' id='assignment-{esc(a.get('id'))}'>"
            f"<td class='num'>{esc(clock.time(dispatched))}</td>"
            f"<td><b>{esc(a.get('callsign'))}</b><br><small>{esc(humanize(a.get('kind')))} · "
            f"priority {esc(a.get('priority'))}</small></td><td>{target}</td>"
            f"<td class='num'>{esc(duration(ack))}</td><td class='num'>{esc(duration(scene))}</td>"
            f"<td><span class='status status-{esc(status)}'>{esc(humanize(status))}</span>"
            f"{'<br><small>' + esc(clock.time(ended)) + '</small>' if ended else ''}"
            f"</td></tr>"
            f"<tr class='assignment-detail'><td></td><td colspan='5'>"
            f"<span class='why'>Why: {esc(a.get('reason') or '—')}</span>"
            f"{'<br>Outcome note: ' + esc(a.get('note')) if a.get('note') else ''}"
            f"<br><small>{steps} · dispatched by {esc(a.get('dispatched_by'))} · "
            f"<span class='id'>{esc(a.get('id'))}</span></small></td></tr></tbody>"
        )
    if not rows:
        return "<p class='muted'>No assignments in this window.</p>"
    headers = ["Sent", "Unit", "To", "To acknowledge", "To arrive", "Outcome"]
    return table(headers, rows, "assignments", grouped=True)
