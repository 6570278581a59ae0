"""Plots as data: one Bokeh specification per plot kind, and compact data per example.

A full token-by-token map of every head is the heaviest thing a page can carry (a 28-layer,
12-head model at 249 tokens has 10 million weights). So the token map's Bokeh document is
built once per build (``SPECS``, written to ``assets/plots/<kind>.js``), and each example page
carries only its tokens and its weights, quantised to 16 bits (steps of 1/65535, which the
hover's four decimals never show), lower triangle only. Heads beyond a page budget live in one
small script file per head beside the page and are loaded when selected (a script tag works
from ``file://``, where fetching a local file does not). ``assets/atlas.js`` embeds the spec
and fills it in; hover text is built in the browser from the tokens, never repeated per cell.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from generator.render.colour_scale import bokeh_palette, colour_scale
from generator.render.embed import SELECT_HEIGHT, script_json, stable_ids
from generator.render.plots import MISSING_COLOUR, PALETTE, display_token, fit_title, page_select
from generator.store.atomic import atomic_write_text, write_into_staging

QUANTUM = 65534  # weights are stored as round(w * QUANTUM) in uint16
MISSING = 65535  # a weight that was not measured (NaN in the run's tensor): drawn grey, as missing, never as 0
INLINE_BYTES = 192 * 1024  # weights carried by the page itself; the rest load per head when chosen


def axes_filled_by_page(fig, prefix: str) -> None:
    """Both axes get an empty ticker and a name (``<prefix>-x-ticks``, ``<prefix>-x-axis``, ...): the page's
    data sets the ticks and their labels (``major_label_overrides``) in ``assets/atlas.js``."""
    from bokeh.models import FixedTicker

    for axis, name in ((fig.xaxis[0], "x"), (fig.yaxis[0], "y")):
        axis.ticker = FixedTicker(ticks=[], name=f"{prefix}-{name}-ticks")
        axis.name = f"{prefix}-{name}-axis"


def token_map_spec() -> dict[str, Any]:
    """The token map's document with empty data; models that a page fills in are named ``atlas-*``."""
    from bokeh.embed import json_item
    from bokeh.layouts import column, row
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d
    from bokeh.plotting import figure

    drawn = ColumnDataSource({"key": [], "query": [], "weight": [], "key_token": [], "query_token": []},
                             name="atlas-drawn")
    mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0, nan_color=MISSING_COLOUR, name="atlas-map-colours")
    fig = figure(width=360, height=360, x_range=Range1d(-0.5, 0.5, name="atlas-x"),
                 y_range=Range1d(0.5, -0.5, name="atlas-y"), tools="pan,wheel_zoom,box_zoom,reset,save",
                 toolbar_location="above", x_axis_label="key token (attended to)",
                 y_axis_label="query token (attending)", title="Layer 0, head 0", name="atlas-figure",
                 sizing_mode="scale_width")  # fits the page column; never wider than its own size (max_width)
    cells = fig.rect(x="key", y="query", width=1, height=1, source=drawn, line_color=None,
                     fill_color={"field": "weight", "transform": mapper})
    boundaries = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []}, name="atlas-boundaries")
    fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", source=boundaries, line_color="white", line_width=1,
                line_alpha=0.8)  # where each segment starts (filled by the page)
    fig.add_tools(HoverTool(renderers=[cells], tooltips=[("query", "@query: @query_token"),
                                                         ("key", "@key: @key_token"), ("weight", "@weight{0.0000}")]))
    axes_filled_by_page(fig, "atlas")
    fig.xaxis.major_label_orientation = 1.2
    fig.grid.visible = False
    fig.add_layout(ColorBar(color_mapper=mapper, width=10), "right")
    layer = page_select(title="Layer", value="0", options=["0"], name="atlas-layer")
    head = page_select(title="Head", value="0", options=["0"], name="atlas-head")
    return stable_ids(json_item(column(row(layer, head), fig, sizing_mode="stretch_width"), "atlas-token-map"))


