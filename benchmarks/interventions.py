"""Head ablation and attention transplantation, batched against one forward pass per intervention.

Usage: python benchmarks/interventions.py [--layers 28 --heads 12 --tokens 256 --batch 64]

A RANDOM-weight Llama of the given shape (the numbers measure the machinery, not a model):
every head of every layer ablated alone, as `head_ablation` does it (one hook per layer, one
batch row per head) and one head per forward pass; prints wall time, heads per second and
whether both give the same log-probabilities; then every layer's attention transplanted from
another input (plus all layers at once), in one batched pass and one pass per transplant.
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
    print(f"\nlargest difference between the two: {np.abs(a - b).max():.2e} (log-probability)\n")

    from generator.analyses.transplant import record, transplant_rows
    from generator.capture.transplant import attention_transplanted

    donor = record(model, torch.randint(0, 512, (args.tokens,)).tolist())
    print("| transplantation | forward passes | seconds | transplants per second |")
    print("|---|---|---|---|")
    started = time.perf_counter()
    batched = transplant_rows(model, ids, donor, range(args.layers), args.layers + 1)
    elapsed = time.perf_counter() - started
    print(f"| batched (every layer, then all) | 1 | {elapsed:.2f} | {(args.layers + 1) / elapsed:.1f} |")
    rows = [{layer} for layer in range(args.layers)] + [set(range(args.layers))]
    started, single = time.perf_counter(), []
    with torch.no_grad():
        for layers in rows:
            with attention_transplanted(model, donor, [layers]):
                single.append(model(input_ids=torch.tensor([ids], device=model.device), use_cache=False).logits[0, -1])
    elapsed = time.perf_counter() - started
    print(f"| one transplant per pass | {len(rows)} | {elapsed:.2f} | {len(rows) / elapsed:.1f} |")
    print(f"\nlargest difference between the two: {(batched - torch.stack(single)).abs().max().item():.2e} (logit)")


if __name__ == "__main__":
    main()
