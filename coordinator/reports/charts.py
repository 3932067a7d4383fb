"""Inline SVG charts of a demonstration's tension and crowd over the report window.

Generated in Python so the report needs no chart library and prints sharply.
Every chart spans the whole report window, so charts of different
demonstrations can be compared by eye.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from coordinator.reports.fmt import Clock, esc

WIDTH = 680
HEIGHT = 210
LEFT, RIGHT, TOP, BOTTOM = 44, 60, 14, 30

# One colour per tension level, shared with the map so a reader learns it once.
TENSION_COLOURS = {1: "#2e7d32", 2: "#9e9d24", 3: "#f9a825", 4: "#ef6c00", 5: "#c62828"}


def tension_colour(level: Any) -> str:
    try:
        return TENSION_COLOURS.get(int(level), "#607d8b")
    except (TypeError, ValueError):
        return "#607d8b"


def _nice_ceiling(value: float) -> int:
    """Round a crowd maximum up to 1, 2 or 5 times a power of ten for a readable axis."""
    if value <= 0:
        return 10
    magnitude: int = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


class _Scale:
    """Maps instants and values onto the plot area."""

    def __init__(self, start: datetime, end: datetime, crowd_max: int) -> None:
        self.start = start
        self.span = max((end - start).total_seconds(), 1.0)
        self.crowd_max = crowd_max
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def x(self, moment: datetime) -> float:
        offset = (moment - self.start).total_seconds() / self.span
        return LEFT + max(0.0, min(1.0, offset)) * self.plot_w

    def y_tension(self, level: float) -> float:
        return TOP + (5 - level) / 4 * self.plot_h

    def y_crowd(self, crowd: float) -> float:
        return TOP + (1 - crowd / self.crowd_max) * self.plot_h


def _points(series: list[dict[str, Any]], clock: Clock) -> list[tuple[datetime, int | None, int | None]]:
    out = []
    for sample in series:
        moment = clock.local(sample.get("at"))
        if moment is None:
            continue
        tension = sample.get("tension")
        crowd = sample.get("crowd_estimate")
        out.append(
            (
                moment,
                int(tension) if isinstance(tension, int | float) else None,
                int(crowd) if isinstance(crowd, int | float) else None,
            )
        )
    out.sort(key=lambda p: p[0])
    return out


def _axes(scale: _Scale, start: datetime, end: datetime) -> list[str]:
    parts = []
    bottom = TOP + scale.plot_h
    for level in range(1, 6):
        y = scale.y_tension(level)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{level}</text>'
        )
    for fraction in (0.0, 0.5, 1.0):
        crowd = scale.crowd_max * fraction
        y = scale.y_crowd(crowd)
        parts.append(
            f'<text class="tick crowd-tick" x="{WIDTH - RIGHT + 8}" y="{y + 4:.1f}">{int(crowd):,}</text>'
        )
    # Hourly ticks, or every two hours on long windows so labels do not collide.
    hours = (end - start).total_seconds() / 3600
    step = 1 if hours <= 10 else 2 if hours <= 20 else 6
    tick = start.replace(minute=0, second=0, microsecond=0)
    if tick < start:
        tick += timedelta(hours=1)
    while tick <= end:
        if tick.hour % step == 0:
            x = scale.x(tick)
            parts.append(
                f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}"/>'
                f'<text class="tick" x="{x:.1f}" y="{bottom + 17}" text-anchor="middle">'
                f"{tick:%H:%M}</text>"
            )
        tick += timedelta(hours=1)
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}"/>')
    parts.append(
        f'<text class="axis-title" x="12" y="{TOP + scale.plot_h / 2:.0f}" '
        f'transform="rotate(-90 12 {TOP + scale.plot_h / 2:.0f})" text-anchor="middle">tension</text>'
    )
    return parts


def tension_chart(demo: dict[str, Any], window: dict[str, Any], clock: Clock) -> str:
    """Return an SVG of tension (step line, 1 to 5) over crowd estimate (shaded)."""
    samples = _points(demo.get("series") or [], clock)
    start = clock.local(window.get("start")) or (samples[0][0] if samples else None)
    end = clock.local(window.get("end")) or (samples[-1][0] if samples else None)
    name = esc(demo.get("name"))
    if start is None or end is None or not samples:
        return f'<p class="muted">No tension or crowd readings for {name} in this window.</p>'
    crowd_max = _nice_ceiling(max((c for _, _, c in samples if c is not None), default=0))
    scale = _Scale(start, end, crowd_max)
    parts = _axes(scale, start, end)
    bottom = TOP + scale.plot_h
    last_x = scale.x(end)

    crowd = [(scale.x(m), scale.y_crowd(c)) for m, _, c in samples if c is not None]
    if crowd:
        # Crowd is held until the next reading, like tension, since it is an estimate at a time.
        path = [f"M{crowd[0][0]:.1f},{bottom}"]
        for i, (x, y) in enumerate(crowd):
            path.append(f"L{x:.1f},{y:.1f}")
            nxt = crowd[i + 1][0] if i + 1 < len(crowd) else last_x
            path.append(f"L{nxt:.1f},{y:.1f}")
        path.append(f"L{last_x:.1f},{bottom}Z")
        parts.append(f'<path class="crowd" d="{"".join(path)}"/>')

    tension = [(scale.x(m), scale.y_tension(t), t) for m, t, _ in samples if t is not None]
    if tension:
        steps = [f"M{tension[0][0]:.1f},{tension[0][1]:.1f}"]
        for i in range(len(tension)):
            nxt = tension[i + 1][0] if i + 1 < len(tension) else last_x
            steps.append(f"H{nxt:.1f}")
            if i + 1 < len(tension):
                steps.append(f"V{tension[i + 1][1]:.1f}")
        parts.append(f'<path class="tension" d="{"".join(steps)}"/>')
        readings = [s for s in samples if s[1] is not None]
        for (x, y, level), (moment, _, count) in zip(tension, readings, strict=True):
            label = f"{moment:%H:%M}: tension {level}" + (f", crowd {count:,}" if count is not None else "")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{tension_colour(level)}">'
                f"<title>{esc(label)}</title></circle>"
            )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Tension and crowd estimate over time for {name}">'
        f"<title>Tension and crowd estimate over time: {name}</title>{''.join(parts)}</svg>"
    )
