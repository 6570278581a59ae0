"""The one intervention loop: batches bounded by batch_size, results row by row, the same at any batch size;
and no analysis writes its own loop or borrows another analysis's helpers."""

import ast
import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from generator.analyses.interventions import intervene, unedited
from generator.analyses.scoring import answer_measure, last_logits_measure
from generator.capture.interventions import Site, edited
from tests.conftest import tiny_llama

ANALYSES = Path(__file__).resolve().parents[2] / "generator" / "analyses"
SHARED = {"base", "interventions", "scoring", "prompting", "statistics"}  # what analyses may share


def test_rows_go_through_in_chunks_of_at_most_batch_size_and_come_back_in_order():
    seen = []

    @contextlib.contextmanager
    def edit(chunk):
        seen.append(list(chunk))
        yield

    values, doubled = intervene(list(range(7)), edit, lambda n: (np.arange(n), torch.arange(n) * 2), batch_size=3)
    assert seen == [[0, 1, 2], [3, 4, 5], [6]]
    assert values.tolist() == [0, 1, 2, 0, 1, 2, 0] and doubled.tolist() == [0, 2, 4, 0, 2, 4, 0]
    assert intervene([], edit, lambda n: (np.arange(n),), batch_size=3) == ()
    with pytest.raises(ValueError, match="batch_size must be positive"):
        intervene([1], edit, lambda n: (np.arange(n),), batch_size=0)


def test_an_edited_batch_scores_like_each_row_alone():
    """Zeroing one position per row at layer 1: batched and one by one agree, and differ from unedited."""
    model = tiny_llama()
    ids = [1, 5, 9, 13, 17, 21, 25]
    start = 5
    measure = answer_measure(model, ids, start)

    def zeroed(chunk):
        def edit(hidden):
            hidden = hidden.clone()
            for row, position in enumerate(chunk):
                hidden[row, position] = 0
            return hidden
        return edited(model, [(Site(1, "resid_pre"), edit)])

    positions = [0, 1, 2, 3, 4]
    batched = intervene(positions, zeroed, measure, batch_size=4)
    alone = intervene(positions, zeroed, measure, batch_size=1)
    np.testing.assert_allclose(batched[0], alone[0], atol=1e-5)
    assert (batched[1] == alone[1]).all()
    (base,), _ = intervene([None], unedited, measure, 1)
    assert not np.allclose(batched[0], base)
    (last,) = intervene(positions, zeroed, last_logits_measure(model, ids), batch_size=2)
    assert last.shape == (5, model.config.vocab_size)


def test_no_analysis_writes_its_own_batch_loop_or_imports_a_sibling():
    for path in sorted(ANALYSES.glob("*.py")):
        if path.stem in SHARED or path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text())
        siblings = {node.module.rsplit(".", 1)[1] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generator.analyses.")}
        assert siblings <= SHARED, f"{path.name} imports analyses {sorted(siblings - SHARED)}"
        loops = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.For)
                 and isinstance(node.iter, ast.Call) and getattr(node.iter.func, "id", "") == "range"
                 and "batch" in ast.unparse(node.iter)]
        assert not loops, f"{path.name}:{loops}: a batch loop of its own (use analyses.interventions.intervene)"
