"""Page kinds: each turns a run (read from disk) into pages and figures. Never runs a model.

A page kind is one function registered by name; the site builder calls every kind for every
run, in registration order, so adding a page kind needs no edit elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml
from markupsafe import Markup

from generator.registry import Registry
from generator.render import figures, plots
from generator.store.records import Trajectory
from generator.store.run_directory import Run


@dataclass(frozen=True)
class IndexEntry:
    """One line of ``atlas-index.json``: a page or figure, and where it lives in the site."""

    kind: str
    run: str | None
    dataset: str | None
    example_id: str | None
    path: str  # relative to the site root


@dataclass
class Page:
    path: str  # Markdown path relative to the docs directory
    template: str
    context: dict[str, Any]
    entry: IndexEntry


@dataclass
class SiteContext:
    """Where a page kind writes figures, and what it collects for the index."""

    docs_dir: Path
    figures: list[IndexEntry] = field(default_factory=list)

    def figure(self, kind: str, run: str, dataset: str | None, example_id: str | None,
               written: list[Path], page_dir: str) -> dict[str, Any]:
        """Record written figure files; return links relative to the page that shows them."""
        files = []
        for path in written:
            relative = path.relative_to(self.docs_dir).as_posix()
            self.figures.append(IndexEntry(kind, run, dataset, example_id, relative))
            files.append({"format": path.suffix[1:].upper(), "href": _relative(relative, page_dir)})
        return {"files": files}


PageKind = Callable[[SiteContext, Run], list[Page]]
PAGE_KINDS: Registry[PageKind] = Registry("page kind")


def register_page_kind(name: str) -> Callable[[PageKind], PageKind]:
    def decorate(function: PageKind) -> PageKind:
        return PAGE_KINDS.register(name, function)
    return decorate


def _relative(target: str, page_dir: str) -> str:
    import posixpath

    return posixpath.relpath(target, page_dir or ".")


def html_path(markdown_path: str) -> str:
    return markdown_path[: -len(".md")] + ".html"


def plot_item(item: dict[str, Any]) -> dict[str, str]:
    """A Bokeh json_item as text that is safe inside a <script> element."""
    text = json.dumps(item, separators=(",", ":"), allow_nan=False)  # key order matters to BokehJS
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # Safe to mark: no '<', '>' or '&' is left, so the text cannot close the <script> element.
    return {"target": item["target_id"], "json": Markup(text)}


def accuracy_text(trajectories: list[Trajectory]) -> str:
    scored = [t.correct for t in trajectories if t.correct is not None]
    if not scored:
        return "not scored"
    return f"{100 * sum(scored) / len(scored):.1f}% ({sum(scored)}/{len(scored)})"


def run_dir(run: Run) -> str:
    return f"runs/{run.name}"


def dataset_dir(run: Run, dataset: str) -> str:
    return f"runs/{run.name}/{dataset}"


def example_path(run: Run, dataset: str, example_id: str) -> str:
    return f"{dataset_dir(run, dataset)}/examples/{example_id}.md"


def steps_mass(trajectory: Trajectory, answer_segment_mass: np.ndarray) -> np.ndarray:
    """[layer, head] mass the answer puts on all reasoning steps together."""
    steps = [i for i, seg in enumerate(trajectory.segments) if seg.kind == "step"]
    if not steps:
        return np.zeros(answer_segment_mass.shape[:2], dtype=np.float32)
    return answer_segment_mass[:, :, steps].sum(axis=2)


@register_page_kind("run")
def run_pages(site: SiteContext, run: Run) -> list[Page]:
    m = run.manifest
    datasets = []
    for name in run.dataset_names():
        trajectories = list(run.trajectories(name))
        datasets.append({"name": name, "href": f"{name}/index.html", "n_examples": len(trajectories),
                         "accuracy_text": accuracy_text(trajectories)})
    context = {"run": {
        "name": m.run_name, "model": m.model.id, "architecture": m.model.architecture,
        "num_layers": m.model.num_layers, "num_heads": m.model.num_heads, "dtype": m.model.dtype,
        "device": m.model.device, "weights": m.model.revision or m.model.weights_sha256 or "unknown",
        "created": m.created, "config_sha256": m.config_sha256, "analyses": list(m.analyses),
        "library_versions": sorted(m.library_versions.items()), "datasets": datasets,
        "config_yaml": yaml.safe_dump(m.config, sort_keys=False),
    }}
    path = f"{run_dir(run)}/index.md"
    return [Page(path, "run.md.j2", context, IndexEntry("run", run.name, None, None, html_path(path)))]


@register_page_kind("dataset")
def dataset_pages(site: SiteContext, run: Run) -> list[Page]:
    pages = []
    for name in run.dataset_names():
        trajectories = list(run.trajectories(name))
        page_dir = dataset_dir(run, name)
        figure_dir = site.docs_dir / page_dir / "figures"
        metadata_columns = sorted({k for t in trajectories for k in t.metadata if isinstance(t.metadata[k], (str, int, float))})
        spec = next((d for d in run.manifest.config.get("datasets", []) if d.get("name") == name), {})
        context: dict[str, Any] = {
            "name": name, "run": run.name, "n_examples": len(trajectories), "description": spec.get("description"),
            "accuracy_text": accuracy_text(trajectories), "metadata_columns": metadata_columns,
            "examples": [{
                "id": t.example_id, "href": f"examples/{t.example_id}.html", "prompt": t.prompt,
                "expected": t.expected_answer if t.expected_answer is not None else "",
                "parsed": t.parsed_answer if t.parsed_answer is not None else "—",
                "correct": t.correct, "metadata": t.metadata,
            } for t in trajectories],
            "entropy_plot": None, "entropy_figure": None, "grid_figure": None,
        }
        summary = run.dataset_result(name, "attention")
        if summary is not None:
            series = {name: np.asarray(summary["mean_entropy_by_layer"])}
            target = f"atlas-{run.name}-{name}-entropy"
            context["entropy_plot"] = plot_item(plots.line_by_layer(series, target, "Mean attention entropy", "entropy (nats)"))
            written = figures.lines_by_layer(series, figure_dir / "entropy-by-layer", f"{name}: attention entropy", "entropy (nats)")
            context["entropy_figure"] = site.figure("entropy-by-layer", run.name, name, None, written, page_dir)
        with_attention = [t for t in trajectories if run.has_tensors(name, t.example_id, "attention")
                          and any(seg.kind == "step" for seg in t.segments)]
        if with_attention:
            grids = [steps_mass(t, run.tensors(name, t.example_id, "attention")["answer_segment_mass"]) for t in with_attention]
            written = figures.small_multiples(grids, [t.example_id for t in with_attention], figure_dir / "answer-to-steps-grid",
                                              f"{run.name} / {name}: answer-to-steps attention", "attention mass")
            context["grid_figure"] = site.figure("answer-to-steps-grid", run.name, name, None, written, page_dir)
        from generator.render.sections import DATASET_SECTIONS

        context["sections"] = [section for kind in DATASET_SECTIONS
                               if (section := DATASET_SECTIONS.get(kind)(site, run, name, trajectories, page_dir))]
        path = f"{page_dir}/index.md"
        pages.append(Page(path, "dataset.md.j2", {"dataset": context},
                          IndexEntry("dataset", run.name, name, None, html_path(path))))
    return pages


def token_views(trajectory: Trajectory) -> list[dict[str, Any]]:
    owner = {}
    for seg in trajectory.segments:
        for index in range(seg.start, seg.end):
            owner[index] = seg
    views = []
    for index, (token, (start, end)) in enumerate(zip(trajectory.tokens, trajectory.token_offsets)):
        seg = owner.get(index)
        views.append({"index": index, "text": plots.display_token(token), "special": start == end,
                      "kind": seg.kind if seg else "none", "segment": seg.name if seg else "no segment"})
    return views


@register_page_kind("example")
def example_pages(site: SiteContext, run: Run) -> list[Page]:
    pages = []
    for name in run.dataset_names():
        for trajectory in run.trajectories(name):
            path = example_path(run, name, trajectory.example_id)
            page_dir = path.rsplit("/", 1)[0]
            context: dict[str, Any] = {
                "id": trajectory.example_id, "dataset": name, "run": run.name,
                "prompt": trajectory.prompt, "generated": trajectory.generated_text,
                "expected": trajectory.expected_answer if trajectory.expected_answer is not None else "",
                "parsed": trajectory.parsed_answer if trajectory.parsed_answer is not None else "—",
                "correct": trajectory.correct,
                "metadata": [(k, v) for k, v in sorted(trajectory.metadata.items())],
                "tokens": token_views(trajectory),
                "segments": [{"name": s.name, "kind": s.kind, "start": s.start, "end": s.end,
                              "text": trajectory.text[s.char_start:s.char_end]} for s in trajectory.segments],
                "attention_plot": None, "attention_note": None, "answer_plot": None, "answer_figure": None,
            }
            if run.has_tensors(name, trajectory.example_id, "attention"):
                tensors = run.tensors(name, trajectory.example_id, "attention")
                base = f"atlas-{run.name}-{name}-{trajectory.example_id}"
                if "maps" in tensors:
                    context["attention_plot"] = plot_item(plots.token_attention_heatmap(
                        tensors["maps"], trajectory.tokens, f"{base}-attention"))
                elif "pooled_mean" in tensors:
                    context["attention_plot"] = plot_item(plots.pooled_attention_heatmap(
                        tensors["pooled_mean"], tensors["pooled_max"], tensors["pooled_heads"],
                        tensors["pooled_edges"], trajectory.tokens, f"{base}-pooled"))
                    context["attention_note"] = (f"This sequence has {len(trajectory.tokens)} tokens: maps are pooled "
                                                 "into blocks for the heads listed in analyses.attention.map_heads.")
                else:
                    context["attention_note"] = (f"This sequence has {len(trajectory.tokens)} tokens, more than the run "
                                                 "stored full maps for (analyses.attention.max_map_tokens); list heads "
                                                 "in analyses.attention.map_heads to keep pooled maps.")
                mass = tensors["answer_segment_mass"]  # [layer, head, segment]
                seg_names = [s.name for s in trajectory.segments]
                seg_text = [f"{s.name}: {plots.display_token(trajectory.text[s.char_start:s.char_end])}" for s in trajectory.segments]
                context["answer_plot"] = plot_item(plots.layer_head_heatmap(
                    np.moveaxis(mass, 2, 0), seg_names, f"{base}-answer", "Answer attention to", "mass", seg_text))
                if any(seg.kind == "step" for seg in trajectory.segments):
                    written = figures.layer_head_grid(
                        steps_mass(trajectory, mass),
                        site.docs_dir / page_dir / "figures" / f"{trajectory.example_id}-answer-to-steps",
                        f"{trajectory.example_id}: answer-to-steps attention", "attention mass")
                    context["answer_figure"] = site.figure("answer-to-steps", run.name, name, trajectory.example_id,
                                                           written, page_dir)
            from generator.render.sections import EXAMPLE_SECTIONS

            context["sections"] = [section for kind in EXAMPLE_SECTIONS
                                   if (section := EXAMPLE_SECTIONS.get(kind)(site, run, trajectory, page_dir))]
            pages.append(Page(path, "example.md.j2", {"example": context},
                              IndexEntry("example", run.name, name, trajectory.example_id, html_path(path))))
    return pages
