"""Static matplotlib figures for papers: PNG and SVG at stable paths, byte-reproducible."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from generator.store.atomic import atomic_write_bytes

FORMATS = ("png", "svg")
DPI = 200
STYLE = {
    "text.parse_math": False,  # model text may contain '$'; never interpret it as mathtext
    "svg.hashsalt": "attention-atlas",  # fixed ids inside SVG files
    "font.size": 8,
}


def _save(fig, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    import matplotlib.pyplot as plt

    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=DPI, bbox_inches="tight", metadata=metadata)
        path = stem.with_suffix(f".{fmt}")
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    plt.close(fig)
    return written


def layer_head_grid(values: np.ndarray, stem: Path, title: str, value_label: str) -> list[Path]:
    """One layers x heads heatmap (``values`` is [layer, head])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        n_layers, n_heads = values.shape
        fig, ax = plt.subplots(figsize=(1.2 + 0.45 * n_heads, 1.0 + 0.4 * n_layers))
        image = ax.imshow(values, cmap="viridis", vmin=0, aspect="auto")
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(n_heads))
        ax.set_yticks(range(n_layers))
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label=value_label)
        return _save(fig, stem)


def small_multiples(grids: Sequence[np.ndarray], titles: Sequence[str], stem: Path, suptitle: str,
                    value_label: str, columns: int = 6) -> list[Path]:
    """Every example's layers x heads grid on one shared colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        rows = int(np.ceil(len(grids) / columns))
        fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.5 * rows + 0.6), squeeze=False)
        high = float(max(g.max() for g in grids)) if grids else 1.0
        image = None
        for ax in axes.ravel():
            ax.set_axis_off()
        for ax, grid, title in zip(axes.ravel(), grids, titles):
            ax.set_axis_on()
            image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=high, aspect="auto")
            ax.set_title(title, fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(suptitle)
        if image is not None:
            fig.colorbar(image, ax=axes.ravel().tolist(), label=value_label, shrink=0.6)
        return _save(fig, stem)


def lines_by_layer(series: dict[str, np.ndarray], stem: Path, title: str, y_label: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4.5, 2.8))
        for name, values in series.items():
            ax.plot(np.arange(len(values)), values, marker="o", label=name)
        ax.set_xlabel("layer")
        ax.set_ylabel(y_label)
        ax.set_title(title)
        ax.set_xticks(range(max(len(v) for v in series.values())))
        ax.legend()
        return _save(fig, stem)
