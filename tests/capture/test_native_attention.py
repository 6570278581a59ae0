"""The CPU fused kernel (C, compiled here) against a float64 reference and against eager attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.capture import attention, native_attention
from generator.capture.attention import CaptureError, CaptureOptions, capture_attention_batch
from generator.capture.native_attention import attention_with_summaries_cpu, key_tile
from tests.capture.attention_reference import CASES, causal, reference, summaries_match_eager
from tests.capture.test_architectures import ARCHITECTURES, build, eager, logits_plain_and_captured, padded_batch

FUSED = CaptureOptions(max_map_tokens=0, engine="fused")
KEY_TILE = key_tile()  # keys per tile in the compiled kernel
TILE_ROWS = 64  # at least BQ in the C source (32 or 48, by vector width)

# Larger than one tile of keys and one block of query rows, so tiles, rescaling and runs that
# cross tile edges are exercised: name: batch, heads, kv heads, queries, keys, head dim, segments, softcap
LONG_CASES = {
    "several-key-tiles": (1, 2, 1, 2 * KEY_TILE + 37, 2 * KEY_TILE + 37, 32, 5, None),
    "queries-after-a-long-prefix": (2, 4, 2, TILE_ROWS + 3, KEY_TILE + 100, 40, 3, None),
    "wide-head": (1, 1, 1, 300, 300, 128, 2, 30.0),
}


def assert_matches(got, expected):
    for label, a, b, tolerance in zip(["output", "mass", "entropy", "max weight"], got, expected,
                                      [1e-4, 1e-4, 1e-3, 1e-4]):
        assert a.shape == b.shape, label
        assert float((a.double() - b).abs().max()) <= tolerance, label


def random_inputs(batch, heads, kv_heads, n_q, n_k, dim, seed):
    g = torch.Generator().manual_seed(seed)
    # scores of a few units, as in trained models: peaked rows, where rescaling matters
    return [torch.randn(batch, h, n, dim, generator=g) * scale
            for h, n, scale in [(heads, n_q, 2.0), (kv_heads, n_k, 1.0), (kv_heads, n_k, 1.0)]]


@pytest.mark.parametrize("name", sorted(CASES) + sorted(LONG_CASES))
@pytest.mark.parametrize("with_mask", [False, True])
def test_kernel_matches_float64_reference(name, with_mask):
    batch, heads, kv_heads, n_q, n_k, dim, n_seg, softcap = {**CASES, **LONG_CASES}[name]
    q, k, v = random_inputs(batch, heads, kv_heads, n_q, n_k, dim, seed=len(name))
    g = torch.Generator().manual_seed(7)
    segment_ids = torch.randint(-1, n_seg, (batch, n_k), generator=g)
    if name in ("runs", "several-key-tiles"):  # runs of tokens, some crossing key tiles, one of no segment
        bounds = np.linspace(0, n_k, n_seg + 2).astype(int)
        segment_ids = torch.tensor(np.repeat(np.arange(-1, n_seg), np.diff(bounds)))[None].expand(batch, -1)
    allowed = causal(n_q, n_k, batch)
    got = attention_with_summaries_cpu(q, k, v, segment_ids, n_seg, allowed if with_mask else None, dim ** -0.5,
                                       softcap)
    assert_matches(got, reference(q, k, v, segment_ids, n_seg, allowed, dim ** -0.5, softcap))


def test_padding_rows_a_window_and_a_non_causal_mask():
    """Left padding (rows that see nothing get zeros), a sliding window that hides whole key
    tiles, and a bidirectional prefix (no causal skipping)."""
    n = KEY_TILE * 2 + 20
    q, k, v = random_inputs(3, 2, 2, n, n, 16, seed=1)
    segment_ids = torch.randint(0, 3, (3, n), generator=torch.Generator().manual_seed(2))
    allowed = causal(n, n, 3)
    allowed[0, :, :, :40] = False
    allowed[0, :, :40, :] = False  # sequence 0 is left-padded by 40
    allowed[1] &= torch.ones(n, n, dtype=torch.bool).triu(-100)  # a window of 101 keys
    allowed[2, :, :300, :300] = True  # sequence 2 sees its first 300 tokens both ways
    got = attention_with_summaries_cpu(q, k, v, segment_ids, 3, allowed, 0.25, causal=False)
    assert_matches(got, reference(q, k, v, segment_ids, 3, allowed, 0.25))
    assert float(got[0][0, :40].abs().max()) == 0.0 and float(got[3][0, :, :40].abs().max()) == 0.0
    windowed = attention_with_summaries_cpu(q, k, v, segment_ids, 3, allowed, 0.25, causal=True)
    assert_matches([t[1] for t in windowed], [t[1] for t in reference(q, k, v, segment_ids, 3, allowed, 0.25)])


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_model_capture_with_the_kernel_matches_eager(name):
    model = build(name)
    lengths, width = [13, 8], 13
    input_ids, attention_mask = padded_batch(lengths, width)
    segments = [np.array([0] * 4 + [1] * (n - 6) + [2] * 2) for n in lengths]
    captures = capture_attention_batch(model, input_ids, attention_mask, segments, FUSED)
    maps, _ = eager(model, input_ids, attention_mask)
    for row, n in enumerate(lengths):
        real = slice(width - n, width)
        summaries_match_eager(captures[row], maps[row][:, :, real, real], segments[row])


@pytest.mark.parametrize("name", ["llama-gqa", "gemma2-softcap"])
def test_kernel_output_keeps_logits(name):
    from generator.capture import PassRecorder

    model = build(name)
    input_ids, attention_mask = padded_batch([12, 9], 12)
    recorder = PassRecorder(torch.zeros(2, 12, 1), FUSED, 12)
    expected, got = logits_plain_and_captured(model, recorder, input_ids, attention_mask)
    real = attention_mask.bool()
    assert torch.allclose(expected[real], got[real], atol=1e-4)
    assert len(recorder.by_layer) == model.config.num_hidden_layers


CACHED = (native_attention._library, native_attention.unavailable_reason, attention.fused_kernel_problem,
          attention._warn_once)


@pytest.fixture
def no_compiler(monkeypatch, tmp_path):
    """As on a machine whose compiler fails: a fresh cache, and ``false`` as the compiler."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    for cached in CACHED:
        cached.cache_clear()
    yield
    monkeypatch.undo()
    for cached in CACHED:
        cached.cache_clear()


