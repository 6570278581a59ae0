"""Ablations per second: every ablation of an example in one batch, against one forward each.

    python benchmarks/ablation.py                          # shipped model, three-step dataset, CPU
    python benchmarks/ablation.py --model llama-1b-shape   # random 1B-shaped Llama (for a GPU)

Prints a Markdown table (results and the machine are recorded in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load(name: str, device: str):
    import torch
    import transformers as tf

    tokenizer = tf.AutoTokenizer.from_pretrained(ROOT / "data/models/atlas-arith-demo")
    if name == "shipped":
        model = tf.AutoModelForCausalLM.from_pretrained(ROOT / "data/models/atlas-arith-demo")
    else:  # the shipped tokenizer's vocabulary on a 1B-shaped Llama with random weights
        config = tf.LlamaConfig(vocab_size=len(tokenizer), hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096)
        with torch.device(device):
            model = tf.LlamaForCausalLM(config)
        model = model.to(torch.bfloat16 if device == "cuda" else torch.float32)
    return model.to(device).eval(), tokenizer


def main() -> None:
    import torch

    from generator.analyses import ExampleContext, get_analysis
    from generator.capture.generation import generate
    from generator.config import parse_config
    from generator.datasets import load_dataset
    from generator.sources import build_trajectory
    from generator.store.records import segment_ids

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="shipped", choices=["shipped", "llama-1b-shape"])
    parser.add_argument("--examples", type=int, default=12)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    model, tokenizer = load(args.model, args.device)
    tokenizer.padding_side = "left"
    examples = load_dataset(ROOT / "data/datasets/three-step.jsonl", args.examples)
    config = parse_config({"run_name": "bench", "model": {"id": "x"}, "datasets": [{"name": "d", "path": "x"}]})
    generations = generate(model, tokenizer, examples, 64, 16, desc="generating")
    trajectories = [build_trajectory(g, "three-step", tokenizer, config) for g in generations]
    analysis = get_analysis("ablation")
    where = platform.processor() or platform.machine()
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({where}, {os.cpu_count()} cores)"
    print(f"model: {args.model}; device: {device}; torch {torch.__version__}; {len(trajectories)} examples\n")
    print("| methods | ablations | batched s | batched ablations/s | one-at-a-time s | one-at-a-time ablations/s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for methods in (["zero", "mean", "resample"], ["knockout"]):
        timings = {}
        for batched in (True, False):
            options = analysis.parse_options({"methods": methods, "layers": [0, 1, 2], "batched": batched})
            state = analysis.prepare_dataset(model, tokenizer, trajectories, options)
            count = 0
            started = time.perf_counter()
            for trajectory in trajectories:
                context = ExampleContext(model, tokenizer, None, trajectory,
                                         segment_ids(trajectory.segments, len(trajectory.tokens)), dataset_state=state)
                result = analysis.analyze_example(context, options)
                delta = torch.from_numpy(result.delta_logprob)
                # knockout has one result per part (copied across layers); residual methods one per layer
                count += int(torch.isfinite(delta[:, :1] if methods == ["knockout"] else delta).sum())
            if args.device == "cuda":
                torch.cuda.synchronize()
            timings[batched] = (time.perf_counter() - started, count)
        (fast, n), (slow, _) = timings[True], timings[False]
        print(f"| {', '.join(methods)} | {n} | {fast:.2f} | {n / fast:.0f} | {slow:.2f} | {n / slow:.0f} | {slow / fast:.1f}x |")


if __name__ == "__main__":
    main()
