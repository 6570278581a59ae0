"""Attention captured while generating, against plain generation and a capture after it.

Prints, for each number of new tokens and batch size, the wall time of (a) plain greedy
generation, (b) generation with every token's attention row captured as it is produced
(``analyses.attention.during_generation: true``) and (c) plain generation followed by one
forward-pass capture per sequence (``during_generation: false``, the default), with (b)
and (c) as ratios to (a). Summaries only (no maps), as for long trajectories.

The model has the shipped model's shape (4 layers x 4 heads, head dim 32), or with
``--model 28x12-small`` 28 layers x 12 heads of head dim 32 (width 384, for the CPU), or with
``--model qwen2-1.5b-shape`` a Qwen2-1.5B shape (bfloat16 on CUDA), with random weights and a
longer position table, and is made to generate exactly the number of new tokens asked for
(``min_new_tokens``), so every run does the same work.

    python benchmarks/generation_capture.py [--new-tokens 500 2000] [--batch-sizes 1 8]
    python benchmarks/generation_capture.py --model qwen2-1.5b-shape   # on a GPU

Results and the machine they ran on are recorded in docs/capture.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHIPPED = ROOT / "data/models/atlas-arith-demo"


def build(name: str, new_tokens: int, device: str):
    """Random weights, the shipped tokenizer; 'shipped' is the shipped model's shape, 'qwen2-1.5b-shape'
    a Qwen2-1.5B-shaped model (bfloat16 on CUDA) with the tokenizer's vocabulary."""
    import torch
    import transformers as tf

    tokenizer = tf.AutoTokenizer.from_pretrained(SHIPPED)
    tokenizer.padding_side = "left"
    positions = 2 * new_tokens + 256
    if name == "shipped":
        config = tf.AutoConfig.from_pretrained(SHIPPED)
        config.max_position_embeddings = positions
        dtype = torch.float32
    elif name == "28x12-small":  # the layer and head count of a 1.5B model at a width a 2-core CPU generates with
        config = tf.Qwen2Config(hidden_size=384, intermediate_size=1024, num_hidden_layers=28, num_attention_heads=12,
                                num_key_value_heads=12, vocab_size=len(tokenizer), max_position_embeddings=positions,
                                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                pad_token_id=tokenizer.pad_token_id)
        dtype = torch.float32
    else:
        config = tf.Qwen2Config(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                                num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=positions,
                                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                pad_token_id=tokenizer.pad_token_id)
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = tf.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    model = model.to(dtype=dtype).eval()
    model.generation_config.min_new_tokens = new_tokens
    return model, tokenizer


def timed(functions, repeats: int, device: str) -> list[float]:
    """Median seconds of each function, run in turns (so drift on a shared machine hits all alike)."""
    import torch

    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, measured in zip(functions, times):
            started = time.perf_counter()
            function()
            if device == "cuda":
                torch.cuda.synchronize()
            measured.append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def measure(name: str, device: str, new_tokens: int, batch_size: int, repeats: int) -> tuple[float, float, float]:
    import numpy as np
    import torch

    from generator.capture.attention import CaptureOptions, capture_attention
    from generator.capture.generation import generate
    from generator.capture.generation_capture import generate_with_capture
    from generator.capture.segmentation import SegmentationSpec
    from generator.datasets import Example

    model, tokenizer = build(name, new_tokens, device)
    examples = [Example(id=str(i), prompt=f"Q: {i}+{3 * i}*{i % 7}=") for i in range(batch_size)]
    spec, options = SegmentationSpec(), CaptureOptions(max_map_tokens=0)

    def plain():
        return generate(model, tokenizer, examples, new_tokens, batch_size, desc="plain")

    def during():
        generate_with_capture(model, tokenizer, examples, new_tokens, spec, options)

    def after():
        for generation in plain():
            ids = torch.tensor([generation.token_ids], device=device)
            capture_attention(model, ids, np.zeros(len(generation.token_ids), dtype=np.int64), options=options)

    during()  # warm up (and build the CPU kernel once)
    after()
    return tuple(timed([plain, during, after], repeats, device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="shipped", choices=["shipped", "28x12-small", "qwen2-1.5b-shape"])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    cpu = platform.processor() or platform.machine()
    where = torch.cuda.get_device_name() if device == "cuda" else \
        f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    print(f"model: {args.model}; device: {where}; torch {torch.__version__}; median of {args.repeats}\n")
    print("| new tokens | batch | plain s | capture during s | during/plain | capture after s | after/plain |")
    print("|---|---|---|---|---|---|---|")
    for new_tokens in args.new_tokens:
        for batch_size in args.batch_sizes:
            plain, during, after = measure(args.model, device, new_tokens, batch_size, args.repeats)
            print(f"| {new_tokens:,} | {batch_size} | {plain:.2f} | {during:.2f} | {during / plain:.2f}x | "
                  f"{after:.2f} | {after / plain:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
