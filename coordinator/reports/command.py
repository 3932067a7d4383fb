"""The `coordinator report` command: an after-action report of a time window, in one or more formats."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..domain.errors import ValidationError
from ..domain.timefmt import parse_iso
from ..service import Coordinator

OfflineService = Callable[[str], Coordinator]
# A writer takes the report and the output directory and returns the files it wrote.
Writer = Callable[[dict[str, Any], Path], list[Path]]

FORMATS = ("html", "pdf", "csv", "geojson", "ics214")


def add_report_command(sub: Any, *, data_dir_default: str, offline_service: OfflineService) -> None:
    """Attach `report` to the top-level sub-parsers."""
    p = sub.add_parser(
        "report",
        help="Write an after-action report of a time window.",
        description="Write an after-action report of a time window (one line per file written).",
    )
    p.add_argument("--from", dest="start", required=True, help="ISO 8601 time with offset or Z (inclusive)")
    p.add_argument("--to", dest="end", required=True, help="ISO 8601 time with offset or Z (exclusive)")
    p.add_argument("--demonstration", help="only this demonstration, its incidents and assignments")
    p.add_argument("--format", required=True, choices=(*FORMATS, "all"))
    p.add_argument("--out", required=True, help="directory for the files (created if absent)")
    p.add_argument("--redact-notes", action="store_true", help="leave every free-text note out")
    p.add_argument("--title", default="After-action report")
    p.add_argument("--home-agency", default="City of Boston", help="ICS-214 block 5")
    p.add_argument("--prepared-by", default="Coordinator", help="ICS-214 block 8")
    p.add_argument("--unit-leader-position", default="Unit leader", help="ICS-214 block 4")
    p.add_argument("--data-dir", default=data_dir_default)
    p.set_defaults(run=lambda a: run_report(a, offline_service))


def parse_time(value: str, name: str) -> datetime:
    """An ISO 8601 time with an offset or Z; a time without one is ambiguous and refused."""
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        raise ValidationError(
            f"--{name} must be an ISO 8601 time with an offset or Z, e.g. 2025-06-01T12:00:00Z",
            field=name,
        ) from None


def writers(formats: tuple[str, ...], args: argparse.Namespace) -> list[Writer]:
    """Resolve every writer before anything is written, so a missing one fails the whole run."""
    from . import exports

    chosen: list[Writer] = []
    for name in formats:
        if name in ("html", "pdf"):
            chosen.append(_renderer(name))
        elif name == "csv":
            chosen.append(exports.write_csv)
        elif name == "geojson":
            chosen.append(exports.write_geojson)
        else:
            chosen.append(
                lambda report, out: exports.write_ics214_csv(
                    report,
                    out,
                    home_agency=args.home_agency,
                    prepared_by=args.prepared_by,
                    unit_leader_position=args.unit_leader_position,
                )
            )
    return chosen


def _renderer(name: str) -> Writer:
    """The HTML or PDF writer, imported only when asked for: it is a separate part of the
    package and may be absent from a build; then the run fails rather than fake a file."""
    module_name, function = {"html": ("html", "write_html"), "pdf": ("pdf", "write_pdf")}[name]
    try:
        write_one = getattr(importlib.import_module(f"{__package__}.{module_name}"), function)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(
            f"{name.upper()} output is not available in this installation ({exc})", field="format"
        ) from None

    def write(report: dict[str, Any], out: Path) -> list[Path]:
        return [Path(write_one(report, out))]

    return write


def run_report(args: argparse.Namespace, offline: OfflineService) -> int:
    from .data import ReportError, build_report

    start, end = parse_time(args.start, "from"), parse_time(args.end, "to")
    if end <= start:
        raise ValidationError("--to must be after --from", field="to")
    if not Path(args.data_dir).is_dir():
        raise ValidationError(f"no data directory at {args.data_dir}", field="data_dir")
    chosen = writers(FORMATS if args.format == "all" else (args.format,), args)
    service = offline(args.data_dir)
    try:
        try:
            report = build_report(
                service.log,
                service.tracks,
                start=start,
                end=end,
                demonstration_id=args.demonstration,
                redact_notes=args.redact_notes,
                title=args.title,
            )
        except ReportError as exc:
            raise ValidationError(str(exc)) from None
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for write in chosen:
            for path in write(report, out):
                print(path)
    finally:
        service.log.close()
        service.tracks.close()
    return 0
