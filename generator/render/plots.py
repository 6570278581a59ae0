"""Interactive Bokeh figures, returned as ``json_item`` documents for embedding in pages.

Model ids are renamed after each plot's target when embedded (``embed.plot_item``), so
pages are byte-identical whatever was built before them in the process. Token text reaches the browser only as data
(canvas labels and escaped tooltips), never as markup.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from generator.render.colour_scale import bokeh_palette, colour_scale
from generator.render.figure_cache import reusable_item
from generator.results.statistics import MeanWithCI

PALETTE = "Viridis256"
MISSING_COLOUR = "#dddddd"  # every plot's colour for a value not measured (NaN)


# Bokeh's widgets draw in their own shadow root with a white background of their own; these variables make a
# selector take the page's colours instead, so it follows the light and dark scheme (white on white otherwise).
SELECT_CSS = (":host { --background-color: var(--md-default-bg-color, #fff); --color: var(--md-default-fg-color, #18191d);"
              " --border-color: var(--md-default-fg-color--lighter, #bbbbbd); color: var(--md-default-fg-color, inherit); }"
              " .bk-input { color: var(--md-default-fg-color, #18191d); background-color: var(--md-default-bg-color, #fff); }")


def page_select(**properties):
    """A Bokeh ``Select`` drawn in the page's colour scheme."""
    from bokeh.models import InlineStyleSheet, Select

    return Select(stylesheets=[InlineStyleSheet(css=SELECT_CSS)], **properties)


TITLE_CHARACTER_PX = 7.5  # a Bokeh title's characters are about this wide (13 px bold)
TITLE_LINES = 3


def fit_title(title: str, width: int, margin: int = 100) -> str:
    """A title wrapped to what a ``width``-px figure shows (Bokeh draws each line; it clips a long one), at most
    three lines, the last shortened with an ellipsis; the section's text says it whole."""
    import textwrap

    limit = max(20, int((width - margin) / TITLE_CHARACTER_PX))
    lines = textwrap.wrap(title, limit) or [title]
    if len(lines) > TITLE_LINES:
        lines = lines[:TITLE_LINES - 1] + [textwrap.shorten(" ".join(lines[TITLE_LINES - 1:]), limit, placeholder="\u2026")]
    return "\n".join(lines)


def display_token(token: str) -> str:
    """Make whitespace visible so a token strip or axis label never shows an empty cell."""
    return token.replace(" ", "\u2423").replace("\n", "\u21b5").replace("\t", "\u21e5") or "\u2205"


@reusable_item
def line_by_layer(series: dict[str, np.ndarray], target: str, title: str, y_label: str,
                  dashes: dict[str, str] | None = None, colors: dict[str, int] | None = None) -> dict[str, Any]:
    """One line per series over layers (e.g. mean entropy per layer, per dataset)."""
    from bokeh.embed import json_item

    return json_item(lines_figure(series, title, y_label, dashes, colors), target)


def lines_figure(series: dict[str, np.ndarray], title: str, y_label: str, dashes: dict[str, str] | None = None,
                 colors: dict[str, int] | None = None, width: int = 560):
    """The figure of ``line_by_layer``; ``dashes``/``colors`` give a series a line dash / palette index."""
    from bokeh.models import HoverTool
    from bokeh.palettes import Category10_10
    from bokeh.plotting import figure

    fig = figure(width=width, height=320, title=fit_title(title, width, 80), x_axis_label="layer", y_axis_label=y_label,
                 tools="save,reset")
    for index, (name, values) in enumerate(series.items()):
        layers = np.arange(len(values))
        color = Category10_10[(colors or {}).get(name, index) % 10]
        dash = (dashes or {}).get(name, "solid")
        fig.line(layers, values, legend_label=name, line_width=2, color=color, line_dash=dash)
        fig.scatter(layers, values, size=7, color=color, legend_label=name)
    fig.add_tools(HoverTool(tooltips=[("layer", "@x"), (y_label, "@y{0.000}")]))
    fig.xaxis.ticker = list(range(max(len(v) for v in series.values())))
    fig.legend.label_text_font_size = "8pt"
    fig.legend.click_policy = "hide"  # a click on a series' name hides it
    fig.add_layout(fig.legend[0], "right")  # beside the plot, never over the data
    return fig


def panel_grid(figures: list, target: str, columns: int = 1) -> dict[str, Any]:
    """Several figures as one interactive panel (a grid, ``columns`` wide), each keeping its own tools.

    One column by default: the page's content column (about 690 px) holds one panel of at most
    560 px, so nothing is cut off; the static figure for papers lays the same panels out 2 x 2.
    """
    from bokeh.embed import json_item
    from bokeh.layouts import gridplot

    return json_item(gridplot(figures, ncols=columns, merge_tools=False), target)


@reusable_item
def bars_with_ci(series: dict[str, dict[str, MeanWithCI]], target: str, title: str, y_label: str) -> dict[str, Any]:
    """Bars per category with confidence whiskers; a selector picks the series (e.g. ablation method).

    ``series`` maps a series name to {category: its mean with interval}.
    """
    from bokeh.embed import json_item
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS

    names = list(series)
    categories = list(next(iter(series.values())))

    def columns(name):
        rows = [series[name].get(c) or MeanWithCI(0, None, None, None) for c in categories]
        value = lambda v: float("nan") if v is None else float(v)  # noqa: E731
        return {"category": categories, "mean": [value(r.mean) for r in rows],
                "low": [value(r.ci_low) for r in rows], "high": [value(r.ci_high) for r in rows],
                "n": [r.n for r in rows]}

    store = {name: columns(name) for name in names}
    drawn = ColumnDataSource(dict(store[names[0]]))
    fig = bars_figure(drawn, categories, f"{title}: {names[0]}", y_label)
    if len(names) == 1:
        return json_item(fig, target)
    select = page_select(title="Method", value=names[0], options=names, name="atlas-series")
    select.js_on_change("value", CustomJS(args=dict(drawn=drawn, store=store, select=select, fig=fig, title=title), code="""
        drawn.data = Object.assign({}, store[select.value]);
        fig.title.text = title + ': ' + select.value;
    """))
    return json_item(column(select, fig), target)


