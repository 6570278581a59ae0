"""Page sections of the analyses, one module per analysis, registered for the page kinds that show them.

A section function reads what its analysis stored and returns a template name and context,
or None when the run has nothing for it; registering one is all it takes to add a section.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from generator.registry import Registry
from generator.store.records import Trajectory
from generator.store.run_directory import Run


DatasetSection = Callable[["object", Run, str, list[Trajectory], str], dict[str, Any] | None]
ExampleSection = Callable[["object", Run, Trajectory, str], dict[str, Any] | None]
DATASET_SECTIONS: Registry[DatasetSection] = Registry("dataset section")
EXAMPLE_SECTIONS: Registry[ExampleSection] = Registry("example section")


def embed(item: dict) -> dict[str, str]:
    """A Bokeh json_item ready for a page."""
    from generator.render.pages import plot_item

    return plot_item(item)


def stored_result(run: Run, trajectory: Trajectory, analysis: str) -> tuple[dict, dict] | None:
    """An example's tensors of ``analysis`` and the dataset's summary of it, or None if it did not run."""
    if not run.has_tensors(trajectory.dataset, trajectory.example_id, analysis):
        return None
    return (run.tensors(trajectory.dataset, trajectory.example_id, analysis),
            run.dataset_result(trajectory.dataset, analysis) or {})


def format_number(value, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}g}"
