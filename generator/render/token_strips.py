"""Token strips as data for the page: an example's tokens by segment, and Neuronpedia-style activation
strips (each token on an emerald background scaled by its activation). ``assets/atlas.js`` draws both;
the page's Markdown carries one empty element each, so MkDocs' parsers never walk a span per token.

opacity = 0.05 + log10(1 + 9 * value / max) * 0.95, nothing drawn below 0.00005; the text is
black or white, whichever contrasts more with the blended background (WCAG contrast ratio).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from generator.render.embed import script_json
from generator.render.jinja import visible
from generator.render.plots import display_token

EMERALD = (52, 211, 153)
MINIMUM_OPACITY = 0.05
THRESHOLD = 0.00005


def opacity(value: float, max_value: float) -> float:
    if max_value <= 0 or value < THRESHOLD:
        return 0.0
    ratio = min(value / max_value, 1.0)
    return MINIMUM_OPACITY + math.log10(1 + 9 * ratio) * (1 - MINIMUM_OPACITY) / math.log10(10)


def _luminance(rgb: Sequence[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color(alpha: float) -> str:
    """Black on light backgrounds, white on dark ones: the one with the higher contrast ratio."""
    background = [255 * (1 - alpha) + c * alpha for c in EMERALD]
    lum = _luminance(background)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def strip_rows(tokens: Sequence[str], values: Sequence[float], max_value: float, tokens_per_row: int,
               show_values: bool) -> list[list[dict]]:
    """Rows of token cells, each with its display text, background, text colour and value."""
    cells = []
    for index, (token, value) in enumerate(zip(tokens, values)):
        alpha = opacity(float(value), max_value)
        cells.append({"index": index, "text": display_token(token),
                      "background": f"rgba({EMERALD[0]}, {EMERALD[1]}, {EMERALD[2]}, {alpha:.3f})",
                      "color": text_color(alpha), "value": f"{float(value):.3g}" if show_values else None,
                      "title": f"#{index} {float(value):.4g}"})
    per_row = max(1, tokens_per_row)
    return [cells[i:i + per_row] for i in range(0, len(cells), per_row)]


def strip_item(target: str, tokens: Sequence[str], values: Sequence[float], max_value: float, tokens_per_row: int,
               show_values: bool) -> dict:
    """A strip as data for the page (``assets/atlas.js`` draws it with the formula above, exactly as
    ``strip_rows`` does; the data goes beside the page, so the Markdown carries one empty element)."""
    data = {"tokens": [display_token(t) for t in tokens], "values": [float(v) for v in values],  # exact: same colours
            "peak": float(max_value), "per_row": max(1, tokens_per_row), "show_values": bool(show_values)}
    return {"target": target, "json": script_json(data)}


def segment_strip_item(target: str, views: Sequence[dict[str, Any]]) -> dict:
    """An example's tokens (``pages.token_views``) as data: ``assets/atlas.js`` draws one span a token with
    the class ``atlas-token atlas-seg-<kind>`` (and ``atlas-special`` for a token of no text) and the title
    ``#<index> · <segment>``, its text as ``inert`` would show it."""
    segments: list[list[str]] = []
    numbers: dict[tuple[str, str], int] = {}
    owners = []
    for view in views:
        key = (view["segment"], view["kind"])
        if key not in numbers:
            numbers[key] = len(segments)
            segments.append([visible(view["segment"]), visible(view["kind"])])
        owners.append(numbers[key])
    data = {"tokens": [visible(view["text"]) for view in views], "segments": segments, "owner": owners,
            "special": [view["index"] for view in views if view["special"]]}
    return {"target": target, "json": script_json(data)}
