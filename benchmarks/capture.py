"""Capture cost against the plain forward and eager ``output_attentions``.

Prints a Markdown table: for each sequence length, the median time and the peak extra
memory of (a) the plain SDPA forward, (b) eager with ``output_attentions=True``, (c) our
all-layer summary capture (segment mass, entropy, max weight; no maps), and our ratio to
plain. Each measurement runs in a fresh process so peak memory is its own.

    python benchmarks/capture.py                          # shipped model, CPU
    python benchmarks/capture.py --model qwen2-1.5b-shape # random 1.5B-shaped model (GPU)
    python benchmarks/capture.py --padded-batch           # 4 left-padded sequences per forward

Memory is peak allocated memory on CUDA and peak RSS growth on CPU (from a separate untimed
run in which glibc returns freed memory at once), beyond the model and inputs. Results and
the machine they ran on are recorded in docs/capture.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODES = ("plain", "eager", "capture")


def build_model(name: str, device: str):
    import torch
    import transformers as tf

    if name == "shipped":
        model = tf.AutoModelForCausalLM.from_pretrained(ROOT / "data/models/atlas-arith-demo", attn_implementation="sdpa")
        dtype = torch.float32
    elif name == "qwen2-1.5b-shape":
        config = tf.Qwen2Config(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                                num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768,
                                attn_implementation="sdpa")
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        with torch.device(device):
            model = tf.Qwen2ForCausalLM(config)
    else:
        raise SystemExit(f"unknown model {name!r}")
    return model.to(device=device, dtype=dtype).eval()


def measure(name: str, mode: str, length: int, repeats: int, device: str, engine: str, padded: bool) -> dict:
    import numpy as np
    import torch

    from generator.capture.attention import CaptureOptions, capture_attention_batch

    torch.manual_seed(0)
    model = build_model(name, device)
    vocab = model.config.vocab_size
    lengths = [length * k // 4 for k in (4, 3, 2, 1)] if padded else [length]
    input_ids = torch.randint(4, vocab, (len(lengths), length), device=device)
    mask = torch.zeros_like(input_ids)
    for row, n in enumerate(lengths):
        mask[row, length - n:] = 1  # left padding
    segments = [np.minimum(np.arange(n) * 4 // n, 3) for n in lengths]
    options = CaptureOptions(max_map_tokens=0, engine=engine)

    def run_once():
        with torch.no_grad():
            if mode == "plain":
                model(input_ids=input_ids, attention_mask=mask, use_cache=False, logits_to_keep=1)
            elif mode == "eager":
                model.set_attn_implementation("eager")
                model(input_ids=input_ids, attention_mask=mask, use_cache=False, output_attentions=True, logits_to_keep=1)
            else:
                capture_attention_batch(model, input_ids, mask, segments, options)
        if device == "cuda":
            torch.cuda.synchronize()

    # warm up on a short input, then take the baseline
    with torch.no_grad():
        model(input_ids=input_ids[:, :16], use_cache=False)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"ms": 1000 * statistics.median(times[1:]), "extra_gib": max(0, peak - base) / 2**30}


# glibc: large blocks from mmap (returned on free) and one arena, so peak RSS tracks live memory
EXACT_RSS = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}


def run_child(model: str, device: str, engine: str, padded: bool, repeats: int, mode: str, length: int,
              env: dict | None = None):
    """One measurement in a fresh process, so its peak memory is its own; 'failed' if it died (e.g. OOM)."""
    done = subprocess.run([sys.executable, __file__, "--model", model, "--device", device, "--engine", engine,
                           "--repeats", str(repeats), "--child", mode, str(length)] + ["--padded-batch"] * padded,
                          capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else "failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="shipped", choices=["shipped", "qwen2-1.5b-shape"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384, 32768])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--engine", default="auto", choices=["auto", "fused", "torch"], help="the capture engine")
    parser.add_argument("--padded-batch", action="store_true",
                        help="a left-padded batch of 4 sequences (the length, 3/4, 1/2 and 1/4 of it) instead of one")
    parser.add_argument("--eager-max", type=int, default=8192, help="skip eager above this length (it keeps every map)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if args.child:
        print(json.dumps(measure(args.model, args.child[0], int(args.child[1]), args.repeats, device, args.engine,
                                 args.padded_batch)))
        return
    cpu = platform.processor() or platform.machine()
    where = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    print(f"model: {args.model}; device: {where}; torch {torch.__version__}; capture engine {args.engine}; "
          f"{'left-padded batch of 4; ' if args.padded_batch else ''}"
          f"median of {args.repeats}\n")
    print("| tokens | plain ms | plain +GiB | eager ms | eager +GiB | capture ms | capture +GiB | capture/plain time | capture/plain memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    for length in args.lengths:
        row = {}
        for mode in MODES:
            if mode == "eager" and length > args.eager_max:
                row[mode] = None
                continue
            row[mode] = run_child(args.model, device, args.engine, args.padded_batch, args.repeats, mode, length)
            if device == "cpu" and isinstance(row[mode], dict):
                # Peak RSS is only faithful when freed memory goes back to the system at once, which
                # slows allocation down: memory comes from a second, untimed run with that setting.
                memory_run = run_child(args.model, device, args.engine, args.padded_batch, 1, mode, length, env=EXACT_RSS)
                row[mode]["extra_gib"] = memory_run["extra_gib"] if isinstance(memory_run, dict) else float("nan")
        cells = []
        for mode in MODES:
            value = row[mode]
            if value is None:
                cells += ["skipped", "skipped"]
            elif value == "failed":
                cells += ["failed (OOM?)", "-"]
            else:
                cells += [f"{value['ms']:.0f}", f"{value['extra_gib']:.2f}"]
        plain, capture = row["plain"], row["capture"]
        if isinstance(plain, dict) and isinstance(capture, dict):
            memory = capture["extra_gib"] / plain["extra_gib"] if plain["extra_gib"] > 0.01 else float("nan")
            cells += [f"{capture['ms'] / plain['ms']:.2f}x", f"{memory:.2f}x"]
        else:
            cells += ["-", "-"]
        print(f"| {length:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
