"""The after-action report as a download from the dashboard, for any time window."""

from __future__ import annotations

import argparse
import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

from flask import Blueprint, Response, request, send_file

from ..domain.errors import ValidationError
from ..domain.timefmt import parse_iso
from ..reports.command import FORMATS, writers
from ..reports.data import ReportError, build_report
from .context import current_actor, service
from .limits import spend_report

bp = Blueprint("report", __name__, url_prefix="/api")

MEDIA = {"html": "text/html", "pdf": "application/pdf"}


def _moment(name: str) -> datetime:
    raw = request.args.get(name, "")
    try:
        return parse_iso(raw)
    except (ValueError, OverflowError):
        raise ValidationError(f"'{name}' must be an ISO 8601 time with offset", field=name) from None


@bp.get("/report")
def download() -> Response:
    """Build the report for `from`..`to` in one `format`; several files come as a zip."""
    actor = current_actor()
    actor.require("viewer")
    start, end = _moment("from"), _moment("to")
    fmt = request.args.get("format", "html")
    if fmt not in (*FORMATS, "all"):
        raise ValidationError(f"'format' must be one of: {', '.join((*FORMATS, 'all'))}", field="format")
    redact = request.args.get("redact_notes", "false").lower() in ("1", "true", "yes")
    demonstration_id = request.args.get("demonstration_id") or None
    options = argparse.Namespace(
        home_agency="City of Boston", prepared_by=actor.name, unit_leader_position="Unit leader"
    )
    chosen = writers(FORMATS if fmt == "all" else (fmt,), options)
    spend_report(actor.label)  # only well-formed requests count against the budget
    svc = service()
    try:
        report = build_report(
            svc.log,
            svc.tracks,
            start=start,
            end=end,
            demonstration_id=demonstration_id,
            redact_notes=redact,
            title=request.args.get("title") or "After-action report",
        )
    except ReportError as exc:
        raise ValidationError(str(exc), field="to") from None
    with tempfile.TemporaryDirectory(prefix="report-") as work:
        out = Path(work)
        files = [path for write in chosen for path in write(report, out)]
        if len(files) == 1 and fmt in MEDIA:
            data = files[0].read_bytes()
            name = files[0].name
            return send_file(io.BytesIO(data), mimetype=MEDIA[fmt], as_attachment=True, download_name=name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(out))
    buffer.seek(0)
    return send_file(
        buffer, mimetype="application/zip", as_attachment=True, download_name=f"report-{fmt}.zip"
    )
