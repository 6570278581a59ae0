"""Head ablation batched against one forward pass per head.

Usage: python benchmarks/interventions.py [--layers 28 --heads 12 --tokens 256 --batch 64]

A RANDOM-weight Llama of the given shape (the numbers measure the machinery, not a model):
every head of every layer ablated alone, as `head_ablation` does it (one hook per layer, one
batch row per head) and one head per forward pass; prints wall time, heads per second and
whether both give the same log-probabilities.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from generator.analyses.head_ablation import ablate_each_head

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=28)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=args.hidden, intermediate_size=2 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
                         max_position_embeddings=max(512, args.tokens))
    model = LlamaForCausalLM(config).eval().to(device)
    ids = torch.randint(0, 512, (args.tokens,)).tolist()
    start = args.tokens - 4
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}; random Llama "
          f"{args.layers} layers x {args.heads} heads, width {args.hidden}, {args.tokens} tokens\n")
    print("| way | forward passes | seconds | heads per second |")
    print("|---|---|---|---|")
    results = {}
    for label, batch in ((f"batched ({args.batch} heads per pass)", args.batch), ("one head per pass", 1)):
        started = time.perf_counter()
        logprob, _, _ = ablate_each_head(model, ids, start, batch)
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        results[label] = logprob
        n = args.layers * args.heads
        print(f"| {label} | {1 + -(-n // batch)} | {elapsed:.2f} | {n / elapsed:.1f} |", flush=True)
    a, b = results.values()
    print(f"\nlargest difference between the two: {np.abs(a - b).max():.2e} (log-probability)")


if __name__ == "__main__":
    main()
