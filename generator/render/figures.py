"""Static matplotlib figures for papers: PNG, PDF and SVG at stable paths, byte-reproducible, each with the
numbers it draws beside it as CSV (so a reader can replot or check it without the run)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from generator.render.figure_cache import reusable
from generator.render.colour_scale import DIVERGING, SEQUENTIAL, colour_scale
from generator.store.atomic import atomic_write_bytes

FORMATS = ("png", "svg", "pdf")  # every static figure can be cited: 300 dpi PNG, SVG and PDF
PAPER_DPI = 300
CELLS = "none"  # cells drawn as they are: PDF and SVG embed the matrix itself (not a resampled image), 2.5x faster
MAX_PIXELS = 40e6  # a 1,000-tile mosaic at 300 dpi would be 300 megapixels; its PNG drops dpi to fit
STYLE = {
    "text.parse_math": False,  # model text may contain '$'; never interpret it as mathtext
    "svg.hashsalt": "attention-atlas",  # fixed ids inside SVG files
    "svg.fonttype": "none",  # SVG text stays text (searchable, editable), not paths
    "pdf.fonttype": 42,  # TrueType in PDFs: IEEE and ACM checks reject Type 3 fonts
    "ps.fonttype": 42,
    "font.size": 8,
}


CELL_INCHES = 0.04  # a small multiples' cell past 120 tiles (12 pixels at 300 dpi) ...
MOSAIC_PIXELS = 4e6  # ... or smaller, so that its cells stay under 4 megapixels at 300 dpi at any size: what
# 1,000 tiles of 4 x 4 take at 12 pixels a cell. Memory follows the PNG's pixels (about 20 bytes each while
# matplotlib draws it: 8 megapixels took 160 MB), so a 5,000-example dataset page needs no more than a 1,000's


def mosaic_cell_inches(rows: int, columns: int) -> float:
    """How wide a cell of an untitled mosaic is drawn: memory and time stay flat however many tiles there are."""
    return min(CELL_INCHES, (MOSAIC_PIXELS / (rows * columns)) ** 0.5 / PAPER_DPI)


def png_dpi(fig) -> int:
    """300 dpi, or less for a figure so large that 300 dpi would pass ``MAX_PIXELS``."""
    width, height = fig.get_size_inches()
    return int(min(PAPER_DPI, (MAX_PIXELS / (width * height)) ** 0.5))


Table = tuple[Sequence[str], Iterable[Sequence]]  # a CSV's header and rows (read once, in order)


def spreadsheet_safe(cell) -> str:
    """A CSV cell: numbers as numbers (missing or non-finite: empty), text that spreadsheet programs show as
    text (a leading ``= + - @`` would make it a formula to them, so it gets an apostrophe)."""
    if cell is None:
        return ""
    if isinstance(cell, (bool, np.bool_, int, np.integer)):
        return str(int(cell))
    if isinstance(cell, (float, np.floating)):
        return repr(float(cell)) if np.isfinite(cell) else ""
    text = str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_table(stem: Path, table: Table) -> Path:
    """The figure's numbers as ``<stem>.csv`` (empty cells where a value is missing)."""
    header, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(h) for h in header])
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    path = stem.with_suffix(".csv")
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
    return path


def matrix_table(values: np.ndarray, row_labels: Sequence, column_labels: Sequence, corner: str = "") -> Table:
    return [corner, *column_labels], [[label, *row] for label, row in zip(row_labels, np.asarray(values).tolist())]


def _save(fig, stem: Path, formats: Sequence[str] = FORMATS, table: Table | None = None) -> list[Path]:
    import matplotlib.pyplot as plt

    dpi = png_dpi(fig)
    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {"Software": None})
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
        path = stem.with_suffix(f".{fmt}")
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    plt.close(fig)
    if table is not None:
        written.append(write_table(stem, table))
    return written