def layer_head_grid_spec() -> dict[str, Any]:
    """A layers x heads grid with a selector over parts (segments, steps); filled in by the page's data."""
    from bokeh.embed import json_item
    from bokeh.layouts import column
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d
    from bokeh.plotting import figure

    drawn = ColumnDataSource({"layer": [], "head": [], "value": []}, name="atlas-grid-drawn")
    mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0, name="atlas-grid-mapper")
    fig = figure(width=320, height=260, x_range=Range1d(-0.5, 0.5, name="atlas-grid-x"),
                 y_range=Range1d(0.5, -0.5, name="atlas-grid-y"), tools="save,reset", x_axis_label="head",
                 y_axis_label="layer", title=" ", name="atlas-grid-figure")
    fig.rect(x="head", y="layer", width=1, height=1, source=drawn, line_color=None,
             fill_color={"field": "value", "transform": mapper})
    fig.add_tools(HoverTool(tooltips=[("layer", "@layer_label"), ("head", "@head"), ("value", "@value{0.0000}")],
                            name="atlas-grid-hover"))
    axes_filled_by_page(fig, "atlas-grid")
    fig.grid.visible = False
    fig.add_layout(ColorBar(color_mapper=mapper, width=10), "right")
    part = page_select(title="Part", value="", options=[], name="atlas-grid-part")
    return stable_ids(json_item(column(part, fig), "atlas-layer-head-grid"))


def pooled_map_spec() -> dict[str, Any]:
    """Long sequences' maps pooled into blocks: a head selector and a block statistic (mean or max)."""
    from bokeh.embed import json_item
    from bokeh.layouts import column, row
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d
    from bokeh.plotting import figure

    drawn = ColumnDataSource({"key": [], "query": [], "weight": [], "key_tokens": [], "query_tokens": []},
                             name="atlas-pooled-drawn")
    mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0, nan_color=MISSING_COLOUR,
                               name="atlas-pooled-mapper")
    fig = figure(width=360, height=360, x_range=Range1d(-0.5, 0.5, name="atlas-pooled-x"),
                 y_range=Range1d(0.5, -0.5, name="atlas-pooled-y"), tools="pan,wheel_zoom,box_zoom,reset,save",
                 toolbar_location="above", x_axis_label="key block", y_axis_label="query block", title=" ",
                 name="atlas-pooled-figure", sizing_mode="scale_width")
    fig.rect(x="key", y="query", width=1, height=1, source=drawn, line_color=None,
             fill_color={"field": "weight", "transform": mapper})
    fig.add_tools(HoverTool(tooltips=[("query", "@query_tokens"), ("key", "@key_tokens"), ("weight", "@weight{0.0000}")]))
    fig.grid.visible = False
    fig.add_layout(ColorBar(color_mapper=mapper, width=10), "right")
    head = page_select(title="Layer and head", value="", options=[], name="atlas-pooled-head")
    statistic = page_select(title="Block statistic", value="mean", options=["mean", "max"], name="atlas-pooled-stat")
    return stable_ids(json_item(column(row(head, statistic), fig, sizing_mode="stretch_width"), "atlas-pooled-map"))


def matrix_spec() -> dict[str, Any]:
    """A labelled matrix (rows down, columns across) with hover; filled in by the page's data (``matrix_data``).

    The example pages' small result grids (heads, components x factors, steps x steps, classes
    x layers): a Bokeh document per grid costs ~25 ms to build and ~10 KB per page, this costs
    neither.
    """
    from bokeh.embed import json_item
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d
    from bokeh.plotting import figure

    drawn = ColumnDataSource({"row": [], "column": [], "row_label": [], "column_label": [], "value": []},
                             name="atlas-matrix-drawn")
    mapper = LinearColorMapper(palette=PALETTE, low=0.0, high=1.0, nan_color=MISSING_COLOUR, name="atlas-matrix-mapper")
    fig = figure(width=320, height=240, x_range=Range1d(-0.5, 0.5, name="atlas-matrix-x"),
                 y_range=Range1d(0.5, -0.5, name="atlas-matrix-y"), tools="save,reset", title=" ",
                 sizing_mode="scale_width", name="atlas-matrix-figure")
    fig.rect(x="column", y="row", width=1, height=1, source=drawn, line_color=None,
             fill_color={"field": "value", "transform": mapper})
    fig.add_tools(HoverTool(tooltips=[("row", "@row_label"), ("column", "@column_label"), ("value", "@value{0.000}")],
                            name="atlas-matrix-hover"))
    axes_filled_by_page(fig, "atlas-matrix")
    fig.xaxis.major_label_orientation = 0.8
    fig.grid.visible = False
    fig.add_layout(ColorBar(color_mapper=mapper, width=10, title=" ", name="atlas-matrix-bar"), "right")
    return stable_ids(json_item(fig, "atlas-matrix"))


SPECS: dict[str, Callable[[], dict[str, Any]]] = {"token-map": token_map_spec, "layer-head-grid": layer_head_grid_spec,
                                                  "pooled-map": pooled_map_spec, "matrix": matrix_spec}


