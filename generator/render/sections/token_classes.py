"""Section of token-class attention: mass on each class and entropy by layer, every format in one figure."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.format_lines import format_lines, format_mass_drawing, format_mass_figure
from generator.render.readings.attention import decision_reading
from generator.render.sections.base import embed, small_matrix
from generator.results.token_classes import TokenClassesExample, TokenClassesSummary
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def token_classes_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory],
                          page_dir: str) -> dict[str, Any] | None:
    summary = run.summary(dataset, TokenClassesSummary)
    if summary is None or not summary.n_examples:
        return None
    series = {name: np.array(values) for name, values in zip(summary.classes, summary.mass_by_layer)}
    written = figures.lines_by_layer(series, site.docs_dir / page_dir / "figures" / "token-classes",
                                     f"{dataset}: attention to token classes", "mass")
    context = {"summary": summary,
               "plot": embed(plots.line_by_layer(series, plot_target(run, dataset, "token-classes"),
                                                 f"Attention from the {summary.queries} tokens to each class", "mass")),
               "figure": site.figure("token-classes", run.name, dataset, None, written, page_dir),
               "formats": None, "decision": None}
    lines = format_lines(summary)
    if lines is not None:
        mass_title, entropy_title = "Last prompt token: mass on each class", "Last prompt token: attention entropy"
        entropy_args = (lines["entropy"], entropy_title, "entropy (nats)")
        written = figures.panel_grid(
            [format_mass_drawing(lines, mass_title),
             partial(figures.draw_lines, series=lines["entropy"], title=entropy_title, y_label="entropy (nats)",
                     dashes=lines["dashes"], colors=lines["colors"])],
            site.docs_dir / page_dir / "figures" / "token-classes-by-format",
            f"{dataset}: token classes and entropy by format",
            table=figures.lines_table({**{f"mass: {name}": v for name, v in lines["mass"].items()},
                                       **{f"entropy: {name}": v for name, v in lines["entropy"].items()}}))
        context["formats"] = {
            "names": [f.format for f in summary.formats if f.n_examples], "skipped": lines["skipped"],
            "plot": embed(plots.panel_grid([format_mass_figure(lines, mass_title, 480),
                                            plots.lines_figure(*entropy_args, lines["dashes"], lines["colors"], 480)],
                                           plot_target(run, dataset, "token-classes-by-format"))),
            "figure": site.figure("token-classes-by-format", run.name, dataset, None, written, page_dir)}
    context["decision"] = decision_section(site, run, dataset, summary, page_dir)
    return context


def decision_section(site: SiteContext, run: Run, dataset: str, summary: TokenClassesSummary,
                     page_dir: str) -> dict[str, Any] | None:
    """The formats compared at the decision token: the reading and the mass lines (None: no item's formats part)."""
    reading = decision_reading(summary)
    lines = format_lines(summary, at_decision=True)
    if reading is None or lines is None:
        return None
    title = "Decision token: mass on each class"
    written = figures.panel_grid([format_mass_drawing(lines, title)], site.docs_dir / page_dir / "figures" /
                                 "token-classes-at-decision", f"{dataset}: token classes at the decision token",
                                 columns=1, table=figures.lines_table(lines["mass"]))
    return {"reading": reading,
            "plot": embed(plots.panel_grid([format_mass_figure(lines, title, 480)],
                                           plot_target(run, dataset, "token-classes-at-decision"))),
            "figure": site.figure("token-classes-at-decision", run.name, dataset, None, written, page_dir)}


def decision_rows(result: TokenClassesExample, formats: list[str], classes) -> list[tuple[str, np.ndarray]]:
    """One row per format and class at the decision token (the last before the formats' answers part): its
    label and its mass per layer (mean over heads); none when the answers never part or the run predates it."""
    masses = result.decision_class_mass
    if masses is None or np.isnan(masses).all():
        return []
    return [(f"{class_name} ({name}, decision token)", masses[index, :, :, k].mean(axis=1))
            for index, name in enumerate(formats) if not np.isnan(masses[index]).all()
            for k, class_name in enumerate(classes)]


def decision_words(result: TokenClassesExample) -> str | None:
    """Where this item's formats part, for the section's sentence (None: they never do, or not measured)."""
    if result.decision_offset is None or int(result.decision_offset[0]) < 0:
        return None
    shared = int(result.decision_offset[0])
    return ("the formats' greedy answers part at their first token" if shared == 0 else
            f"the formats' greedy answers share {shared} token{'s' if shared > 1 else ''} before they part")


def token_classes_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, TokenClassesExample)
    summary = run.summary(trajectory.dataset, TokenClassesSummary)
    if result is None or summary is None:
        return None
    rows = [f"{name} ({summary.queries} tokens)" for name in summary.classes]
    grids = [result.class_mass.mean(axis=1).T]  # [class, layer]
    formats = [f.format for f in summary.formats]
    for index, name in enumerate(formats if result.format_class_mass is not None else []):
        if not np.isnan(result.format_class_mass[index]).all():
            rows += [f"{class_name} ({name}, last prompt token)" for class_name in summary.classes]
            grids.append(result.format_class_mass[index].mean(axis=1).T)
    decided = decision_rows(result, formats, summary.classes)
    if decided:
        rows += [label for label, _ in decided]
        grids.append(np.stack([values for _, values in decided]))
    target = plot_target(run, trajectory.dataset, trajectory.example_id, "token-classes")
    return {"summary": summary, "by_format": len(grids) > 1, "decision": decision_words(result),
            "sizes": [{"name": name, "size": int(size)} for name, size in zip(summary.classes, result.class_sizes)],
            "map": small_matrix(np.concatenate(grids), rows, [f"layer {i}" for i in range(grids[0].shape[1])],
                                target, "Attention mass on each class (mean over heads)", "mass")}
