"""Attention captured while generating, against plain generation and a capture after it.

Prints, for each number of new tokens and batch size, the wall time of (a) plain greedy
generation, (b) generation with every token's attention row captured as it is produced
(``analyses.attention.during_generation: true``, the default) and (c) plain generation
followed by one forward-pass capture per sequence (``during_generation: false``), with (b)
and (c) as ratios to (a). Summaries only (no maps), as for long trajectories.

The model has the shipped model's shape (4 layers x 4 heads, head dim 32) with random
weights and a longer position table, and is made to generate exactly the number of new
tokens asked for (``min_new_tokens``), so every run does the same work.

    python benchmarks/generation_capture.py [--new-tokens 500 2000] [--batch-sizes 1 8]

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


def build(new_tokens: int):
    import torch
    import transformers as tf

    tokenizer = tf.AutoTokenizer.from_pretrained(SHIPPED)
    tokenizer.padding_side = "left"
    config = tf.AutoConfig.from_pretrained(SHIPPED)
    config.max_position_embeddings = 2 * new_tokens + 256
    torch.manual_seed(0)
    model = tf.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").eval()
    model.generation_config.min_new_tokens = new_tokens
    return model, tokenizer


def timed(functions, repeats: int) -> list[float]:
    """Median seconds of each function, run in turns (so drift on a shared machine hits all alike)."""
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, measured in zip(functions, times):
            started = time.perf_counter()
            function()
            measured.append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def measure(new_tokens: int, batch_size: int, repeats: int) -> tuple[float, float, float]:
    import numpy as np
    import torch

    from generator.capture.attention import CaptureOptions, capture_attention
    from generator.capture.generation import generate
    from generator.capture.generation_capture import generate_with_capture
    from generator.config import SegmentationSpec
    from generator.datasets import Example

    model, tokenizer = build(new_tokens)
    examples = [Example(id=str(i), prompt=f"Q: {i}+{3 * i}*{i % 7}=") for i in range(batch_size)]
    spec, options = SegmentationSpec(), CaptureOptions(exact_maps_up_to=0)

    def plain():
        return generate(model, tokenizer, examples, new_tokens, batch_size, desc="plain")

    def during():
        generate_with_capture(model, tokenizer, examples, new_tokens, spec, options)

    def after():
        for generation in plain():
            ids = torch.tensor([generation.token_ids])
            capture_attention(model, ids, np.zeros(len(generation.token_ids), dtype=np.int64), options=options)

    during()  # warm up (and build the CPU kernel once)
    after()
    return tuple(timed([plain, during, after], repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import torch

    cpu = platform.processor() or platform.machine()
    print(f"device: CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads); torch {torch.__version__}; "
          f"median of {args.repeats}\n")
    print("| new tokens | batch | plain s | capture during s | during/plain | capture after s | after/plain |")
    print("|---|---|---|---|---|---|---|")
    for new_tokens in args.new_tokens:
        for batch_size in args.batch_sizes:
            plain, during, after = measure(new_tokens, batch_size, args.repeats)
            print(f"| {new_tokens:,} | {batch_size} | {plain:.2f} | {during:.2f} | {during / plain:.2f}x | "
                  f"{after:.2f} | {after / plain:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
