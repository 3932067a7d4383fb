"""ICS-214 Activity Logs, one per unit, as CSV laid out in the form's numbered blocks.

Blocks (FEMA ICS 214): 1 Incident Name, 2 Operational Period, 3 Name, 4 ICS Position,
5 Home Agency (and Unit), 6 Resources Assigned, 7 Activity Log, 8 Prepared by. One row
per block line, so the file opens in a spreadsheet looking like the paper form. (The
printable form belongs to the HTML/PDF rendering.)
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from ..domain.model import ASSIGNMENT_STATUSES

STEP_WORDS = {
    "dispatched": "Dispatched",
    "delivered": "Assignment received on tablet",
    "acknowledged": "Acknowledged",
    "en_route": "En route",
    "on_scene": "On scene",
    "completed": "Completed",
    "declined": "Declined",
    "cancelled": "Cancelled by EOC",
}


def _file_name(callsign: str, unit_id: str, taken: set[str]) -> str:
    # Callsigns may hold spaces or slashes; a file name must not.
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", callsign).strip("._") or unit_id
    name = f"ics214-{stem}.csv"
    if name in taken:  # two units with one callsign: keep both forms apart
        name = f"ics214-{stem}-{unit_id}.csv"
    taken.add(name)
    return name


def _targets(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Each target in words, from the report's own incidents and demonstrations."""
    words: dict[tuple[str, str], str] = {}
    for i in report["incidents"]:
        detail = i["kind"] if not i["triage"] else f"{i['kind']}, {i['triage']}"
        place = f" in {i['neighborhood']}" if i["neighborhood"] else ""
        words[("incident", i["id"])] = f"incident {i['id']} ({detail}){place}"
    for d in report["demonstrations"]:
        words[("demonstration", d["id"])] = f"demonstration '{d['name']}'"
    return words


def activities(report: dict[str, Any], unit_id: str) -> list[tuple[str, str]]:
    """(time, notable activity) for every lifecycle step of the unit's assignments, in time order."""
    words = _targets(report)
    rows: list[tuple[str, str]] = []
    for a in report["assignments"]:
        if a["unit_id"] != unit_id:
            continue
        target = words.get(
            (a["target_type"], a["target_id"]),
            f"{a['target_type']} {a['target_id']} ({a['target_lat']:.5f}, {a['target_lon']:.5f})",
        )
        for step in ASSIGNMENT_STATUSES:
            if step not in a["times"]:
                continue
            text = f"{STEP_WORDS[step]}: {a['kind']} assignment {a['id']} to {target}"
            if step == "dispatched":
                text += f", priority {a['priority']}"
            # Free text only from an unredacted report.
            if step in ("declined", "cancelled") and a["reason"] and not report["redacted"]:
                text += f"; reason: {a['reason']}"
            rows.append((a["times"][step], text))
    rows.sort()
    return rows


def write_ics214_csv(
    report: dict[str, Any],
    out_dir: Path | str,
    *,
    home_agency: str = "City of Boston",
    prepared_by: str = "Coordinator",
    unit_leader_position: str = "Unit leader",
) -> list[Path]:
    """Write ics214-<callsign>.csv for every unit in the report; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window = report["window"]
    paths: list[Path] = []
    taken: set[str] = set()
    for unit in report["units"]:
        path = out / _file_name(unit["callsign"], unit["id"], taken)
        with path.open("w", newline="", encoding="utf-8") as handle:
            w = csv.writer(handle)
            w.writerow(["ICS 214", "ACTIVITY LOG"])
            w.writerow(["1. Incident Name", report["title"]])
            w.writerow(
                ["2. Operational Period", "Date/Time From", window["start"], "Date/Time To", window["end"]]
            )
            w.writerow(["3. Name", unit["callsign"]])
            w.writerow(["4. ICS Position", unit_leader_position])
            w.writerow(["5. Home Agency (and Unit)", home_agency])
            w.writerow(["6. Resources Assigned", "Name", "ICS Position", "Home Agency (and Unit)"])
            w.writerow(["", f"{unit['callsign']} ({unit['kind']})", unit_leader_position, home_agency])
            w.writerow(["7. Activity Log", "Date/Time", "Notable Activities"])
            for at, text in activities(report, unit["id"]):
                w.writerow(["", at, text])
            w.writerow(["8. Prepared by", "Name", prepared_by, "Date/Time", report["generated_at"]])
        paths.append(path)
    return paths
