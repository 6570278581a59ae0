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


def plot_item(item: dict[str, Any]) -> dict[str, str]:
    """A Bokeh json_item as text that is safe inside a <script> element, with stable ids."""
    return {"kind": "document", "target": item["target_id"], "json": script_json(stable_ids(item))}
