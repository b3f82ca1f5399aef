"""Geometry of the backtest page's server-rendered SVG charts. Pure: lists in, coordinates out."""

WIDTH, HEIGHT, PAD = 640, 220, 30
COLOURS = {"Strong Buy": "#1b7f3b", "Buy": "#5cb85c", "Hold": "#888888", "Sell": "#e07b39", "Strong Sell": "#c0392b"}


def equity_lines(curves: dict[str, list]) -> dict:
    """{lines: [{verdict, colour, points "x,y ..."}], min, max} for curves of [[date, equity], ...] per verdict.

    The x axis is the trade's position in its curve (trades of a bucket in exit order), scaled to
    the width, so buckets of different sizes share the frame; y is equity in INR.
    """
    values = [point[1] for curve in curves.values() for point in curve]
    if not values:
        return {"lines": [], "min": None, "max": None, "width": WIDTH, "height": HEIGHT}
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    lines = []
    for verdict, curve in curves.items():
        if not curve:
            continue
        steps = max(1, len(curve) - 1)
        points = " ".join(
            f"{PAD + index / steps * (WIDTH - 2 * PAD):.1f},{_y(value, low, span):.1f}"
            for index, (_, value) in enumerate(curve)
        )
        lines.append({"verdict": verdict, "colour": COLOURS.get(verdict, "#333"), "points": points})
    return {"lines": lines, "min": round(low), "max": round(high), "width": WIDTH, "height": HEIGHT}


def _y(value: float, low: float, span: float) -> float:
    return HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD)


def histogram_bars(counts: list[int], edges: tuple[float, ...]) -> dict:
    """Bars of the distribution of trade returns (%) from per-bin counts (open-ended first and last bins)."""
    if not counts or not any(counts):
        return {"bars": [], "width": WIDTH, "height": HEIGHT, "low": None, "high": None}
    tallest = max(counts)
    bar_width = (WIDTH - 2 * PAD) / len(counts)
    bars = []
    for index, count in enumerate(counts):
        height = count / tallest * (HEIGHT - 2 * PAD)
        low = edges[index - 1] if index > 0 else None
        high = edges[index] if index < len(edges) else None
        bars.append(
            {
                "x": round(PAD + index * bar_width, 1),
                "y": round(HEIGHT - PAD - height, 1),
                "width": round(bar_width - 1, 1),
                "height": round(height, 1),
                "label": f"{'below' if low is None else low}{'' if low is None else '%'} to "
                f"{'above' if high is None else high}{'' if high is None else '%'}",
                "count": count,
                "negative": high is not None and high <= 0,
            }
        )
    return {"bars": bars, "width": WIDTH, "height": HEIGHT, "low": edges[0], "high": edges[-1]}