def write_specs(assets_dir: Path) -> None:
    """Every plot kind's specification as a script (pages load it like any other asset)."""
    for name, build in SPECS.items():
        spec = json.dumps(build(), separators=(",", ":"), allow_nan=False)
        atomic_write_text(Path(assets_dir) / "plots" / f"{name}.js",
                          "window.atlasSpecs = window.atlasSpecs || {};\n"
                          f"window.atlasSpecs[{json.dumps(name)}] = {_script_safe(spec)};\n")


def _script_safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def encode_head(weights: np.ndarray) -> str:
    """One head's map [query, key]: its lower triangle, quantised to uint16 (``MISSING`` where NaN), base64
    (little-endian)."""
    query, key = _lower_triangle(weights.shape[0])
    values = weights[query, key]
    missing = np.isnan(values)
    if missing.any():
        values = np.where(missing, 0.0, values)
    quantised = np.rint(np.clip(values, 0.0, 1.0) * QUANTUM).astype("<u2")
    quantised[missing] = MISSING
    return base64.b64encode(quantised.tobytes()).decode("ascii")


@functools.lru_cache(maxsize=8)
def _lower_triangle(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.tril_indices(n)``, once per sequence length (every head of a page has the same)."""
    return np.tril_indices(n)


def decode_head(text: str, n_tokens: int) -> np.ndarray:
    """The inverse of ``encode_head``: [query, key] with zeros above the diagonal."""
    stored = np.frombuffer(base64.b64decode(text), dtype="<u2")
    values = np.where(stored == MISSING, np.float32(np.nan), stored.astype(np.float32) / QUANTUM)
    out = np.zeros((n_tokens, n_tokens), dtype=np.float32)
    out[np.tril_indices(n_tokens)] = values
    return out


def token_map_data(maps: np.ndarray, tokens: Sequence[str], chunk_dir: Path, chunk_href: str, target: str,
                   inline_bytes: int | None = None,
                   segments: Sequence[tuple[str, int]] = ()) -> dict[str, Any]:
    """A page's data for the token map; heads past the inline budget are written as scripts in ``chunk_dir``.

    ``maps`` is [layer, head, query, key]; ``chunk_href`` is ``chunk_dir`` relative to the page;
    ``segments`` are (name, first token) pairs, drawn as boundaries. The model view's thumbnails
    go beside the folder, not in it (``thumbnails_file``): the folder is made only for a page
    whose heads pass its budget, and a thousand pages' folders cost a build more than their files.
    """
    n_layers, n_heads, n_tokens, _ = maps.shape
    encoded = ((f"{layer}_{head}", encode_head(maps[layer, head])) for layer in range(n_layers)
               for head in range(n_heads))
    inline, chunked = _split(encoded, chunk_dir, target, inline_bytes)
    thumbnails = thumbnail_maps(maps)
    write_into_staging(thumbnails_file(Path(chunk_dir)), f"atlasThumbnails({json.dumps(target)}, " + json.dumps(
        {"size": thumbnails.shape[-1], "layers": n_layers, "heads": n_heads,
         "values": base64.b64encode(thumbnails.tobytes()).decode("ascii")}) + ");\n")
    return {"tokens": [display_token(t) for t in tokens], "layers": n_layers, "heads": n_heads, "n": n_tokens,
            "quantum": QUANTUM, "missing": MISSING, "inline": inline, "chunks": chunk_href if chunked else None,
            "thumbnails": f"{chunk_href}.{THUMBNAILS}",
            "size": int(min(900, max(360, 14 * n_tokens + 120))),
            "segments": [[name, int(start)] for name, start in segments if 0 <= start < n_tokens]}


THUMBNAILS = "thumbnails.js"  # every head's map, small, beside the page (loaded when the model view opens)


def thumbnails_file(chunk_dir: Path) -> Path:
    """The model view's thumbnails of a page whose per-head scripts go in ``chunk_dir``: beside that folder."""
    return chunk_dir.with_name(f"{chunk_dir.name}.{THUMBNAILS}")
THUMBNAIL_BLOCKS = 32  # a thumbnail's side in blocks of tokens


def thumbnail_maps(maps: np.ndarray, blocks: int = THUMBNAIL_BLOCKS) -> np.ndarray:
    """[layer, head + 1, B, B] uint8: each head's map pooled into B x B blocks by their largest weight (so one
    sharp weight stays visible), then the mean over heads as the last column; weights 0..1 as 0..255."""
    n_tokens = maps.shape[-1]
    starts = np.linspace(0, n_tokens, min(n_tokens, blocks) + 1).astype(int)[:-1]
    with_mean = np.concatenate([maps, maps.mean(axis=1, keepdims=True)], axis=1)
    pooled = np.maximum.reduceat(np.maximum.reduceat(np.nan_to_num(with_mean), starts, axis=-1), starts, axis=-2)
    return np.rint(np.clip(pooled, 0.0, 1.0) * 255).astype(np.uint8)


def _split(encoded, chunk_dir: Path, target: str, inline_bytes: int | None) -> tuple[dict[str, str], bool]:
    """Maps carried by the page up to the budget (always the first); the rest as scripts in ``chunk_dir``."""
    budget = INLINE_BYTES if inline_bytes is None else inline_bytes
    inline: dict[str, str] = {}
    used, chunked = 0, False
    for key, text in encoded:
        if not inline or used + len(text) <= budget:
            inline[key] = text
            used += len(text)
        else:
            write_into_staging(Path(chunk_dir) / f"{key}.js",
                              f"atlasHead({json.dumps(target)}, {json.dumps(key)}, \"{text}\");\n")
            chunked = True
    return inline, chunked


def pooled_map_data(mean: np.ndarray, maximum: np.ndarray, heads: np.ndarray, edges: np.ndarray,
                    tokens: Sequence[str], chunk_dir: Path, chunk_href: str, target: str,
                    inline_bytes: int | None = None) -> dict[str, Any]:
    """A page's data for pooled maps ([n, bins, bins] block means and maxima of ``heads``' maps).

    Block weights are quantised like the token map's (they lie in 0..1); maps past the page
    budget become per-map scripts beside the page, loaded when chosen.
    """
    n_maps, n_bins, _ = mean.shape
    labels = [f"{edges[i]}–{edges[i + 1] - 1}: " + "".join(display_token(t) for t in tokens[edges[i]:edges[i + 1]][:12])
              for i in range(n_bins)]
    encoded = ((f"{index}_{statistic}", encode_head(values[index])) for index in range(n_maps)
               for statistic, values in (("mean", mean), ("max", maximum)))
    inline, chunked = _split(encoded, chunk_dir, target, inline_bytes)
    return {"labels": labels, "n": n_bins, "names": [f"layer {l}, head {h}" for l, h in heads], "quantum": QUANTUM,
            "missing": MISSING,
            "inline": inline, "chunks": chunk_href if chunked else None,
            "high": float(max(maximum.max(), 1e-9)), "size": int(min(900, max(360, 6 * n_bins + 160)))}


def layer_head_grid_data(values: np.ndarray, options: Sequence[str], title: str, value_label: str,
                         hover_text: Sequence[str] | None = None,
                         layer_labels: Sequence[int] | None = None) -> dict[str, Any]:
    """A page's data for a layers x heads grid per option: ``values`` is [option, layer, head] (float32, exact)."""
    n_options, n_layers, n_heads = values.shape
    texts = list(hover_text) if hover_text is not None else list(options)
    return {"options": list(options), "titles": [_shorten(f"{title} {text}") for text in texts],
            "value_label": value_label, "layers": n_layers, "heads": n_heads,
            "layer_labels": [int(x) for x in layer_labels] if layer_labels is not None else list(range(n_layers)),
            "values": base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii"),
            "high": float(max(np.nanmax(values) if values.size else 0.0, 1e-9)),
            "width": max(320, 60 * n_heads + 160), "height": max(260, 50 * n_layers + 120)}


def matrix_data(values: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str], title: str,
                value_label: str, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    """A page's data for the ``matrix`` spec: ``values`` [row, column] (float32, exact; NaN drawn grey)."""
    n_rows, n_columns = values.shape
    scale = colour_scale(values, low, high)
    cell = max(14, min(48, 900 // max(1, n_columns)))
    width = max(320, cell * n_columns + 220)
    diverging = {"palette": list(bokeh_palette(scale))} if scale.diverging else {}  # signed: zero is white
    return {"rows": [str(r) for r in row_labels], "columns": [str(c) for c in column_labels],
            "values": base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii"),
            "low": scale.low, "high": scale.high, **diverging, "title": fit_title(title, width),
            "value_label": value_label, "width": width,
            "height": max(220, 22 * n_rows + 130)}


def _shorten(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def data_item(kind: str, target: str, data: dict[str, Any]) -> dict[str, Any]:
    """What a page template embeds for a plot given as data for the shared specification ``kind``, with the
    height the page reserves for it (the figure's size, plus its selectors)."""
    selects = {"token-map": 1, "pooled-map": 1, "layer-head-grid": 1}.get(kind, 0)
    height = int(data.get("height") or data.get("size") or 0) + SELECT_HEIGHT * selects
    return {"kind": kind, "target": target, "json": script_json(data), "height": height}
