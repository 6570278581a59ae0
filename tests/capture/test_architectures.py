"""Capture against eager ``output_attentions=True`` on small random models of several architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.capture.attention import CaptureError, CaptureOptions, capture_attention_batch, capturing

VOCAB = 50


def build(name: str):
    import transformers as tf

    torch.manual_seed(0)
    common = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                  num_attention_heads=4, max_position_embeddings=128)
    if name == "llama-gqa":
        model = tf.LlamaForCausalLM(tf.LlamaConfig(**common, num_key_value_heads=2))
    elif name == "qwen2":
        model = tf.Qwen2ForCausalLM(tf.Qwen2Config(**common, num_key_value_heads=2))
    elif name == "mistral-sliding-window":
        model = tf.MistralForCausalLM(tf.MistralConfig(**common, num_key_value_heads=2, sliding_window=5))
    elif name == "gemma2-softcap":
        model = tf.Gemma2ForCausalLM(tf.Gemma2Config(
            **common, num_key_value_heads=2, head_dim=8, sliding_window=4, attn_logit_softcapping=5.0,
            final_logit_softcapping=30.0, query_pre_attn_scalar=8))
    elif name == "gpt2":
        model = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=3, n_head=4, n_positions=128))
    else:
        raise KeyError(name)
    return model.float().eval()


ARCHITECTURES = ["llama-gqa", "qwen2", "mistral-sliding-window", "gemma2-softcap", "gpt2"]


def eager(model, input_ids, attention_mask):
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True, use_cache=False)
    finally:
        model.set_attn_implementation(previous)
    return torch.stack(out.attentions, 1).numpy(), out.logits  # [batch, layer, head, q, k]


def logits_plain_and_captured(model, recorder, input_ids, attention_mask):
    """The model's logits without the capture, then with its attention routed through ``recorder``."""
    with torch.no_grad():
        expected = model(input_ids=input_ids, attention_mask=attention_mask).logits
        with capturing(model, recorder):
            got = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return expected, got


def padded_batch(lengths, width, generator_seed=3):
    g = torch.Generator().manual_seed(generator_seed)
    input_ids = torch.randint(1, VOCAB, (len(lengths), width), generator=g)
    attention_mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        attention_mask[row, width - n:] = 1  # left padding, as for generation
    return input_ids, attention_mask


def check_against(capture, reference, segments):
    """``reference`` is [layer, head, q, k] over real tokens only."""
    n_seg = segments.max() + 1
    expected_mass = np.stack([reference[..., segments == s].sum(-1) for s in range(n_seg)], -1)
    p = reference
    expected_entropy = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)).sum(-1)
    assert np.abs(capture.maps - reference).max() <= 1e-4
    assert np.abs(capture.segment_mass - expected_mass).max() <= 1e-4
    assert np.abs(capture.max_weight - reference.max(-1)).max() <= 1e-4
    assert np.abs(capture.entropy - expected_entropy).max() <= 1e-3


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_single_sequence_matches_eager(name):
    model = build(name)
    input_ids, attention_mask = padded_batch([14], 14)
    segments = np.array([0] * 5 + [1] * 6 + [2] * 3)
    (capture,) = capture_attention_batch(model, input_ids, attention_mask, [segments])
    reference, _ = eager(model, input_ids, attention_mask)
    check_against(capture, reference[0], segments)


@pytest.mark.parametrize("name", ["llama-gqa", "mistral-sliding-window", "gemma2-softcap"])
def test_left_padded_batch_matches_eager_on_the_same_batch(name):
    model = build(name)
    lengths, width = [13, 8], 13
    input_ids, attention_mask = padded_batch(lengths, width)
    segments = [np.array([0] * 4 + [1] * (n - 4)) for n in lengths]
    captures = capture_attention_batch(model, input_ids, attention_mask, segments)
    reference, _ = eager(model, input_ids, attention_mask)
    for row, n in enumerate(lengths):
        real = slice(width - n, width)
        check_against(captures[row], reference[row][:, :, real, real], segments[row])


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_capture_leaves_logits_unchanged(name):
    model = build(name)
    input_ids, attention_mask = padded_batch([12, 9], 12)
    expected, got = logits_plain_and_captured(model, None, input_ids, attention_mask)
    assert torch.allclose(expected, got, atol=1e-4)