def test_without_a_compiler_fused_is_refused_and_auto_falls_back(no_compiler):
    model = build("llama-gqa")
    input_ids, attention_mask = padded_batch([10], 10)
    segments = [np.zeros(10, dtype=int)]
    with pytest.raises(CaptureError, match="the CPU kernel could not be built: false could not build"):
        capture_attention_batch(model, input_ids, attention_mask, segments, FUSED)
    with pytest.warns(RuntimeWarning, match="slower PyTorch pass, same numbers"):
        (capture,) = capture_attention_batch(model, input_ids, attention_mask, segments,
                                             CaptureOptions(max_map_tokens=0))
    maps, _ = eager(model, input_ids, attention_mask)
    summaries_match_eager(capture, maps[0], segments[0])


def test_segment_ids_beyond_the_count_are_refused():
    q, k, v = random_inputs(1, 1, 1, 5, 5, 8, seed=0)
    with pytest.raises(ValueError, match="segment id 3 given for 3 segments"):
        attention_with_summaries_cpu(q, k, v, torch.tensor([[0, 1, 2, 3, 0]]), 3, None, 0.5)


def test_auto_takes_the_kernel_on_the_cpu_for_layers_without_maps():
    from generator.capture import PassRecorder

    query = torch.zeros(1, 2, 4, 8)
    assert PassRecorder(torch.zeros(1, 4, 1), CaptureOptions(max_map_tokens=0), 4).fuses(0, query, None)
    assert not PassRecorder(torch.zeros(1, 4, 1), CaptureOptions(), 4).fuses(0, query, None)  # keeps every map
    assert not PassRecorder(torch.zeros(1, 4, 1), CaptureOptions(max_map_tokens=0, engine="torch"), 4).fuses(
        0, query, None)
    additive = torch.zeros(1, 1, 4, 4)
    assert not PassRecorder(torch.zeros(1, 4, 1), CaptureOptions(max_map_tokens=0), 4).fuses(0, query, additive)
