"""Time and memory of `atlas build` against the number of example pages.

Usage: python benchmarks/build.py [--sizes 100 1000] [--layers 4 --heads 4 --tokens 54] [--jobs N]
       python benchmarks/build.py --real [--sizes 1000 5000] [--jobs N]

Synthetic mode (the default): run directories of random attention maps in the documented
format; they measure the builder, which never runs a model, and never appear as results.
Real mode (``--real``): the shipped model really run over N arithmetic prompts (drawn with a
fixed seed) with the demo's ``attention``, ``salience`` and ``features`` options, so pages carry
what a real run's pages carry; beside it, in the same session, the floor: mkdocs-material
building N plain pages kept out of the navigation, and the ratio of each build to it.
For each size: a build from scratch, a rebuild with nothing changed, a rebuild after one
example's metadata changed and (real mode) one after one example's salience changed (its tiles
in the dataset page's mosaics change: those figures are drawn again); each in a fresh process,
with its peak resident memory (ru_maxrss of the build process or of its largest rendering
worker, whichever is larger). Real mode also times one change as `atlas serve` rebuilds it: in one
long-lived process that keeps what it read of run files (``store/read_cache.py``), the second
change it sees (the first reads every example of the dataset, as a fresh build does).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from streaming import prompts  # noqa: E402 - the same fixed-seed arithmetic prompts as the streaming benchmark

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


REAL_ANALYSES = {"attention": {"max_map_tokens": 256}, "salience": {"span": "answer"},
                 "features": {"layer": 2, "top_k": 6, "tokens_per_row": 30}}  # as configs/demo.yaml
RUN_CHILD = """
import sys
from generator.config import read_config, resolve_paths
from generator.pipeline import execute_run
from pathlib import Path
written = read_config(Path(sys.argv[1]))
execute_run(resolve_paths(written, Path(sys.argv[1]).parent), written.to_dict(), written.config_hash())
"""
SERVED_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, "benchmarks")
from build import change_one
from generator.render.site import build_site
from generator.store import read_cache
read_cache.enable()  # as `atlas serve` does
runs, work = Path(sys.argv[1]), Path(sys.argv[2])
def build():
    started = time.perf_counter()
    build_site(runs, Path("mkdocs.yml"), site_dir=work / "site", docs_dir=work / "docs", jobs=int(sys.argv[3]))
    return time.perf_counter() - started
build()  # the server's first build: nothing new
change_one(runs / "bench/examples/arith/q-00002/trajectory.json")
build()  # the first change: every example of the dataset read (and kept)
change_one(runs / "bench/examples/arith/q-00003/trajectory.json")
print("SERVED_CHANGE_S", build())
"""
FLOOR_CHILD = """
import sys
from mkdocs.commands.build import build
from mkdocs.config import load_config
build(load_config(sys.argv[1]))
"""


def real_run(work: Path, n: int) -> Path:
    """The shipped model over ``n`` prompts with the demo's page-heavy analyses; the run's directory."""
    (work / "arith.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prompts(n)))
    config = work / "run.yaml"
    config.write_text(json.dumps({
        "run_name": "bench", "model": {"id": str(ROOT / "data/models/atlas-arith-demo")},
        "datasets": [{"name": "arith", "path": "arith.jsonl"}], "generation": {"max_new_tokens": 48, "batch_size": 16},
        "segmentation": {"step_pattern": "T:", "answer_pattern": "A:\\s*(-?[0-9][0-9.]*)"},
        "analyses": REAL_ANALYSES, "output_dir": "runs"}))
    done = subprocess.run([sys.executable, "-c", RUN_CHILD, str(config)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"the run of {n} examples failed:\n{done.stderr[-3000:]}")
    return work / "runs" / "bench"


def floor(work: Path, n: int, page_bytes: int = 0) -> float:
    """mkdocs-material building ``n`` plain pages kept out of the navigation (and an index), in a fresh process.

    ``page_bytes`` 0: each page one sentence. Otherwise each page is plain prose Markdown of about that many
    bytes (a title, sections of two paragraphs each, words drawn with a fixed seed): no HTML, tables or
    scripts, only as much text as our pages carry (the brief's 4.6 s for 1,000 pages is what this gives for
    4 KiB pages on the development machine; one-sentence pages take 1.7-2.0 s there).
    """
    project = work / ("floor" if not page_bytes else "floor-sized")
    pages = project / "docs" / "p"
    pages.mkdir(parents=True)
    (project / "docs" / "index.md").write_text("# Floor\n\nPlain pages.\n")
    rng = np.random.default_rng(0)
    for i in range(n):
        text = f"# Page {i}\n\nA plain page of text, number {i}.\n" if not page_bytes else plain_prose(i, page_bytes, rng)
        (pages / f"{i:05d}.md").write_text(text)
    (project / "mkdocs.yml").write_text("site_name: floor\nuse_directory_urls: false\ntheme:\n  name: material\n"
                                        "plugins:\n  - search\nnot_in_nav: |\n  /p/*\n")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FLOOR_CHILD, str(project / "mkdocs.yml")], capture_output=True,
                          text=True, cwd=project)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - started


