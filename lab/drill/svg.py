"""Pictures as server-rendered SVG text: the teams' timelines and the score chart.

No JavaScript, no library: every shape is written here and every piece of text goes
through :func:`html.escape`, so the markup can be placed in a page as it is.

>>> svg = score_chart([{"name": "red<", "total": 40.0, "max_score": 100.0, "hint_points": 5.0}])
>>> svg.startswith("<svg") and "red&lt;" in svg and "<rect" in svg
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

#: Colours of action kinds on the timeline (presentation attributes: nothing for the CSP to refuse).
COLOURS = {"monitor.alert": "#d97706", "shadow.started": "#2563eb", "shadow.stopped": "#93c5fd",
           "promote": "#16a34a", "rollback": "#dc2626", "monitor.config": "#7c3aed", "alias.requested": "#6b7280",
           "alias.moved": "#374151", "event.fired": "#111827"}
LEFT, RIGHT, ROW, TOP = 110, 20, 34, 46


def _num(x: float) -> str:
    return f"{x:.1f}"


def timeline(rows: Sequence[Mapping[str, Any]], days: float, truth: Sequence[Mapping[str, Any]] = (),
             width: int = 860) -> str:
    """One row per team: its alerts (ticks), actions (dots) and fired events (diamonds) by scenario day.

    ``rows``: ``{"name", "alerts": [day...], "actions": [{"day", "kind", "summary"}...], "fired": {event: day}}``;
    ``truth``: ``{"label", "day"}`` drawn as dashed lines across every row (the debrief's answer key).
    """
    days = max(float(days), 1.0)
    height = TOP + ROW * max(len(rows), 1) + 30
    span = width - LEFT - RIGHT

    def x(day: float) -> float:
        return LEFT + span * min(max(day, 0.0), days) / days

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><title>Timeline of each team by scenario day</title>']
    step = max(1, round(days / 10))
    for d in range(0, int(days) + 1, step):
        out.append(f'<line x1="{_num(x(d))}" y1="{TOP - 6}" x2="{_num(x(d))}" y2="{height - 24}" stroke="#e5e7eb"/>'
                   f'<text x="{_num(x(d))}" y="{height - 8}" font-size="11" text-anchor="middle">day {d}</text>')
    for i, row in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        out.append(f'<g class="team-row" data-team="{escape(str(row["name"]))}">'
                   f'<text x="{LEFT - 8}" y="{_num(y + 4)}" font-size="13" text-anchor="end">{escape(str(row["name"]))}</text>'
                   f'<line x1="{LEFT}" y1="{_num(y)}" x2="{width - RIGHT}" y2="{_num(y)}" stroke="#9ca3af"/>')
        for day in row.get("alerts", ()):
            out.append(f'<line class="alert" x1="{_num(x(day))}" y1="{_num(y - 9)}" x2="{_num(x(day))}" y2="{_num(y + 9)}" '
                       f'stroke="{COLOURS["monitor.alert"]}" stroke-width="2"><title>alert, day {day:.2f}</title></line>')
        for event, day in (row.get("fired") or {}).items():
            cx, s = x(day), 6
            out.append(f'<polygon class="fired" points="{_num(cx)},{_num(y - s)} {_num(cx + s)},{_num(y)} {_num(cx)},{_num(y + s)} '
                       f'{_num(cx - s)},{_num(y)}" fill="{COLOURS["event.fired"]}"><title>{escape(str(event))} fired, '
                       f'day {day:.2f}</title></polygon>')
        for a in row.get("actions", ()):
            if not isinstance(a.get("day"), (int, float)):
                continue
            colour = COLOURS.get(str(a.get("kind")), "#000000")
            out.append(f'<circle class="action" cx="{_num(x(a["day"]))}" cy="{_num(y)}" r="5" fill="{colour}">'
                       f'<title>{escape(str(a.get("kind")))}, day {a["day"]:.2f}: {escape(str(a.get("summary", "")))}</title></circle>')
        out.append("</g>")
    for t in truth:
        tx = _num(x(float(t["day"])))
        out.append(f'<g class="truth"><line x1="{tx}" y1="{TOP - 10}" x2="{tx}" y2="{height - 24}" stroke="#b91c1c" '
                   f'stroke-dasharray="4 3"/><text x="{tx}" y="{TOP - 14}" font-size="11" fill="#b91c1c" '
                   f'text-anchor="middle">{escape(str(t["label"]))}</text></g>')
    out.append(_legend(width, height))
    out.append("</svg>")
    return "".join(out)


def _legend(width: int, height: int) -> str:
    items = [("alert", COLOURS["monitor.alert"]), ("shadow", COLOURS["shadow.started"]), ("promote", COLOURS["promote"]),
             ("rollback", COLOURS["rollback"]), ("monitoring config", COLOURS["monitor.config"]),
             ("event fired", COLOURS["event.fired"])]
    out, x = [], LEFT
    for label, colour in items:
        out.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="13" font-size="11">{escape(label)}</text>')
        x += 14 + 7 * len(label) + 16
    return "".join(out)


def score_chart(teams: Sequence[Mapping[str, Any]], width: int = 560) -> str:
    """Horizontal bars: each team's total (score minus hint points) out of its maximum."""
    height = 10 + 28 * max(len(teams), 1) + 10
    top = max([float(t.get("max_score") or 0) for t in teams] + [1.0])
    span = width - LEFT - 90
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="scores" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><title>Score of each team (minus hint points)</title>']
    for i, t in enumerate(teams):
        y = 10 + 28 * i
        total = max(float(t.get("total") or 0), 0.0)
        bar = span * total / top
        out.append(f'<g class="score-bar" data-team="{escape(str(t["name"]))}">'
                   f'<text x="{LEFT - 8}" y="{y + 14}" font-size="13" text-anchor="end">{escape(str(t["name"]))}</text>'
                   f'<rect x="{LEFT}" y="{y}" width="{_num(span)}" height="18" fill="#f3f4f6"/>'
                   f'<rect x="{LEFT}" y="{y}" width="{_num(bar)}" height="18" fill="#2563eb"/>'
                   f'<text x="{_num(LEFT + span + 6)}" y="{y + 14}" font-size="12">{float(t.get("total") or 0):.1f}'
                   f' / {float(t.get("max_score") or 0):.0f}</text></g>')
    out.append("</svg>")
    return "".join(out)
