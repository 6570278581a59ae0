"""Which colour map a matrix gets: sequential from its low to its high, or diverging with zero neutral.

A signed quantity (a change in log-probability, an interaction, a correlation) drawn on a
sequential map makes zero look like "a little": whenever the range spans zero, the map is
diverging (red negative, white zero, blue positive) and symmetric, in the pages and in the
static figures alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEQUENTIAL = "viridis"
DIVERGING = "RdBu"  # matplotlib's name; the Bokeh palette below is the same map


@dataclass(frozen=True)
class ColourScale:
    low: float
    high: float
    diverging: bool


def colour_scale(values: np.ndarray, low: float | None = None, high: float | None = None) -> ColourScale:
    """The range to colour ``values`` over (given ends kept), made symmetric and diverging when it spans zero."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    low = float(finite.min()) if low is None and finite.size else (0.0 if low is None else float(low))
    high = float(finite.max()) if high is None and finite.size else (1.0 if high is None else float(high))
    if low < 0.0 < high:
        edge = max(-low, high)
        return ColourScale(-edge, edge, True)
    return ColourScale(low, high if high > low else low + 1e-9, False)


def bokeh_palette(scale: ColourScale) -> str | tuple[str, ...]:
    from bokeh.palettes import RdBu11, interp_palette

    return interp_palette(RdBu11[::-1], 64) if scale.diverging else "Viridis256"  # RdBu11 runs blue to red
