"""A score histogram as inline SVG, for report.html.

Drawn by hand rather than with a plotting library: a histogram is a few rectangles and
labels, and importing matplotlib to draw three of them took 2.6 s of a 16 s batch of 20
students. The SVG is text in the page (no base64 image), scales with the browser's zoom,
and the same scores always give the same bytes.
"""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 336, 208
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 24, 40  # margins: room for the axes' labels
BAR_COLOUR = "#4878a8"


def bins_for(scores: list[float], max_points: float) -> list[tuple[float, float]]:
    """The histogram's bins as (low, high) edges, low included, the last one's high too.

    Up to 40 points, one bin per whole point centred on it (a score of 3.5 counts in the
    bin of 4, as with edges at x - 0.5); above, at most 25 bins of a round width (2, 5,
    10, 20, 25, 50, ...) from 0 to the top score."""
    top = max(max_points, max((s for s in scores if math.isfinite(s)), default=0.0), 0.0)
    if top <= 40:
        return [(k - 0.5, k + 0.5) for k in range(int(top) + 1)]
    width = next(w for w in _round_widths() if top / w <= 25)
    return [(k * width, (k + 1) * width) for k in range(math.ceil(top / width))]


def _round_widths():
    scale = 1
    while True:
        for w in (2, 2.5, 5, 10):
            yield w * scale
        scale *= 10


def counts_for(scores: list[float], bins: list[tuple[float, float]]) -> list[int]:
    counts = [0] * len(bins)
    for score in scores:
        if not math.isfinite(score):
            continue
        for i, (low, high) in enumerate(bins):
            if low <= score < high or (i == len(bins) - 1 and score == high):
                counts[i] += 1
                break
    return counts


def _ticks(top: int, most: int = 5) -> list[int]:
    """Whole-number ticks from 0 to at least ``top``, at most ``most`` + 1 of them."""
    step = max(1, math.ceil(top / most))
    return list(range(0, top + step, step)) if top else [0, 1]


def _num(x: float) -> str:
    return f"{x:.3g}" if x != int(x) else str(int(x))


def histogram_svg(scores: list[float], max_points: float, title: str) -> str:
    """An ``<svg>`` element: students per score, titled ``title`` (escaped here)."""
    bins = bins_for(scores, max_points)
    counts = counts_for(scores, bins)
    y_ticks = _ticks(max(counts, default=0))
    y_top = y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    x_low, x_high = bins[0][0], bins[-1][1]

    def x(value: float) -> float:
        return LEFT + (value - x_low) / (x_high - x_low) * plot_w

    def y(count: float) -> float:
        return TOP + plot_h - count / y_top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" font-family="sans-serif" font-size="9"><title>histogram of {escape(title)} scores</title>',
        f'<text x="{WIDTH / 2:.1f}" y="14" text-anchor="middle" font-size="11">{escape(title)}</text>',
    ]
    for tick in y_ticks:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick}</text>')
    for (low, high), count in zip(bins, counts):
        if count:
            parts.append(
                f'<rect x="{x(low) + 0.5:.1f}" y="{y(count):.1f}" width="{max(x(high) - x(low) - 1, 0.5):.1f}" '
                f'height="{y(0) - y(count):.1f}" fill="{BAR_COLOUR}"><title>{_num(low)} to {_num(high)}: '
                f'{count} student{"s" if count != 1 else ""}</title></rect>'
            )
    for value in _x_labels(bins):
        parts.append(f'<text x="{x(value):.1f}" y="{TOP + plot_h + 13}" text-anchor="middle">{_num(value)}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">points</text>')
    parts.append(
        f'<text transform="translate(11 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">students</text></svg>'
    )
    return "".join(parts)


def _x_labels(bins: list[tuple[float, float]], most: int = 8) -> list[float]:
    """Where to label the points axis: whole-point bin centres, or bin edges, at most ``most``."""
    if bins[0][0] == -0.5:  # one bin per point: label the points themselves
        points = [int(low + 0.5) for low, _ in bins]
        step = max(1, math.ceil(len(points) / most))
        return [float(p) for p in points[::step]]
    edges = [bins[0][0]] + [high for _, high in bins]
    step = max(1, math.ceil(len(edges) / most))
    return edges[::step]
