"""Reliability diagram: does a machine suggestion's probability mean what it says?

Drawn as a small self-contained SVG (no matplotlib, no scripts) so the same
picture goes into the benchmark docs, the report's methods section and the
web review page. Input: per code, the rows of
:func:`chimeqda.coders.calibration.reliability` (``predicted``, ``observed``,
``count`` per probability bin).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def reliability_svg(
    tables: Mapping[str, Sequence[Mapping[str, float]]], *, title: str = "", size: int = 300,
    colors: Mapping[str, str] | None = None,
) -> str:
    """An SVG with the diagonal (perfect calibration) and one line per code, points sized by pair count."""
    pad, legend = 40, 130
    inner = size - 2 * pad
    width = size + legend

    def x(v: float) -> float:
        return pad + v * inner

    def y(v: float) -> float:
        return size - pad - v * inner

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{size}" '
             f'viewBox="0 0 {width} {size}" role="img" aria-label="{escape(title or "reliability diagram")}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
             f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#bbb" stroke-dasharray="4 3"/>']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<text x="{x(tick):.1f}" y="{size - pad + 14}" text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{pad - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{x(0.5):.1f}" y="{size - 6}" text-anchor="middle">predicted probability</text>')
    parts.append(f'<text transform="translate(12 {y(0.5):.1f}) rotate(-90)" text-anchor="middle">observed share</text>')
    if title:
        parts.append(f'<text x="{pad}" y="{pad - 12}" font-weight="bold">{escape(title)}</text>')
    biggest = max((float(r["count"]) for rows in tables.values() for r in rows), default=1.0) or 1.0
    for i, (code, rows) in enumerate(tables.items()):
        color = (colors or {}).get(code) or PALETTE[i % len(PALETTE)]
        points = [(x(float(r["predicted"])), y(float(r["observed"])), float(r["count"])) for r in rows]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for px, py, count in points:
            radius = 2 + 4 * (count / biggest) ** 0.5
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{radius:.1f}" fill="{color}" fill-opacity="0.7">'
                         f'<title>{escape(code)}: {int(count)} pairs</title></circle>')
        ly = pad + 16 * i + 6
        parts.append(f'<rect x="{size + 4}" y="{ly - 8}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{size + 18}" y="{ly + 1}">{escape(code)}</text>')
    parts.append("</svg>")
    return "".join(parts)
