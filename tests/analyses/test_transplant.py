"""Attention transplantation: one's own weights change nothing; a layer's transplant acts from that layer on."""

from __future__ import annotations

import numpy as np
import pytest

from generator.analyses.transplant import record, transplant_rows
from tests.conftest import REPO_ROOT, one_head_llama, tiny_llama

A = [1, 17, 5, 33, 8, 21, 40, 12, 3]
B = [1, 18, 5, 30, 8, 22, 40, 11, 3]


@pytest.fixture(scope="module")
def model():
    return tiny_llama(num_layers=3, num_heads=4, num_kv_heads=2, seed=9)


def test_recorded_weights_are_the_models_own_eager_attention(model):
    import torch

    weights = record(model, A)
    model.config._attn_implementation = "eager"
    with torch.no_grad():
        eager = model(input_ids=torch.tensor([A]), output_attentions=True).attentions
    for layer in range(3):
        np.testing.assert_allclose(weights[layer].numpy(), eager[layer].numpy(), atol=1e-6)


def test_a_runs_own_weights_change_nothing_and_anothers_change_the_output(model):
    import torch

    with torch.no_grad():
        base = model(input_ids=torch.tensor([A]), use_cache=False).logits[0, -1]
    own = transplant_rows(model, A, record(model, A), range(3))
    np.testing.assert_allclose(own.numpy(), base.expand(4, -1).numpy(), atol=1e-5)
    other = transplant_rows(model, A, record(model, B), range(3))
    assert all(float((other[row] - base).abs().max()) > 1e-4 for row in range(4))


def test_a_transplant_at_the_last_layer_leaves_earlier_layers_alone(model):
    """What enters the last layer is unchanged when only the last layer's attention is replaced."""
    import torch

    from generator.capture.interventions import Site, recording
    from generator.capture.transplant import attention_transplanted

    donor = record(model, B)
    site = Site(2, "resid_pre")
    with torch.no_grad(), recording(model, [site]) as plain:
        model(input_ids=torch.tensor([A]), use_cache=False)
    with torch.no_grad(), recording(model, [site]) as moved, attention_transplanted(model, donor, [{2}]):
        model(input_ids=torch.tensor([A]), use_cache=False)
    np.testing.assert_allclose(moved[site].numpy(), plain[site].numpy(), atol=1e-6)


def test_decimals_both_ways_through_a_run_and_a_page(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from generator.results.transplant import TransplantExample, TransplantSummary
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "moved", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"), "analyses": {"transplant": {"heads": True}},
        "datasets": [{"name": "decimals", "path": str(REPO_ROOT / "data/datasets/decimals.jsonl"), "limit": 8}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    summary = run.summary("decimals", TransplantSummary)
    informative = [i for i in run.example_ids("decimals")
                   if run.result("decimals", i, TransplantExample).informative[0] == 1.0]
    assert summary.informative_items == len(informative) > 0  # the planted bug: P: and Q: answers differ
    assert summary.rows[-1] == "all layers" and len(summary.flip_rate) == 5
    # the shipped model's planted bug travels in layer 2's attention pattern: moving it flips the
    # answer both ways, and so does moving every layer's; layers 0 and 3 carry none of it
    assert summary.flip_rate[2] == summary.flip_rate[4] == (1.0, 1.0)
    assert summary.flip_rate[0] == summary.flip_rate[3] == (0.0, 0.0)
    heads = np.array(summary.head_flip_rate)  # [layer, head, direction]
    assert heads.shape == (4, 4, 2) and heads[0].max() == heads[3].max() == 0.0  # no single head outside layer 2's
    assert run.result("decimals", informative[0], TransplantExample).head_flips.shape == (4, 4, 2)
    site = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = (site / "runs/moved/decimals/index.html").read_text()
    assert "Attention transplantation" in page and "Each head&#39;s weights alone" in page.replace("'", "&#39;")
    assert (site / "runs/moved/decimals/figures/transplant-heads-into-clean.pdf").is_file()


def test_batches_and_a_subset_of_layers_give_the_same_rows(model):
    donor = record(model, B)
    whole = transplant_rows(model, A, donor, range(3), batch_size=64)
    np.testing.assert_allclose(transplant_rows(model, A, donor, range(3), batch_size=1).numpy(), whole.numpy(),
                               atol=1e-5)
    only = record(model, B, layers=[1, 2])
    assert set(only) == {1, 2}
    subset = transplant_rows(model, A, only, [1, 2], batch_size=2)  # layer 1, layer 2, then both together
    np.testing.assert_allclose(subset[:2].numpy(), whole[1:3].numpy(), atol=1e-5)
    np.testing.assert_allclose(transplant_rows(model, A, B, [1, 2], batch_size=2).numpy(), subset.numpy(), atol=1e-5)


def test_a_layer_the_model_lacks_is_named_before_any_example(model):
    from generator.analyses.base import AnalysisError
    from generator.analyses.transplant import TransplantAnalysis, TransplantOptions

    with pytest.raises(AnalysisError, match=r"analyses\.transplant\.layers\[1\]: layer 9 is out of range"):
        TransplantAnalysis().check_model(model, TransplantOptions(layers=(0, 9)))


def test_a_single_heads_transplant_changes_only_what_that_head_writes():
    """A hand-set model whose output projection ignores every head but one: transplanting any other head's
    weights leaves the logits exactly as they were; transplanting that head's changes them."""
    import torch

    from generator.analyses.transplant import transplanted_logits

    only = (1, 2)
    model = one_head_llama(only)
    with torch.no_grad():
        base = model(input_ids=torch.tensor([A]), use_cache=False).logits[0, -1]
    specs = [{(layer, head)} for layer in range(2) for head in range(4)]
    moved = transplanted_logits(model, A, B, specs, batch_size=3)
    for (layer, head), row in zip([(l, h) for l in range(2) for h in range(4)], moved):
        changed = float((row - base).abs().max())
        assert (changed > 1e-4) if (layer, head) == only else (changed < 1e-5), (layer, head, changed)
    every_head = transplanted_logits(model, A, B, [{(1, h) for h in range(4)}, {1}])
    np.testing.assert_allclose(every_head[0].numpy(), every_head[1].numpy(), atol=1e-5)  # all heads = the layer


def test_blocks_of_query_rows_give_the_same_logits(model, monkeypatch):
    """Long traces run the transplanted attention in blocks of query rows; the blocks change no number."""
    import generator.capture.transplant as transplant

    whole = transplant_rows(model, A, B, range(3), batch_size=4)
    monkeypatch.setattr(transplant, "BLOCK_BYTES", 1)  # one query row per block
    np.testing.assert_allclose(transplant_rows(model, A, B, range(3), batch_size=4).numpy(), whole.numpy(), atol=1e-5)
    np.testing.assert_allclose(transplant_rows(model, A, record(model, B), range(3)).numpy(), whole.numpy(), atol=1e-5)
