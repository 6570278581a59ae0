"""Peak memory of `atlas run` against the number of examples: it must not grow with the dataset.

Usage: python benchmarks/streaming.py [--sizes 300 1000 3000] [--analyses attention ablation]
       [--code PATH]  (another checkout of Attention Atlas, to measure it the same way)

Each size runs in a fresh process (`python -m generator run`) on the shipped model, over
arithmetic prompts drawn with a fixed seed (inputs only: every number in the run comes from
the model). Prints a Markdown table: wall time, examples per second, and the process's peak
resident memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from generator.cli import main
code = main(["run", sys.argv[2]])
print("PEAK_RSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""
ANALYSES = {
    "attention": {"max_map_tokens": 256},
    "salience": {},
    "ablation": {"methods": ["zero", "mean", "resample"], "layers": [1]},
    "features": {"layer": 2, "top_k": 4},
}


def prompts(n: int) -> list[dict]:
    rng = random.Random(1234)
    rows = []
    for i in range(n):
        a, b, c = rng.randint(2, 60), rng.randint(2, 9), rng.randint(2, 9)
        rows.append({"id": f"q-{i:05d}", "prompt": f"Q: {a}+{b}*{c}=", "answer": str(a + b * c)})
    return rows


def measure(code: Path, n: int, analyses: list[str], work: Path) -> tuple[float, float]:
    dataset = work / f"d{n}.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in prompts(n)))
    config = work / f"run{n}.yaml"
    config.write_text(json.dumps({
        "run_name": f"stream-{n}", "model": {"id": str(ROOT / "data/models/atlas-arith-demo")},
        "datasets": [{"name": "arith", "path": str(dataset)}], "generation": {"max_new_tokens": 48, "batch_size": 16},
        "analyses": {name: ANALYSES[name] for name in analyses}, "output_dir": str(work / "runs")}))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(code), str(config)], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"run of {n} examples failed:\n{done.stderr[-3000:]}")
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_RSS_KIB"))
    return elapsed, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--analyses", nargs="+", default=["attention", "ablation"], choices=sorted(ANALYSES))
    parser.add_argument("--code", default=str(ROOT), help="checkout whose generator package runs")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; shipped model; "
          f"analyses: {', '.join(args.analyses)}; code: {args.code}\n")
    print("| examples | wall s | examples/s | peak RSS MiB |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for n in args.sizes:
            elapsed, peak = measure(Path(args.code), n, args.analyses, Path(work))
            print(f"| {n:,} | {elapsed:.0f} | {n / elapsed:.1f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