@reusable
def layer_head_grid(values: np.ndarray, stem: Path, title: str, value_label: str) -> list[Path]:
    """One layers x heads heatmap (``values`` is [layer, head])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        n_layers, n_heads = values.shape
        fig, ax = plt.subplots(figsize=(1.2 + 0.45 * n_heads, 1.0 + 0.4 * n_layers))
        scale = colour_scale(values, 0.0 if np.nanmin(values) >= 0 else None)
        image = ax.imshow(values, cmap=DIVERGING if scale.diverging else SEQUENTIAL, vmin=scale.low, vmax=scale.high,
                          aspect="auto", interpolation=CELLS)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(n_heads))
        ax.set_yticks(range(n_layers))
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label=value_label)
        return _save(fig, stem, table=matrix_table(values, range(n_layers), [f"head {h}" for h in range(n_heads)],
                                                   f"layer \\ {value_label}"))


@reusable
def small_multiples(grids: Sequence[np.ndarray], titles: Sequence[str], stem: Path, suptitle: str,
                    value_label: str, columns: int = 6, high: float | None = None) -> list[Path]:
    """Every example's layers x heads grid on one shared colour scale, drawn as ONE image.

    The grids are laid into a mosaic (a blank cell between tiles) shown by a single ``imshow``:
    a thousand examples cost one image, not a thousand axes (which took 40 s at 1,000). Tiles
    are in the given order, left to right; each is titled while titles stay legible (<= 120).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not grids:
        raise ValueError("small_multiples needs at least one grid")
    columns = max(columns, int(np.ceil(np.sqrt(len(grids) / 2)))) if len(grids) > 6 * columns else columns
    rows = int(np.ceil(len(grids) / columns))
    tile_h, tile_w = max(g.shape[0] for g in grids), max(g.shape[1] for g in grids)
    mosaic = np.full((rows * (tile_h + 1) - 1, columns * (tile_w + 1) - 1), np.nan, dtype=np.float32)
    for index, grid in enumerate(grids):
        top, left = (index // columns) * (tile_h + 1), (index % columns) * (tile_w + 1)
        mosaic[top:top + grid.shape[0], left:left + grid.shape[1]] = grid
    if high is None:
        high = float(max(g.max() for g in grids))
    with plt.rc_context(STYLE):
        titled = len(grids) <= 120
        # untitled, cells are drawn small (16 in wide took 45 megapixels at 1,000 tiles)
        width = min(16.0, 1.6 * columns) if titled else \
            min(16.0, max(4.0, mosaic_cell_inches(*mosaic.shape) * mosaic.shape[1]))
        height = min(200.0, width * mosaic.shape[0] / mosaic.shape[1] * (1.25 if titled else 1.0) + 0.8)
        fig, ax = plt.subplots(figsize=(width, height))
        colours = matplotlib.colormaps["viridis"].with_extremes(bad="white")
        image = ax.imshow(np.ma.masked_invalid(mosaic), cmap=colours, vmin=0, vmax=high, aspect="auto",
                          interpolation=CELLS)
        ax.set_axis_off()
        if titled:
            for index, title in enumerate(titles):
                ax.text((index % columns) * (tile_w + 1) + (tile_w - 1) / 2, (index // columns) * (tile_h + 1) - 0.6,
                        title, ha="center", va="bottom", fontsize=5)
        fig.suptitle(suptitle)
        fig.colorbar(image, ax=ax, label=value_label, shrink=min(0.6, 8.0 / height) if height > 8 else 0.6)
        rows = ([title, layer, head, value] for title, grid in zip(titles, grids)  # written as made: 80,000
                for (layer, head), value in np.ndenumerate(grid))                 # rows at 5,000 examples
        return _save(fig, stem, table=(["example", "layer", "head", value_label], rows))


@reusable
def lines_by_layer(series: dict[str, np.ndarray], stem: Path, title: str, y_label: str) -> list[Path]:
    plt = _pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4.5, 2.8))
        draw_lines(fig, ax, series, title, y_label)
        return _save(fig, stem, table=lines_table(series))


