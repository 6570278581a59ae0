"""One attention layer: the fused capture kernel against PyTorch's SDPA (GPU only).

Prints, for a Qwen2-1.5B-shaped layer (12 query heads, 2 KV heads, head dim 128, bf16, causal),
the error of each captured quantity against a float64 reference at a short length, then the
median time of SDPA (output only) and of the fused kernel (output + segment mass + entropy +
max weight) at 4k-32k tokens, and the Triton config the autotuner chose.

    python benchmarks/fused_kernel.py [--lengths 4096 8192] [--segments 4] [--breakdown]

``--breakdown`` adds the kernel with no summaries (a plain flash forward), with segment mass
only and with entropy only, to show what each summary costs.

Results and the machine they ran on are recorded in docs/capture.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def inputs(length: int, n_segments: int, heads: int = 12, kv_heads: int = 2, dim: int = 128, seed: int = 0):
    import torch

    g = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(1, heads, length, dim, device="cuda", generator=g).bfloat16()
    k = torch.randn(1, kv_heads, length, dim, device="cuda", generator=g).bfloat16()
    v = torch.randn(1, kv_heads, length, dim, device="cuda", generator=g).bfloat16()
    segments = torch.minimum(torch.arange(length, device="cuda") * n_segments // length,
                             torch.tensor(n_segments - 1, device="cuda"))[None].int()
    return q, k, v, segments


def errors(length: int, n_segments: int) -> dict[str, float]:
    """Max abs error of the bf16 kernel against float64 on the same bf16 inputs."""
    import torch

    from generator.capture.fused_attention import attention_with_summaries

    q, k, v, segments = inputs(length, n_segments, seed=1)
    out, mass, entropy, max_weight = attention_with_summaries(q, k, v, segments, n_segments, None, 128 ** -0.5)
    groups = q.shape[1] // k.shape[1]
    kk, vv = k.double().repeat_interleave(groups, 1), v.double().repeat_interleave(groups, 1)
    scores = (q.double() @ kk.transpose(-1, -2)) * 128 ** -0.5
    scores = scores.masked_fill(~torch.ones(length, length, dtype=torch.bool, device="cuda").tril(), float("-inf"))
    p = torch.softmax(scores, -1)
    onehot = torch.nn.functional.one_hot(segments[0].long(), n_segments).double()
    expected = {
        "output": (p @ vv).transpose(1, 2),
        "segment mass": p @ onehot,
        "entropy": -(p * torch.log(torch.where(p > 0, p, 1.0))).sum(-1),
        "max weight": p.amax(-1),
    }
    got = {"output": out, "segment mass": mass, "entropy": entropy, "max weight": max_weight}
    return {name: float((got[name].double() - expected[name]).abs().max()) for name in expected}


SUMMARIES = ("all", "none", "mass", "entropy")  # what the fused kernel computes besides the output


def timings(length: int, n_segments: int, variants: tuple[str, ...]) -> tuple[float, dict[str, float], str]:
    """Median ms of SDPA and of the fused kernel for each variant, and the config tuned for 'all'."""
    import torch
    import triton

    from generator.capture.fused_attention import _attention_summaries, attention_with_summaries

    q, k, v, segments = inputs(length, n_segments)
    sdpa = triton.testing.do_bench(
        lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
        warmup=50, rep=300, return_mode="median")
    fused, config = {}, ""
    for variant in variants:
        fused[variant] = triton.testing.do_bench(
            lambda: attention_with_summaries(q, k, v, segments, n_segments, None, 128 ** -0.5, summaries=variant),
            warmup=50, rep=300, return_mode="median")
        if variant == "all":
            config = str(_attention_summaries.best_config)
    return sdpa, fused, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 8192, 16384, 32768])
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the kernel with no summaries, with mass only and with entropy only")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/fused_kernel.py needs a CUDA GPU")
    variants = SUMMARIES if args.breakdown else SUMMARIES[:1]
    print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}\n")
    print("max abs error against float64 (bf16 inputs, 2,048 tokens):",
          ", ".join(f"{name} {value:.2e}" for name, value in errors(2048, args.segments).items()), "\n")
    extra = "".join(f" {variant} ms |" for variant in variants[1:])
    print(f"| tokens | SDPA ms | fused ms | fused/SDPA |{extra} config |")
    print("|---|---|---|---|" + "---|" * len(variants[1:]) + "---|")
    for length in args.lengths:
        sdpa, fused, config = timings(length, args.segments, variants)
        cells = "".join(f" {fused[variant]:.2f} |" for variant in variants[1:])
        print(f"| {length:,} | {sdpa:.2f} | {fused['all']:.2f} | {fused['all'] / sdpa:.2f}x |{cells} {config} |",
              flush=True)


if __name__ == "__main__":
    main()
