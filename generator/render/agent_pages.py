"""Pages across runs for agent datasets: an index of every agent run, and comparisons of one query.

Each agent run (one query answered by the loop) already has its example page; these pages
span runs: the index lists all of them with category tabs, and a comparison page puts the
same query as answered by several runs (two models, two settings, with and without a tool)
side by side, on one colour scale, with their differences step by step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from generator.render.citation import SiteSettings
from generator.render.context import IndexEntry, Page, example_path, html_path, relative_link
from generator.render.pages import register_site_pages
from generator.render.sections.agent import agent_record, steps_grid, timeline
from generator.render.sections.base import format_number
from generator.results.agent import AgentExample
from generator.store.agent_record import AgentRecord
from generator.store.records import Trajectory
from generator.store.run_directory import Run

INDEX_PATH = "agent-runs.md"


@dataclass
class AgentRun:
    run: Run
    trajectory: Trajectory
    record: AgentRecord

    @property
    def key(self) -> tuple[str, str]:
        return self.trajectory.dataset, self.trajectory.example_id


def agent_datasets(run: Run) -> list[str]:
    """Datasets the run's config answered with the agent loop."""
    return [name for name in run.dataset_names() if run.manifest.dataset_settings(name).agent]


def collect(runs: list[Run]) -> list[AgentRun]:
    found = []
    for run in runs:
        for dataset in agent_datasets(run):
            for trajectory in run.trajectories(dataset):
                record = agent_record(run, trajectory)
                if record is not None:
                    found.append(AgentRun(run, trajectory, record))
    return found


def comparison_path(dataset: str, example_id: str) -> str:
    return f"compare/{dataset}/{example_id}.md"


@register_site_pages("agents", entry_kinds=("agents", "comparison"), what="agent-runs.md and compare/", order=10)
def agent_pages(runs: list[Run], earlier: list[IndexEntry], settings: SiteSettings) -> list[Page]:
    """The index of agent runs and one comparison page per query answered by two runs or more."""
    agent_runs = collect(runs)
    if not agent_runs:
        return []
    groups: dict[tuple[str, str], list[AgentRun]] = defaultdict(list)
    for item in agent_runs:
        groups[item.key].append(item)
    compared = {key: items for key, items in sorted(groups.items()) if len(items) > 1}
    rows = [_index_row(item, item.key in compared) for item in agent_runs]
    index = Page(INDEX_PATH, "agents.md.j2", {
        "rows": rows, "categories": sorted({r["category"] for r in rows if r["category"]}),
        "comparisons": [{"dataset": d, "id": i, "href": html_path(comparison_path(d, i)),
                         "runs": ", ".join(item.run.name for item in items)} for (d, i), items in compared.items()],
    }, IndexEntry("agents", None, None, None, html_path(INDEX_PATH)))
    return [index] + [comparison_page(items) for items in compared.values()]


def _index_row(item: AgentRun, compared: bool) -> dict:
    """One agent run's line in the index of agent runs."""
    return {
        "run": item.run.name, "dataset": item.trajectory.dataset, "id": item.trajectory.example_id,
        "href": html_path(example_path(item.run, *item.key)), "query": item.trajectory.prompt,
        "category": str(item.trajectory.metadata.get("category", "")), "status": item.record.status,
        "answer": item.trajectory.parsed_answer or "—", "correct": item.trajectory.correct,
        "calls": item.record.count("call"),
        "errors": item.record.count("observation", errors_only=True),
        "timestamp": item.record.timestamp,
        "compare": html_path(comparison_path(*item.key)) if compared else None,
    }


def _mean_by_segment(result: AgentExample | None, trajectory: Trajectory) -> dict[str, tuple[float, float]]:
    """Segment name -> (mass on the question, entropy), each a mean over layers and heads."""
    if result is None:
        return {}
    return {seg.name: (float(result.step_mass[:, :, i, 0].mean()), float(result.step_entropy[:, :, i].mean()))
            for i, seg in enumerate(trajectory.segments)}


def _differences(base: tuple, other: tuple) -> list[dict]:
    """Step by step, one run (item, result, page column) against the first: texts, question mass, entropy."""
    (first, first_result, first_column), (item, result, column) = base, other
    base_steps = {row["name"]: row["text"] for row in first_column["timeline"]}
    steps = {row["name"]: row["text"] for row in column["timeline"]}
    base_stats, stats = _mean_by_segment(first_result, first.trajectory), _mean_by_segment(result, item.trajectory)
    rows = []
    for name in dict.fromkeys([*base_stats, *stats]):
        a, b = base_stats.get(name), stats.get(name)
        rows.append({"name": name, "kind": name.split(" ")[0],
                     "first": base_steps.get(name, "" if name != "question" else first.trajectory.prompt),
                     "other": steps.get(name, "" if name != "question" else item.trajectory.prompt),
                     "same_text": base_steps.get(name) == steps.get(name),
                     "question_first": format_number(a[0] if a else None),
                     "question_other": format_number(b[0] if b else None),
                     "question_diff": format_number(b[0] - a[0] if a and b else None),
                     "entropy_diff": format_number(b[1] - a[1] if a and b else None)})
    return rows


def comparison_page(items: list[AgentRun]) -> Page:
    """One query as several runs answered it; differences are against the first run."""
    dataset, example_id = items[0].key
    path = comparison_path(dataset, example_id)
    page_dir = path.rsplit("/", 1)[0]
    results = [item.run.result(dataset, example_id, AgentExample) for item in items]
    grids = [r.step_mass.mean(axis=(0, 1)) for r in results if r is not None]
    high = float(max(g.max() for g in grids)) if grids else None  # one colour scale for every run
    columns = []
    for item, result in zip(items, results):
        target = f"atlas-compare-{item.run.name}-{dataset}-{example_id}"
        columns.append({
            "run": item.run.name, "model": item.run.manifest.model.id,
            "href": relative_link(html_path(example_path(item.run, dataset, example_id)), page_dir),
            "status": item.record.status, "tools": ", ".join(item.record.tools),
            "answer": item.trajectory.parsed_answer or "—", "correct": item.trajectory.correct,
            "timeline": timeline(item.record),
            "grid": steps_grid(result, item.trajectory, target, high) if result is not None else None})
    base = (items[0], results[0], columns[0])
    differences = [{"run": column["run"], "rows": _differences(base, (item, result, column))}
                   for item, result, column in zip(items[1:], results[1:], columns[1:])]
    context = {"dataset": dataset, "id": example_id, "query": items[0].trajectory.prompt,
               "first": columns[0]["run"], "columns": columns, "differences": differences,
               "index": relative_link(INDEX_PATH, page_dir)}
    return Page(path, "compare.md.j2", {"compare": context},
                IndexEntry("comparison", None, dataset, example_id, html_path(path)))