def lines_table(series: dict[str, np.ndarray]) -> Table:
    """Series over layers as columns, one row per layer (empty where a series is shorter)."""
    layers = max(len(v) for v in series.values())
    return ["layer", *series], [[layer, *(values[layer] if layer < len(values) else None for values in series.values())]
                                for layer in range(layers)]


def draw_lines(fig, ax, series: dict[str, np.ndarray], title: str, y_label: str,
               dashes: dict[str, str] | None = None, colors: dict[str, int] | None = None) -> None:
    """One line per series over layers; ``dashes``/``colors`` give a series a line style / colour index."""
    for index, (name, values) in enumerate(series.items()):
        ax.plot(np.arange(len(values)), values, marker="o", markersize=3, label=name,
                linestyle=(dashes or {}).get(name, "solid"), color=f"C{(colors or {}).get(name, index) % 10}")
    ax.set_xlabel("layer")
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.set_xticks(range(max(len(v) for v in series.values())))
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)  # outside


def draw_note(fig, ax, title: str, text: str) -> None:
    """A panel that says why it is empty (e.g. the analysis did not run on this dataset)."""
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)


@reusable
def panel_grid(panels: Sequence, stem: Path, title: str, columns: int = 2, table: Table | None = None) -> list[Path]:
    """Several panels as one figure for a paper, lettered A, B, C, ...

    Each panel is a function ``draw(fig, ax)`` (``draw_lines``, ``draw_matrix``, ``draw_note``
    with their arguments bound), so the panels are the same drawings as the single figures.
    """
    plt = _pyplot()
    rows = int(np.ceil(len(panels) / columns))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
        for index, ax in enumerate(axes.ravel()):
            if index >= len(panels):
                ax.set_axis_off()
                continue
            panels[index](fig, ax)
            letter = "ABCDEFGHIJKLMNOP"[index]  # in the title, as in the pages: a letter beside it touched long ones
            ax.set_title(f"{letter}. {ax.get_title()}".rstrip())
        fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, stem, table=table)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@reusable
def bars_with_ci(categories: Sequence[str], means, lows, highs, stem: Path, title: str, y_label: str) -> list[Path]:
    plt = _pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(categories), 2.8))
        draw_bars(fig, ax, categories, means, lows, highs, title, y_label)
        rows = [list(row) for row in zip(categories, means, lows, highs)]
        return _save(fig, stem, table=(["", f"mean {y_label}", "95% CI low", "95% CI high"], rows))


def draw_bars(fig, ax, categories: Sequence[str], means, lows, highs, title: str, y_label: str) -> None:
    means = np.asarray(means, dtype=float)
    err = np.array([means - np.asarray(lows, dtype=float), np.asarray(highs, dtype=float) - means])
    ax.bar(range(len(categories)), means, yerr=np.nan_to_num(err), capsize=3, color="#3b75af")
    ax.set_xticks(range(len(categories)), categories, rotation=30, ha="right")
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.axhline(0, color="black", linewidth=0.5)


@reusable
def matrix_heatmap(values: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str], stem: Path,
                   title: str, value_label: str, low: float | None = None, high: float | None = None) -> list[Path]:
    plt = _pyplot()
    with plt.rc_context(STYLE):
        n_rows, n_columns = values.shape
        fig, ax = plt.subplots(figsize=(1.6 + 0.5 * n_columns, 1.0 + 0.22 * n_rows))
        draw_matrix(fig, ax, values, row_labels, column_labels, title, value_label, low, high)
        return _save(fig, stem, table=matrix_table(values, row_labels, column_labels, value_label))


