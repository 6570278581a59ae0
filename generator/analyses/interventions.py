"""The one batched intervention loop: edit the model for a batch of rows, run it, measure; repeat.

Every causal analysis (ablation, knockout, compositional ablation, head ablation, patching,
transplantation) is this loop with its own rows (what each batch row changes), its own edit
(a context manager that changes the model for those rows: hooks from ``capture``) and a
measure from ``scoring`` (the answer's log-probability, or the last position's logits). How
many rows share a forward pass is bounded here and nowhere else, by each analysis's
``batch_size`` option.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Callable, Sequence, TypeVar

import numpy as np

from generator.analyses.base import AnalysisError
from generator.store.records import Trajectory

Row = TypeVar("Row")
Edit = Callable[[Sequence[Row]], AbstractContextManager]
Measure = Callable[[int], tuple]  # rows -> per-row arrays (numpy or torch), each of length ``rows``


def intervene(rows: Sequence[Row], edit: Edit, measure: Measure, batch_size: int) -> tuple:
    """``measure`` of the model under ``edit(chunk)`` for consecutive chunks of at most ``batch_size`` rows,
    concatenated row by row (one array per value the measure returns; empty arrays for no rows)."""
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    outputs = []
    with torch.no_grad():
        for first in range(0, len(rows), batch_size):
            chunk = rows[first:first + batch_size]
            with edit(chunk):
                outputs.append(measure(len(chunk)))
    if not outputs:
        return ()
    return tuple(torch.cat(parts) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts)
                 for parts in zip(*outputs))


def unedited(chunk: Sequence) -> AbstractContextManager:
    """The edit that changes nothing (a baseline through the same loop)."""
    return contextlib.nullcontext()


def parts_of(trajectory: Trajectory, parts: str) -> list[tuple[str, np.ndarray]]:
    """(label, token positions) of each part to intervene on: the reasoning steps (``steps``), or each
    token of one segment (``tokens:<segment name>``)."""
    if parts == "steps":
        return [(s.name, np.arange(s.start, s.end)) for s in trajectory.segments if s.is_reasoning]
    if parts.startswith("tokens:"):
        try:
            segment = trajectory.segment(parts.split(":", 1)[1])
        except KeyError as exc:
            raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: analyses.ablation.parts: "
                                f"{exc.args[0]}") from exc
        return [(f"{segment.name} #{i}", np.array([i])) for i in range(segment.start, segment.end)]
    raise AnalysisError(f"analyses.ablation.parts: expected 'steps' or 'tokens:<segment name>', got {parts!r}")
