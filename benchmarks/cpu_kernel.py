"""One attention layer on the CPU: the C capture kernel against PyTorch's SDPA.

Prints, for a layer shaped like the shipped model's (4 heads, head dim 32, float32, causal,
one sequence; ``--heads`` / ``--dim`` to change), the error of each captured quantity against
a float64 reference at a short length, then the median time of SDPA (output only, PyTorch's
own CPU flash kernel), of the C kernel (output + segment mass + entropy + max weight) and of
the block-wise PyTorch pass that the C kernel replaced (same quantities), at 1k-32k tokens.

    python benchmarks/cpu_kernel.py [--lengths 1024 4096] [--segments 4] [--no-torch-pass]

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


def inputs(length: int, n_segments: int, heads: int, dim: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, length, dim, generator=g) for _ in range(3))
    segments = torch.minimum(torch.arange(length) * n_segments // length, torch.tensor(n_segments - 1))[None].int()
    return q * 2, k, v, segments  # scores of a few units, as in a trained model


def errors(length: int, n_segments: int, heads: int, dim: int) -> dict[str, float]:
    """Max abs error of the float32 kernel against float64 on the same inputs."""
    import torch

    from generator.capture.native_attention import attention_with_summaries_cpu

    q, k, v, segments = inputs(length, n_segments, heads, dim, seed=1)
    got = attention_with_summaries_cpu(q, k, v, segments, n_segments, None, dim ** -0.5)
    scores = (q.double() @ k.double().transpose(-1, -2)) * dim ** -0.5
    p = torch.softmax(scores.masked_fill(~torch.ones(length, length, dtype=torch.bool).tril(), float("-inf")), -1)
    expected = [(p @ v.double()).transpose(1, 2), p @ torch.nn.functional.one_hot(segments[0].long()).double(),
                -(p * torch.log(torch.where(p > 0, p, 1.0))).sum(-1), p.amax(-1)]
    names = ["output", "segment mass", "entropy", "max weight"]
    return {name: float((a.double() - b).abs().max()) for name, a, b in zip(names, got, expected)}


def median_ms(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def timings(length: int, n_segments: int, heads: int, dim: int, repeats: int, torch_pass: bool) -> list[float]:
    import torch

    from generator.capture import CaptureOptions, PassRecorder
    from generator.capture.native_attention import attention_with_summaries_cpu

    q, k, v, segments = inputs(length, n_segments, heads, dim)
    results = [
        median_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True), repeats),
        median_ms(lambda: attention_with_summaries_cpu(q, k, v, segments, n_segments, None, dim ** -0.5), repeats),
    ]
    if torch_pass:
        matrix = torch.nn.functional.one_hot(segments.long(), n_segments).float()
        recorder = PassRecorder(matrix, CaptureOptions(max_map_tokens=0, engine="torch"), length)
        results.append(median_ms(lambda: recorder.record(0, q, k, None, dim ** -0.5, None, value=v), repeats))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384, 32768])
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-torch-pass", action="store_true", help="leave out the block-wise PyTorch pass")
    args = parser.parse_args()
    import torch

    cpu = platform.processor() or platform.machine()
    print(f"device: CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads); torch {torch.__version__}; "
          f"{args.heads} heads, head dim {args.dim}, float32, median of {args.repeats}\n")
    print("max abs error against float64 (2,048 tokens):",
          ", ".join(f"{name} {value:.2e}" for name, value in errors(2048, args.segments, args.heads,
                                                                      args.dim).items()), "\n")
    torch_pass = not args.no_torch_pass
    print("| tokens | SDPA ms | C kernel ms | C kernel/SDPA |" + (" PyTorch pass ms | PyTorch pass/SDPA |" * torch_pass))
    print("|---|---|---|---|" + "---|---|" * torch_pass)
    for length in args.lengths:
        sdpa, kernel, *rest = timings(length, args.segments, args.heads, args.dim, args.repeats, torch_pass)
        cells = f" {rest[0]:.1f} | {rest[0] / sdpa:.2f}x |" if rest else ""
        print(f"| {length:,} | {sdpa:.1f} | {kernel:.1f} | {kernel / sdpa:.2f}x |{cells}", flush=True)


if __name__ == "__main__":
    main()