def draw_matrix(fig, ax, values: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str], title: str,
                value_label: str, low: float | None = None, high: float | None = None) -> None:
    """A labelled matrix; signed values (a range spanning zero) on a diverging map with zero white."""
    scale = colour_scale(values, low, high)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=DIVERGING if scale.diverging else SEQUENTIAL, aspect="auto",
                      vmin=scale.low, vmax=scale.high, interpolation=CELLS)
    ax.set_xticks(range(len(column_labels)), column_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=5 if len(row_labels) > 20 else 8)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=value_label)


@reusable
def scatter_grid(panels: list[dict], stem: Path, x_label: str, y_label: str) -> list[Path]:
    """One scatter per layer with its least-squares line and r."""
    plt = _pyplot()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.4), squeeze=False)
        for ax, panel in zip(axes[0], panels):
            ax.scatter(panel["x"], panel["y"], s=8, alpha=0.7)
            if panel["slope"] is not None and panel["x"]:
                xs = np.array([min(panel["x"]), max(panel["x"])])
                ax.plot(xs, panel["intercept"] + panel["slope"] * xs, color="#d62728")
            r = "n/a" if panel["r"] is None else f"{panel['r']:.2f}"
            ax.set_title(f"layer {panel['layer']}: r = {r} (n = {panel['n']})")
            ax.set_xlabel(x_label)
        axes[0][0].set_ylabel(y_label)
        rows = [[panel["layer"], x, y] for panel in panels for x, y in zip(panel["x"], panel["y"])]
        return _save(fig, stem, table=(["layer", x_label, y_label], rows))


@reusable
def token_map(weights: np.ndarray, tokens: Sequence[str], segments: Sequence[tuple[str, int]], stem: Path,
              title: str) -> list[Path]:
    """One head's token-by-token attention ([query, key], causal) for print: labels thinned where they would
    overlap, a line where each segment starts and its name above, on the page's 0..1 colour scale."""
    plt = _pyplot()
    n = len(tokens)
    with plt.rc_context(STYLE):
        side = float(min(11.0, max(3.5, 0.11 * n + 1.5)))
        fig, ax = plt.subplots(figsize=(side + 1.0, side))
        masked = np.ma.masked_where(np.triu(np.ones((n, n), dtype=bool), k=1), weights)
        image = ax.imshow(masked, cmap=SEQUENTIAL, vmin=0.0, vmax=1.0, interpolation=CELLS)
        step = thinned_step(n, side)
        starts = {start for _, start in segments}
        shown = [i for i in range(n) if i % step == 0 or i in starts]
        labels = [tokens[i] for i in shown]
        ax.set_xticks(shown, labels, rotation=90, fontsize=5)
        ax.set_yticks(shown, labels, fontsize=5)
        for name, start in segments:
            if 0 < start < n:
                ax.plot([start - 0.5, start - 0.5], [start - 0.5, n - 0.5], color="white", linewidth=0.8, alpha=0.8)
                ax.plot([-0.5, start - 0.5], [start - 0.5, start - 0.5], color="white", linewidth=0.8, alpha=0.8)
        if segments:  # each segment's name above the map, over its middle
            ends = [start for _, start in segments[1:]] + [n]
            top = ax.secondary_xaxis("top")
            top.set_xticks([(start + end - 1) / 2 for (_, start), end in zip(segments, ends)],
                           [name for name, _ in segments], fontsize=6, rotation=45, ha="left")
        ax.set_xlabel("key token (attended to)")
        ax.set_ylabel("query token (attending)")
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label="attention weight", shrink=0.6)
        labels_all = [f"{i}: {token}" for i, token in enumerate(tokens)]
        return _save(fig, stem, table=matrix_table(np.where(np.isfinite(weights), weights, np.nan), labels_all,
                                                   labels_all, "query \\ key"))


def thinned_step(n: int, side_inches: float, label_points: float = 7.0) -> int:
    """Label every ``step``-th token so that labels of ``label_points`` fit along ``side_inches``."""
    return max(1, int(np.ceil(n * label_points / (72.0 * side_inches * 0.8))))
