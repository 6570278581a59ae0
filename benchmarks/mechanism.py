"""The mechanism analyses at scale: time and peak memory of one batch of each, on long sequences.

Usage: python benchmarks/mechanism.py [--layers 28 --heads 12 --hidden 384 --tokens 1024 --vocab 32000]
                                      [--arch llama|mistral] [--window 256]

A RANDOM-weight model of the given shape (the numbers measure the machinery, not a model):
Llama, or Mistral with a sliding window shorter than the sequence. Each analysis's core runs
on one sequence of ``--tokens`` tokens, with the batch size its option defaults to, in a fresh
forked process (CPU) so each peak resident memory is its own (its peak above what it started
with: the model and the libraries); on CUDA, in-process with the
peak of allocated GPU memory. Batched analyses time ONE batch (their memory is that of one
batch, whatever the number of batches) and print how many batches the whole analysis needs,
so the whole time is seconds x batches. Prints a Markdown table (docs/benchmarks.md records
it with the machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(args, device: str):
    import torch
    import transformers as tf

    torch.manual_seed(0)
    common = dict(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=2 * args.hidden,
                  num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
                  max_position_embeddings=max(2048, args.tokens))
    if args.arch == "mistral":
        model = tf.MistralForCausalLM(tf.MistralConfig(**common, sliding_window=args.window))
    else:
        model = tf.LlamaForCausalLM(tf.LlamaConfig(**common))
    return model.eval().to(device)


def cases(model, ids: list[int], args):
    """(name, rows in the measured batch, batches the whole analysis needs, the work) for each analysis."""
    import torch

    from generator.analyses.scoring import scored
    from generator.analyses.compositional import ablate_groups
    from generator.analyses.logit_attribution import attribute
    from generator.analyses.patching import patch_all
    from generator.analyses.scoring import greedy_ids
    from generator.analyses.token_classes import class_attention
    from generator.analyses.transplant import transplant_rows
    from generator.capture.interventions import Site, edited, heads_replaced

    layers, heads, tokens = args.layers, args.heads, len(ids)
    start = tokens - 4  # a four-token answer, teacher forced
    device = model.device

    def head_ablation():
        chunk = [(layer, head) for layer in range(layers) for head in range(heads)][:64]
        with torch.no_grad(), heads_replaced(model, chunk):
            scored(model, torch.tensor([ids] * len(chunk), device=device), ids, start)

    def transplant():
        transplant_rows(model, ids, ids[::-1], range(8), batch_size=8)  # the donor runs as row 0 of the batch

    def token_classes():
        classes = np.arange(tokens) % 4 - 1  # three classes and unclassed tokens
        class_attention(model, torch.tensor([ids], device=device), classes, 3, np.array([tokens - 1]))

    def compositional():
        steps = np.array_split(np.arange(8, start), 8)  # 8 steps: 8 + 28 + 56 rows with triplets
        import itertools
        combos = [(i,) for i in range(8)] + list(itertools.combinations(range(8), 2))
        combos += list(itertools.combinations(range(8), 3))
        ablate_groups(model, ids, start, 0, [np.concatenate([steps[i] for i in c]) for c in combos][:32], 32)

    def patching():
        sites = [Site(layer, c) for layer in range(layers) for c in ("resid_pre", "attn_out", "mlp_out")]
        sites += [Site(layer, "head", head) for layer in range(layers) for head in range(heads)]
        other = list(ids)
        other[1] = (other[1] + 1) % args.vocab
        patch_all(model, ids, other, sites[:64], np.array([1]), 64)

    def scaling():
        with edited(model, [(Site(layers // 2, "attn_out"), lambda a: a * 0.5)]):
            greedy_ids(model, ids, 12, None)

    def logit_attribution():
        attribute(model, ids, start, heads=True)

    n_sites = layers * 3 + layers * heads
    return [("head_ablation", 64, -(-layers * heads // 64), head_ablation),
            ("transplant (one direction; 8 rows + the donor)", 8, -(-(layers + 1) // 8), transplant),
            ("token_classes (one format)", 1, 1, token_classes),
            ("compositional (8 steps, triplets)", 32, -(-92 // 32), compositional),
            ("patching (components and heads)", 64, -(-n_sites // 64), patching),
            ("scaling (one site x factor: 12 tokens generated)", 1, 1, scaling),
            ("logit_attribution (with heads)", 1, 1, logit_attribution)]


def measure(work, device: str) -> tuple[float, float]:
    """(seconds, peak MiB): GPU memory allocated on CUDA, else the forked process's resident peak above its start."""
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        started = time.perf_counter()
        work()
        torch.cuda.synchronize()
        return time.perf_counter() - started, torch.cuda.max_memory_allocated() / 2**20
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        before = status_kib("VmRSS")
        started = time.perf_counter()
        work()
        os.write(write, f"{time.perf_counter() - started} {(status_kib('VmHWM') - before) / 1024}".encode())
        os._exit(0)
    os.close(write)
    reply = os.read(read, 128).decode().split()
    _, status, _ = os.wait4(child, 0)
    if status or len(reply) != 2:
        raise RuntimeError(f"the measured process failed (status {status})")
    return float(reply[0]), float(reply[1])


def status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now; VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=28)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--arch", choices=["llama", "mistral"], default="llama")
    parser.add_argument("--window", type=int, default=256, help="Mistral's sliding window")
    parser.add_argument("--only", nargs="*", help="names (prefixes) of the analyses to measure")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_grad_enabled(False)
    model = build(args, device)
    ids = torch.randint(0, args.vocab, (args.tokens,), generator=torch.Generator().manual_seed(0)).tolist()
    window = f", sliding window {args.window}" if args.arch == "mistral" else ""
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}; random "
          f"{args.arch} {args.layers} layers x {args.heads} heads, width {args.hidden}, vocabulary {args.vocab}"
          f"{window}; {args.tokens} tokens; the model alone: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB resident\n")
    print("| analysis | rows per batch | batches for the whole analysis | seconds per batch | peak MiB above the model |")
    print("|---|---|---|---|---|")
    for name, rows, batches, work in cases(model, ids, args):
        if args.only and not any(name.startswith(prefix) for prefix in args.only):
            continue
        seconds, peak = measure(work, device)
        print(f"| {name} | {rows} | {batches} | {seconds:.2f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
