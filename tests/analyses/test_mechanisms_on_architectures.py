"""The mechanism analyses' machinery on small random models of several architectures, sliding windows and
soft-capping included, with sequences longer than the window: each is checked against the model itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.analyses.head_ablation import ablate_each_head
from generator.analyses.transplant import record, transplant_rows
from tests.capture.test_architectures import ARCHITECTURES, VOCAB, build

IDS = torch.randint(0, VOCAB, (14,), generator=torch.Generator().manual_seed(1)).tolist()  # longer than the windows
OTHER = torch.randint(0, VOCAB, (14,), generator=torch.Generator().manual_seed(2)).tolist()


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_recorded_weights_are_the_eager_attention_and_own_weights_change_nothing(name):
    model = build(name)
    weights = record(model, IDS)
    model.set_attn_implementation("eager")
    with torch.no_grad():
        out = model(input_ids=torch.tensor([IDS]), output_attentions=True, use_cache=False)
    for layer, expected in enumerate(out.attentions):
        np.testing.assert_allclose(weights[layer][0].numpy(), expected[0].numpy(), atol=1e-5)
    n_layers = model.config.num_hidden_layers
    own = transplant_rows(model, IDS, weights, range(n_layers), batch_size=2)
    np.testing.assert_allclose(own.numpy(), out.logits[0, -1].expand(n_layers + 1, -1).numpy(), atol=1e-4)
    other = transplant_rows(model, IDS, record(model, OTHER), range(n_layers))
    assert float((other[-1] - out.logits[0, -1]).abs().max()) > 1e-4
    # the donor run beside its recipients in the same batch (nothing kept) gives the same logits
    in_batch = transplant_rows(model, IDS, OTHER, range(n_layers), batch_size=3)
    np.testing.assert_allclose(in_batch.numpy(), other.numpy(), atol=1e-4)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_head_ablation_batches_agree_and_every_head_is_reached(name):
    model = build(name)
    one, _, (base, _) = ablate_each_head(model, IDS, 10, batch_size=1)
    many, _, _ = ablate_each_head(model, IDS, 10, batch_size=5)
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert (np.abs(one - base) > 0).mean() > 0.5  # a random model's heads all write something


@pytest.mark.parametrize("name", ["llama-gqa", "qwen2", "mistral-sliding-window"])
def test_logit_attribution_sums_to_the_logit_past_the_window(name):
    from generator.analyses.logit_attribution import attribute

    parts = attribute(build(name), IDS, 12, heads=True, by_token=True)
    total = parts["embedding"].sum() + parts["attention"].sum() + parts["mlp"].sum()
    assert total == pytest.approx(float(parts["logit"][0]), abs=1e-3)
    np.testing.assert_allclose(parts["heads"].sum(axis=1), parts["attention"], atol=1e-3)
    # each layer's attention contribution, split by source token, sums back to it; nothing comes from the future
    np.testing.assert_allclose(parts["by_token"].sum(axis=1), parts["attention"], atol=1e-3)
    assert np.abs(parts["by_token"][:, 12:]).max() == 0
    if name == "mistral-sliding-window":  # window 5: only the last five positions up to 11 are seen
        assert np.abs(parts["by_token"][:, :7]).max() == 0 and np.abs(parts["by_token"][:, 7:12]).min() > 0
