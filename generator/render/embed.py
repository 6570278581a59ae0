"""Bokeh documents ready for a page: stable model ids, and JSON that cannot close its <script>.

Bokeh numbers its models from one counter per process, so the same plot built twice (or the
same run built in another order) would get other ids. ``plot_item`` renames every model id
after the plot's own target (``<target>-0``, ``<target>-1``, ... in document order), so a
page's bytes depend only on what it shows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup

BOKEH_ID = re.compile(r"^p\d+$")


def stable_ids(item: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``json_item`` with model ids derived from its target, in order of first appearance."""
    target = item["target_id"]
    renamed: dict[str, str] = {}

    def rename(identifier: str) -> str:
        if not BOKEH_ID.match(identifier):
            return identifier
        return renamed.setdefault(identifier, f"{target}-{len(renamed)}")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rename(v) if k == "id" and isinstance(v, str) else walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):  # Bokeh's map entries are tuples
            return [walk(v) for v in value]
        return value

    doc = walk(item["doc"])  # ids are named in the document's order, then the root (already seen) maps
    return {**item, "doc": doc, "root_id": rename(item["root_id"])}


def script_json(data: Any) -> Markup:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' is left, so it cannot close it."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)  # key order matters to BokehJS
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


SELECT_HEIGHT = 56  # a Bokeh Select with its title, as drawn by the default theme


def layout_height(model: dict[str, Any]) -> int:
    """The height in pixels a Bokeh layout asks for, from its JSON (columns add, rows take the tallest)."""
    name, attributes = model.get("name"), model.get("attributes", {})
    if name == "Figure":
        return int(attributes.get("height") or 600)
    if name == "Select":
        return SELECT_HEIGHT
    if name == "Column":
        return sum(layout_height(child) for child in attributes.get("children", []))
    if name == "Row":
        return max((layout_height(child) for child in attributes.get("children", [])), default=0)
    if name == "GridPlot":  # children are [model, row, column]
        rows: dict[int, int] = {}
        for child, row, _column in attributes.get("children", []):
            rows[row] = max(rows.get(row, 0), layout_height(child))
        return sum(rows.values())
    return 0


def plot_item(item: dict[str, Any]) -> dict[str, Any]:
    """A Bokeh json_item as text that is safe inside a <script> element, with stable ids, and the height the
    page reserves for it (so that the page does not move under a permalink while plots are drawn)."""
    root = next((r for r in item["doc"]["roots"] if r.get("id") == item["root_id"]), item["doc"]["roots"][0])
    return {"kind": "document", "target": item["target_id"], "json": script_json(stable_ids(item)),
            "height": layout_height(root)}
