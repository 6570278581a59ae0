"""Getting tensors out of a model: attention capture, generation, interventions, model loading.

This is the stage's public face; analyses, benchmarks and tests use these names, and the
engines behind them (fused kernels, the block-wise pass, the generation recorder) stay private.
"""

from generator.capture.attention import (DEFAULT_MAX_MAP_TOKENS, AttentionCapture, AttentionRecorder, CaptureError,
                                         CaptureOptions, PassRecorder, capture_attention, capture_attention_batch,
                                         capturing)
from generator.capture.generation_capture import CapturedGeneration, generate_with_capture

__all__ = ["DEFAULT_MAX_MAP_TOKENS", "AttentionCapture", "AttentionRecorder", "CaptureError", "CaptureOptions",
           "CapturedGeneration", "PassRecorder", "capture_attention", "capture_attention_batch", "capturing",
           "generate_with_capture"]