PROSE_WORDS = ("the model attends to each token of the prompt and answer while a step is written out in full "
               "layer head weight mass entropy segment example").split()


def plain_prose(number: int, size: int, rng: np.random.Generator) -> str:
    """A plain Markdown page of about ``size`` bytes: a title, then sections of two 70-word paragraphs."""
    parts = [f"# Page {number}\n"]
    section = 0
    while sum(len(part) + 1 for part in parts) < size:
        parts.append(f"## Section {section}\n")
        parts += [" ".join(rng.choice(PROSE_WORDS, 70)) + "\n" for _ in range(2)]
        section += 1
    return "\n".join(parts)


def change_one(path: Path) -> None:
    """One example's metadata changed (its figures' inputs are not)."""
    data = json.loads(path.read_text())
    data["metadata"]["difficulty"] = "changed"
    path.write_text(json.dumps(data))


def change_result(path: Path) -> None:
    """One example's salience changed, as when it is run again with another outcome: its tiles in the dataset
    page's salience mosaics change, so those figures are drawn again."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), "np") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    tensors["salience"] = np.ascontiguousarray(tensors["salience"][..., ::-1] if tensors["salience"].shape[-1] > 1
                                               else tensors["salience"] * 0.5)
    save_file(tensors, str(path), metadata=metadata)


def example_markdown_kib(work: Path) -> float:
    sizes = [p.stat().st_size for p in (work / "docs").glob("runs/*/*/examples/*.md")]
    return sum(sizes) / len(sizes) / 1024 if sizes else 0.0


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


def served_change(runs: Path, work: Path, jobs: int) -> float:
    """One example changed while `atlas serve` runs: its rebuild in the server's long-lived process (the second
    change it sees; the first reads every example of the dataset, as a fresh build does)."""
    done = subprocess.run([sys.executable, "-c", SERVED_CHILD, str(runs), str(work), str(jobs)], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return next(float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("SERVED_CHANGE_S"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=54)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--real", action="store_true", help="the shipped model's real runs, against the MkDocs floor")
    args = parser.parse_args()
    if args.real:
        return main_real(args.sizes, args.jobs)
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
            change_one(work / "runs/bench/examples/synthetic/s-00000/trajectory.json")
            changed, changed_peak = build(work / "runs", work, args.jobs)
            print(f"| {n:,} | {scratch:.1f} | {peak:.0f} | {unchanged:.1f} | {changed:.1f} | {changed_peak:.0f} |",
                  flush=True)


def main_real(sizes: list[int], jobs: int) -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; jobs {jobs}; the shipped "
          f"model really run, analyses {', '.join(REAL_ANALYSES)} (demo options)\n")
    print("Two floors, each mkdocs-material building N plain pages kept out of the navigation: one sentence a page, "
          "and plain prose of the size of our example pages' Markdown; each 'x floor' is 'one sentence / our size'.\n")
    print("| examples | floor s: one sentence / our size | from scratch s | x floor | peak MiB | no change s | "
          "one change s | x floor | its peak MiB | one result changed s | x floor | served: one change s | x floor | "
          "example page KiB (Markdown) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            real_run(work, n)
            base = floor(work, n)
            scratch, peak = build(work / "runs", work, jobs)
            page_kib = example_markdown_kib(work)
            sized = floor(work, n, round(page_kib * 1024))
            unchanged, _ = build(work / "runs", work, jobs)
            change_one(work / "runs/bench/examples/arith/q-00000/trajectory.json")
            changed, changed_peak = build(work / "runs", work, jobs)
            change_result(work / "runs/bench/examples/arith/q-00001/salience.safetensors")
            result_changed, _ = build(work / "runs", work, jobs)
            served = served_change(work / "runs", work, jobs)

            def ratios(seconds: float) -> str:
                return f"{seconds / base:.2f} / {seconds / sized:.2f}"

            print(f"| {n:,} | {base:.1f} / {sized:.1f} | {scratch:.1f} | {ratios(scratch)} | {peak:.0f} | "
                  f"{unchanged:.1f} | {changed:.1f} | {ratios(changed)} | {changed_peak:.0f} | {result_changed:.1f} | "
                  f"{ratios(result_changed)} | {served:.1f} | {ratios(served)} | {page_kib:.1f} |", flush=True)


if __name__ == "__main__":
    main()
