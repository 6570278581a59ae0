import numpy as np
import pytest
import torch

from generator.capture.attention import CaptureError, capture_attention, fused_kernel_problem
from tests.capture.test_architectures import eager
from tests.conftest import tiny_llama


def eager_reference(model, input_ids):
    """Eager ``output_attentions`` maps of one sequence: [layer, head, query, key]."""
    return eager(model, input_ids, torch.ones_like(input_ids))[0][0]


@pytest.mark.parametrize("num_heads,num_kv_heads", [(4, 4), (4, 2)])
def test_capture_matches_eager_output_attentions(num_heads, num_kv_heads):
    model = tiny_llama(num_layers=3, num_heads=num_heads, num_kv_heads=num_kv_heads)
    input_ids = torch.randint(0, 64, (1, 23), generator=torch.Generator().manual_seed(1))
    segment_ids = np.array([0] * 8 + [1] * 10 + [2] * 5)
    captured = capture_attention(model, input_ids, segment_ids, 3, keep_maps=True)
    reference = eager_reference(model, input_ids)

    assert captured.maps.shape == (3, num_heads, 23, 23)
    assert np.abs(captured.maps - reference).max() <= 1e-5
    expected_mass = np.stack([reference[..., segment_ids == s].sum(-1) for s in range(3)], -1)
    assert np.abs(captured.segment_mass - expected_mass).max() <= 1e-5
    p = reference
    expected_entropy = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(-1)
    assert np.abs(captured.entropy - expected_entropy).max() <= 1e-5
    assert np.abs(captured.max_weight - reference.max(-1)).max() <= 1e-5


def test_capture_leaves_model_as_it_was():
    model = tiny_llama()
    before = model.config._attn_implementation
    capture_attention(model, torch.tensor([[1, 2, 3]]), np.array([0, 0, 0]), 1, keep_maps=False)
    assert model.config._attn_implementation == before


def test_capture_does_not_change_model_output():
    model = tiny_llama()
    input_ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        expected = model(input_ids=input_ids).logits
    from generator.capture.attention import capturing

    with capturing(model, None), torch.no_grad():
        got = model(input_ids=input_ids).logits
    assert torch.allclose(expected, got, atol=1e-5)


def test_tokens_outside_segments_carry_no_mass():
    model = tiny_llama()
    captured = capture_attention(model, torch.tensor([[1, 2, 3, 4]]), np.array([-1, 0, 0, 0]), 1, keep_maps=True)
    np.testing.assert_allclose(captured.segment_mass[..., 0], captured.maps[..., 1:].sum(-1), atol=1e-6)


def test_batches_are_refused_with_a_clear_message():
    model = tiny_llama()
    with pytest.raises(ValueError, match="one sequence"):
        capture_attention(model, torch.zeros(2, 3, dtype=torch.long), np.zeros(3, dtype=int), 1, keep_maps=False)


def test_attention_sinks_are_refused():
    from generator.capture.attention import _capturing_attention

    q = torch.zeros(1, 2, 3, 4)
    with pytest.raises(CaptureError, match="attention sinks"):
        _capturing_attention(torch.nn.Module(), q, q, q, None, s_aux=torch.zeros(2))


def test_cuda_without_triton_is_explained(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert "needs Triton" in fused_kernel_problem.__wrapped__("cuda")
    assert fused_kernel_problem.__wrapped__("mps") == "no fused kernel for mps devices"
