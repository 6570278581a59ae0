"""The fused Triton kernel against a float64 reference and against eager attention.

On a machine without CUDA the kernel runs in Triton's interpreter (``TRITON_INTERPRET=1``,
set here before the kernel module is imported), so CI checks the kernel's arithmetic; on a
GPU the same tests run compiled, plus a bfloat16 check.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
if not HAS_CUDA:
    os.environ["TRITON_INTERPRET"] = "1"
triton = pytest.importorskip("triton")
if not HAS_CUDA and tuple(int(x) for x in triton.__version__.split(".")[:2]) < (3, 9):
    pytest.skip("Triton's interpreter needs triton>=3.9 with NumPy 2", allow_module_level=True)

from generator.capture import attention  # noqa: E402
from generator.capture.attention import CaptureOptions, capture_attention_batch  # noqa: E402
from generator.capture.fused_attention import attention_with_summaries  # noqa: E402
from tests.capture.attention_reference import CASES, causal, reference, summaries_match_eager  # noqa: E402
from tests.capture.test_architectures import (  # noqa: E402
    ARCHITECTURES, build, eager, logits_plain_and_captured, padded_batch)

DEVICE = "cuda" if HAS_CUDA else "cpu"
FUSED = CaptureOptions(max_map_tokens=0, engine="fused")


@pytest.fixture
def triton_engine(monkeypatch):
    """Captures in these tests take the Triton kernel, on the CPU too (in the interpreter)."""
    monkeypatch.setattr(attention, "fused_kernel", lambda device_type: attention_with_summaries)
    monkeypatch.setattr(attention, "fused_kernel_problem", lambda device_type: None)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("with_mask", [False, True])
def test_kernel_matches_float64_reference(name, with_mask):
    batch, heads, kv_heads, n_q, n_k, dim, n_seg, softcap = CASES[name]
    g = torch.Generator(device=DEVICE).manual_seed(len(name))
    q, k, v = (torch.randn(batch, h, n, dim, generator=g, device=DEVICE)
               for h, n in [(heads, n_q), (kv_heads, n_k), (kv_heads, n_k)])
    segment_ids = torch.randint(-1, n_seg, (batch, n_k), generator=g, device=DEVICE)
    if name == "runs":  # segments as runs of tokens, one of no segment: whole key blocks in one segment
        segment_ids = torch.tensor([-1] * 9 + [0] * 30 + [1] * 18 + [2] * 13, device=DEVICE)[None]
    allowed = causal(n_q, n_k, batch, DEVICE)
    got = attention_with_summaries(q, k, v, segment_ids, n_seg, allowed if with_mask else None, dim ** -0.5, softcap)
    expected = reference(q, k, v, segment_ids, n_seg, allowed, dim ** -0.5, softcap)
    for label, a, b, tolerance in zip(["output", "mass", "entropy", "max weight"], got, expected,
                                      [1e-4, 1e-4, 1e-3, 1e-4]):
        assert a.shape == b.shape, label
        assert float((a.double() - b).abs().max()) <= tolerance, label


def test_padding_rows_and_a_non_causal_mask():
    """Left padding (queries that see nothing get zeros) and a bidirectional prefix (no causal skipping)."""
    g = torch.Generator(device=DEVICE).manual_seed(1)
    q, k, v = (torch.randn(2, 2, 21, 16, generator=g, device=DEVICE) for _ in range(3))
    segment_ids = torch.randint(0, 3, (2, 21), generator=g, device=DEVICE)
    allowed = causal(21, 21, 2, DEVICE)
    allowed[0, :, :, :4] = False
    allowed[0, :, :4, :] = False  # sequence 0 is left-padded by 4
    allowed[1, :, :8, :8] = True  # sequence 1 sees its first 8 tokens both ways
    got = attention_with_summaries(q, k, v, segment_ids, 3, allowed, 0.25, causal=False)
    expected = reference(q, k, v, segment_ids, 3, allowed, 0.25)
    for a, b in zip(got, expected):
        assert float((a.double() - b).abs().max()) <= 1e-4
    assert float(got[0][0, :4].abs().max()) == 0.0 and float(got[3][0, :, :4].abs().max()) == 0.0


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_model_capture_with_the_kernel_matches_eager(name, triton_engine):
    model = build(name).to(DEVICE)
    lengths, width = [13, 8], 13
    input_ids, attention_mask = (t.to(DEVICE) for t in padded_batch(lengths, width))
    segments = [np.array([0] * 4 + [1] * (n - 6) + [2] * 2) for n in lengths]
    captures = capture_attention_batch(model, input_ids, attention_mask, segments, FUSED)
    maps, _ = eager(model.cpu(), input_ids.cpu(), attention_mask.cpu())
    for row, n in enumerate(lengths):
        real = slice(width - n, width)
        summaries_match_eager(captures[row], maps[row][:, :, real, real], segments[row])


@pytest.mark.parametrize("name", ["llama-gqa", "gemma2-softcap"])
def test_kernel_output_keeps_logits(name, triton_engine):
    from generator.capture import PassRecorder

    model = build(name).to(DEVICE)
    input_ids, attention_mask = (t.to(DEVICE) for t in padded_batch([12, 9], 12))
    recorder = PassRecorder(torch.zeros(2, 12, 1, device=DEVICE), FUSED, 12)
    expected, got = logits_plain_and_captured(model, recorder, input_ids, attention_mask)
    real = attention_mask.bool()
    assert torch.allclose(expected[real], got[real], atol=1e-4)
    assert len(recorder.by_layer) == model.config.num_hidden_layers


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        CaptureOptions(engine="flash")


@pytest.mark.skipif(not HAS_CUDA, reason="bfloat16 kernels need a GPU")
def test_bfloat16_model_summaries_match_the_float32_pass():
    """A bf16 model: the kernel's summaries equal the float32 recomputation of the same q/k."""
    model = build("llama-gqa").to("cuda", torch.bfloat16)
    input_ids, attention_mask = (t.cuda() for t in padded_batch([300, 200], 300))
    segments = [np.minimum(np.arange(n) // 50, 3) for n in (300, 200)]
    fused = capture_attention_batch(model, input_ids, attention_mask, segments, FUSED)
    plain = capture_attention_batch(model, input_ids, attention_mask, segments,
                                    CaptureOptions(max_map_tokens=0, engine="torch"))
    for a, b in zip(fused, plain):
        # the kernel's own output feeds later layers; bf16 rounding of it moves later layers slightly
        assert np.abs(a.segment_mass - b.segment_mass).max() <= 2e-2
        assert np.abs(a.entropy - b.entropy).max() <= 5e-2