def test_small_block_budget_gives_the_same_numbers():
    model = build("llama-gqa")
    input_ids, attention_mask = padded_batch([30], 30)
    segments = np.array([0] * 10 + [1] * 20)
    (whole,) = capture_attention_batch(model, input_ids, attention_mask, [segments])
    (blocked,) = capture_attention_batch(model, input_ids, attention_mask, [segments],
                                         CaptureOptions(block_bytes=1, block_bytes_floor=1))  # one query row per block
    np.testing.assert_allclose(whole.segment_mass, blocked.segment_mass, atol=1e-6)
    np.testing.assert_allclose(whole.maps, blocked.maps, atol=1e-6)


def test_long_sequences_keep_pooled_maps_for_requested_heads_only():
    model = build("qwen2")
    n = 40
    input_ids, attention_mask = padded_batch([n], n)
    segments = np.zeros(n, dtype=int)
    options = CaptureOptions(max_map_tokens=16, map_heads=((0, 1), (2, 3)), pooled_map_size=8, block_bytes=2000, block_bytes_floor=1)
    (capture,) = capture_attention_batch(model, input_ids, attention_mask, [segments], options)
    reference, _ = eager(model, input_ids, attention_mask)
    assert capture.maps is None
    assert capture.pooled_heads.tolist() == [[0, 1], [2, 3]]
    edges = capture.pooled_edges
    assert edges.tolist() == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    for index, (layer, head) in enumerate(capture.pooled_heads):
        full = reference[0, layer, head]
        for i in range(8):
            for j in range(8):
                block = full[edges[i]:edges[i + 1], edges[j]:edges[j + 1]]
                assert abs(capture.pooled_mean[index, i, j] - block.mean()) <= 1e-5
                assert abs(capture.pooled_max[index, i, j] - block.max()) <= 1e-5


def test_unsupported_attention_is_refused_by_name():
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=4)).eval()
    model._can_set_attn_implementation = lambda: False  # as for a model with its own attention code
    with pytest.raises(CaptureError, match="LlamaForCausalLM does not dispatch attention"):
        capture_attention_batch(model, torch.tensor([[1, 2]]), torch.tensor([[1, 1]]), [np.array([0, 0])])


@pytest.mark.parametrize("engine", ["torch", "auto"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_logits_while_recording_match_the_plain_model(name, engine):
    """In float32 the recorder also computes each layer's output; it must equal the model's own."""
    from generator.capture import PassRecorder

    model = build(name)
    input_ids, attention_mask = padded_batch([12, 9], 12)
    recorder = PassRecorder(torch.zeros(2, 12, 1), CaptureOptions(max_map_tokens=0, engine=engine), 12)
    expected, got = logits_plain_and_captured(model, recorder, input_ids, attention_mask)
    valid = attention_mask.bool()
    assert torch.allclose(expected[valid], got[valid], atol=1e-4)


@pytest.mark.parametrize("engine", ["torch", "auto"])
def test_half_precision_keeps_the_models_own_kernel_output(engine):
    from generator.capture import PassRecorder

    model = build("llama-gqa").to(torch.bfloat16)
    input_ids, attention_mask = padded_batch([10], 10)
    recorder = PassRecorder(torch.zeros(1, 10, 1), CaptureOptions(max_map_tokens=0, engine=engine), 10)
    expected, got = logits_plain_and_captured(model, recorder, input_ids, attention_mask)
    assert torch.equal(expected, got)
    assert sorted(recorder.by_layer) == [0, 1, 2]


def test_padded_batch_maps_survive_many_blocks():
    """Full-width blocks (padding masks) must not alias the reusable score buffer."""
    model = build("llama-gqa")
    lengths, width = [20, 14], 20
    input_ids, attention_mask = padded_batch(lengths, width)
    segments = [np.zeros(n, dtype=int) for n in lengths]
    captures = capture_attention_batch(model, input_ids, attention_mask, segments,
                                       CaptureOptions(block_bytes=1, block_bytes_floor=1))
    reference, _ = eager(model, input_ids, attention_mask)
    for row, n in enumerate(lengths):
        real = slice(width - n, width)
        assert np.abs(captures[row].maps - reference[row][:, :, real, real]).max() <= 1e-4