def bars_figure(source, categories: Sequence[str], title: str, y_label: str):
    """Bars with confidence whiskers from a source with category, mean, low, high and n columns."""
    from bokeh.models import HoverTool, Whisker
    from bokeh.plotting import figure

    width = max(360, 70 * len(categories) + 160)
    fig = figure(x_range=list(categories), width=width, height=320, title=fit_title(title, width, 80),
                 y_axis_label=y_label, tools="save,reset")
    fig.vbar(x="category", top="mean", width=0.7, source=source, color="#3b75af")
    fig.add_layout(Whisker(source=source, base="category", upper="high", lower="low"))
    fig.add_tools(HoverTool(tooltips=[("part", "@category"), ("mean", "@mean{0.000}"),
                                      ("95% CI", "@low{0.000} to @high{0.000}"), ("n", "@n")]))
    return fig


@reusable_item
def matrix_heatmap(values: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str], target: str,
                   title: str, value_label: str, low: float | None = None, high: float | None = None,
                   max_cell: int = 60) -> dict[str, Any]:
    """A labelled matrix (rows down, columns across) with hover; cells at most ``max_cell`` px wide."""
    from bokeh.embed import json_item

    return json_item(matrix_figure(values, row_labels, column_labels, title, value_label, low, high, max_cell), target)


def matrix_figure(values: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str], title: str,
                  value_label: str, low: float | None = None, high: float | None = None, max_cell: int = 60,
                  scale_width: bool = True):
    """The figure of ``matrix_heatmap`` (``scale_width=False`` keeps its size, e.g. inside a panel grid)."""
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.plotting import figure

    n_rows, n_columns = values.shape
    r, c = np.meshgrid(np.arange(n_rows), np.arange(n_columns), indexing="ij")
    scale = colour_scale(values, low, high)
    mapper = LinearColorMapper(palette=bokeh_palette(scale), low=scale.low, high=scale.high, nan_color=MISSING_COLOUR)
    source = ColumnDataSource({"row": [row_labels[i] for i in r.ravel()], "column": [column_labels[j] for j in c.ravel()],
                               "value": values.ravel().astype(np.float32)})
    cell = max(14, min(max_cell, 1000 // max(1, n_columns)))  # long token axes get narrower cells
    width = max(320, cell * n_columns + 200)
    sizing = {"sizing_mode": "scale_width", "max_width": width} if scale_width else {}
    fig = figure(x_range=list(column_labels), y_range=list(reversed(row_labels)), title=fit_title(title, width),
                 tools="save,reset",
                 width=width, height=max(240, 22 * n_rows + 120), **sizing)
    fig.rect(x="column", y="row", width=1, height=1, source=source, line_color=None,
             fill_color={"field": "value", "transform": mapper})
    fig.add_tools(HoverTool(tooltips=[("row", "@row"), ("column", "@column"), (value_label, "@value{0.000}")]))
    fig.xaxis.major_label_orientation = 0.8
    fig.grid.visible = False
    fig.add_layout(ColorBar(color_mapper=mapper, width=10, title=value_label), "right")
    return fig


@reusable_item
def scatter_by_layer(points: list[dict], target: str, x_label: str, y_label: str) -> dict[str, Any]:
    """One scatter per layer with its least-squares line and r in the title; a selector picks the layer.

    ``points[layer]`` has "x", "y", "label" lists and "slope", "intercept", "r", "p", "n".
    """
    from bokeh.embed import json_item
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool
    from bokeh.plotting import figure

    def titled(p):
        r = "undefined" if p["r"] is None else f"{p['r']:.3f}"
        pv = "" if p["p"] is None else f", p = {p['p']:.3g}"
        return f"Layer {p['layer']}: r = {r}{pv}, n = {p['n']}"

    def line(p):
        xs = [min(p["x"], default=0.0), max(p["x"], default=1.0)]
        if p["slope"] is None:
            return {"x": [], "y": []}
        return {"x": xs, "y": [p["intercept"] + p["slope"] * x for x in xs]}

    store = {str(p["layer"]): {"x": p["x"], "y": p["y"], "label": p["label"]} for p in points}
    lines = {str(p["layer"]): line(p) for p in points}
    titles = {str(p["layer"]): titled(p) for p in points}
    first = str(points[0]["layer"])
    dots, fit = ColumnDataSource(dict(store[first])), ColumnDataSource(dict(lines[first]))
    fig = figure(width=520, height=380, title=titles[first], x_axis_label=x_label, y_axis_label=y_label,
                 tools="pan,wheel_zoom,reset,save")
    fig.scatter("x", "y", source=dots, size=7, alpha=0.7)
    fig.line("x", "y", source=fit, color="#d62728", line_width=2)
    fig.add_tools(HoverTool(tooltips=[("part", "@label"), ("x", "@x{0.000}"), ("y", "@y{0.000}")]))
    select = page_select(title="Layer", value=first, options=list(store), name="atlas-scatter-layer")
    select.js_on_change("value", CustomJS(args=dict(dots=dots, fit=fit, store=store, lines=lines, titles=titles,
                                                    select=select, fig=fig), code="""
        dots.data = Object.assign({}, store[select.value]);
        fit.data = Object.assign({}, lines[select.value]);
        fig.title.text = titles[select.value];
    """))
    return json_item(column(select, fig), target)
