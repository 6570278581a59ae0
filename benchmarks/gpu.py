"""Every benchmark that needs a GPU, in one go, so a lent GPU answers the open questions at once.

Usage: python benchmarks/gpu.py [--budget 480]      (on a CUDA machine: about 8 minutes)
       python benchmarks/gpu.py --dry               (anywhere: the same scripts at toy sizes on the CPU)

Runs, each in its own process with its share of the budget (a benchmark that runs out is stopped
and marked so; the next one still runs):

- capture vs plain forward, 4k-32k tokens, a 1.5B-shaped model (benchmarks/capture.py)
- capture during vs after generation, 1,024 new tokens (benchmarks/generation_capture.py)
- head ablation and transplantation batched vs one pass each, 28 x 12 (benchmarks/interventions.py)
- every mechanism analysis on a 28 x 12 model at 1,024 tokens (benchmarks/mechanism.py)
- ablations per second, a 1B-shaped model (benchmarks/ablation.py)

Prints one summary table (benchmark, question, status, seconds), then each benchmark's own
table as it printed it. ``--dry`` checks that the scripts and their options still run (CI runs it);
its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    question: str
    full: tuple[str, ...]  # script and arguments on a GPU
    dry: tuple[str, ...]  # the same script at toy sizes on the CPU
    share: float  # of the budget


BENCHMARKS = (
    Benchmark("capture", "capture vs plain forward, 4k-32k tokens (time and memory)",
              ("capture.py", "--model", "qwen2-1.5b-shape", "--lengths", "4096", "8192", "16384", "32768",
               "--repeats", "2", "--device", "cuda"),
              ("capture.py", "--lengths", "128", "--repeats", "1", "--device", "cpu", "--eager-max", "128"), 0.3),
    Benchmark("generation", "capture during vs after generation, 1,024 new tokens",
              ("generation_capture.py", "--model", "qwen2-1.5b-shape", "--new-tokens", "1024", "--batch-sizes", "1",
               "8", "--repeats", "2", "--device", "cuda"),
              ("generation_capture.py", "--new-tokens", "16", "--batch-sizes", "1", "--repeats", "1",
               "--device", "cpu"), 0.25),
    Benchmark("interventions", "head ablation and transplantation: batched vs one pass each, 28 x 12",
              ("interventions.py",), ("interventions.py", "--layers", "2", "--heads", "2", "--hidden", "32",
                                      "--tokens", "16", "--batch", "4"), 0.15),
    Benchmark("mechanism", "every mechanism analysis, 28 x 12 at 1,024 tokens",
              ("mechanism.py",), ("mechanism.py", "--layers", "2", "--heads", "2", "--hidden", "32", "--tokens", "32",
                                  "--vocab", "64", "--only", "head_ablation"), 0.2),
    Benchmark("ablation", "ablations per second, a 1B-shaped model",
              ("ablation.py", "--model", "llama-1b-shape", "--device", "cuda"),
              ("ablation.py", "--examples", "1", "--device", "cpu"), 0.1),
)


def run(benchmark: Benchmark, dry: bool, seconds: float) -> tuple[str, float, str]:
    """Status, wall seconds and what the benchmark printed."""
    command = [sys.executable, str(HERE / (benchmark.dry if dry else benchmark.full)[0]),
               *(benchmark.dry if dry else benchmark.full)[1:]]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds,
                              env={**os.environ, "TQDM_DISABLE": "1"})
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return f"stopped at {seconds:.0f} s", time.perf_counter() - started, out
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        return f"failed ({done.returncode})", elapsed, done.stdout + "\n" + done.stderr[-2000:]
    return "ok", elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all of them (default 480)")
    parser.add_argument("--dry", action="store_true", help="toy sizes on the CPU: checks the scripts run")
    parser.add_argument("--only", nargs="*", help="names of the benchmarks to run (default: all)")
    args = parser.parse_args()
    if not args.dry:
        import torch

        if not torch.cuda.is_available():
            print("benchmarks/gpu.py: no CUDA device here; --dry runs the same scripts at toy sizes on the CPU",
                  file=sys.stderr)
            return 2
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{'DRY RUN (toy sizes, CPU): the numbers mean nothing' if args.dry else 'GPU'}; budget {args.budget:.0f} s\n")
    results = []
    for benchmark in chosen:
        share = args.budget * benchmark.share / sum(b.share for b in chosen)
        results.append((benchmark, *run(benchmark, args.dry, share)))
    print("| benchmark | question | status | s |")
    print("|---|---|---|---|")
    for benchmark, status, elapsed, _ in results:
        print(f"| {benchmark.name} | {benchmark.question} | {status} | {elapsed:.0f} |")
    for benchmark, status, _, output in results:
        print(f"\n### {benchmark.name} ({status})\n\n{output.strip()}")
    return 0 if all(status == "ok" for _, status, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
