"""A score history as a small inline SVG polyline (pure: no Django, no JavaScript needed)."""

from html import escape

WIDTH, HEIGHT, PAD = 100, 24, 2


def svg(scores: list[float], *, width: int = WIDTH, height: int = HEIGHT) -> str:
    """An <svg> of `scores` (oldest first) scaled to the box; "" for fewer than two points."""
    if len(scores) < 2:
        return ""
    low, high = min(scores), max(scores)
    span = (high - low) or 1.0
    step = (width - 2 * PAD) / (len(scores) - 1)
    points = " ".join(
        f"{PAD + i * step:.1f},{height - PAD - (score - low) / span * (height - 2 * PAD):.1f}"
        for i, score in enumerate(scores)
    )
    label = escape(f"Score history: {', '.join(f'{s:.0f}' for s in scores)}")
    return (
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{points}"/></svg>'
    )
