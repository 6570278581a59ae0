"""Time and memory of `atlas build` against the number of example pages.

Usage: python benchmarks/build.py [--sizes 100 1000] [--layers 4 --heads 4 --tokens 54] [--jobs N]

The run directories here are SYNTHETIC (random attention maps in the documented format): they
measure the builder, which never runs a model, and they never appear as results anywhere.
For each size: a build from scratch, a rebuild with nothing changed, and a rebuild after one
example changed; each in a fresh process, with its peak resident memory (ru_maxrss of the
build process or of its largest rendering worker, whichever is larger).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import resource, sys
from pathlib import Path
from generator.render.site import build_site
build_site(Path(sys.argv[1]), Path(sys.argv[2]), site_dir=Path(sys.argv[3]), docs_dir=Path(sys.argv[4]),
           jobs=int(sys.argv[5]))
print("PEAK_RSS_KIB", max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
"""


def synthetic_run(root: Path, n: int, layers: int, heads: int, tokens: int, seed: int = 0) -> None:
    from generator.results.attention import attention_example, summaries_from_weights, \
        summarize_attention, AttentionDigest
    from generator.store.records import SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, ModelInfo, \
        Segment, Trajectory, segment_ids
    from generator.store.run_directory import RunWriter

    rng = np.random.default_rng(seed)
    text = ("Q: 17+4*6= T: 4*6=24; T: 17+24=41; A: 41" * 100)[:tokens]
    cuts = [0, tokens // 4, tokens // 2, 3 * tokens // 4, tokens]
    kinds = [("question", "question"), ("step 1", "step"), ("step 2", "step"), ("answer", "answer")]
    segments = tuple(Segment(name, kind, a, b, a, b) for (name, kind), a, b in zip(kinds, cuts, cuts[1:]))
    writer = RunWriter(root)
    digests = []
    for i in range(n):
        trajectory = Trajectory(f"s-{i:05d}", "synthetic", text[:10], text[10:], text, tuple(text),
                                tuple((k, k + 1) for k in range(tokens)), tuple(range(tokens)), 10, segments,
                                "41", "41", bool(i % 3), {"difficulty": "synthetic"})
        maps = rng.random((layers, heads, tokens, tokens)).astype(np.float32) * np.tril(np.ones((tokens, tokens)))
        maps /= maps.sum(-1, keepdims=True)
        mass, entropy, max_weight = summaries_from_weights(maps.astype(np.float64), segment_ids(segments, tokens), 4)
        result = attention_example(mass, entropy, max_weight, trajectory, maps=maps.astype(np.float32))
        writer.write_example(trajectory, [result])
        digests.append(AttentionDigest(result.answer_segment_mass, result.mean_entropy))
    writer.write_summary("synthetic", summarize_attention(digests))
    model = ModelInfo("synthetic (benchmark only)", None, None, "none", layers, heads, "float32", "none", "imported")
    writer.write_manifest(Manifest(SCHEMA_VERSION, root.name, "2026-01-01T00:00:00+00:00", model,
                                   {"benchmark": "synthetic"}, "0" * 64, {}, (DatasetEntry(
                                       "synthetic", "none", tuple(f"s-{i:05d}" for i in range(n))),),
                                   (AnalysisEntry("attention", "AttentionExample", "AttentionSummary"),)))


def build(runs: Path, work: Path, jobs: int) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(runs), str(ROOT / "mkdocs.yml"), str(work / "site"),
                           str(work / "docs"), str(jobs)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_RSS_KIB"))
    return elapsed, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=54)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jobs {args.jobs}; "
          f"synthetic runs of {args.layers} layers x {args.heads} heads, {args.tokens} tokens (maps kept)\n")
    print("| examples | from scratch s | peak MiB | no change s | one change s | its peak MiB |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            synthetic_run(work / "runs" / "bench", n, args.layers, args.heads, args.tokens)
            scratch, peak = build(work / "runs", work, args.jobs)
            unchanged, changed_peak = build(work / "runs", work, args.jobs)
            path = work / "runs/bench/examples/synthetic/s-00000/trajectory.json"
            data = json.loads(path.read_text())
            data["metadata"]["difficulty"] = "changed"
            path.write_text(json.dumps(data))
            changed, changed_peak = build(work / "runs", work, args.jobs)
            print(f"| {n:,} | {scratch:.1f} | {peak:.0f} | {unchanged:.1f} | {changed:.1f} | {changed_peak:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
