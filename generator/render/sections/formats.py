"""Section of the prompt-format analysis: rates per format with intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.context import SiteContext, plot_target
from generator.render.sections.base import embed, finite_or_nan
from generator.results.formats import FormatsExample, FormatsSummary
from generator.results.statistics import MeanWithCI, RateWithCI
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def rate_text(rate: RateWithCI | None) -> str:
    if rate is None or rate.rate is None:
        return "–"
    return f"{100 * rate.rate:.1f}% ({rate.k}/{rate.n}; 95% CI {100 * rate.ci_low:.0f}–{100 * rate.ci_high:.0f}%)"


def as_mean(rate: RateWithCI) -> MeanWithCI:
    return MeanWithCI(rate.n, rate.rate, rate.ci_low, rate.ci_high)


def formats_dataset(site: SiteContext, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.summary(dataset, FormatsSummary)
    if summary is None:
        return None
    rows = [{"format": r.format, "template": r.template, "note": r.note, "correct": rate_text(r.correct),
             "bug": rate_text(r.bug)} for r in summary.formats]
    measured = [r for r in summary.formats if r.correct is not None and r.bug is not None]
    context: dict[str, Any] = {"rows": rows,
                               "bug_field": summary.bug_field, "bars": None}
    if measured:
        series = {"correct": {r.format: as_mean(r.correct) for r in measured},
                  "bug": {r.format: as_mean(r.bug) for r in measured}}
        context["bars"] = embed(plots.bars_with_ci(series, plot_target(run, dataset, "formats"), "Rate by format",
                                                   "rate"))
        written = figures.bars_with_ci([r.format for r in measured], [finite_or_nan(r.bug.rate) for r in measured],
                                       [finite_or_nan(r.bug.ci_low) for r in measured],
                                       [finite_or_nan(r.bug.ci_high) for r in measured],
                                       site.docs_dir / page_dir / "figures" / "format-bug-rates",
                                       f"{dataset}: '{summary.bug_field}' answers by format", "rate")
        context["bars_figure"] = site.figure("format-bug-rates", run.name, dataset, None, written, page_dir)
    return context


def verdict(value: float) -> str:
    return "–" if np.isnan(value) else ("yes" if value == 1 else "no")


def formats_example(site: SiteContext, run: Run, trajectory: Trajectory, page_dir: str) -> dict[str, Any] | None:
    result = run.result(trajectory.dataset, trajectory.example_id, FormatsExample)
    summary = run.summary(trajectory.dataset, FormatsSummary)
    if result is None or summary is None or len(summary.formats) != result.correct.size:
        return None
    rows = [{"format": row.format, "template": row.template,
             "correct": verdict(result.correct[i]) if result.available[i] else "not run",
             "bug": verdict(result.bug[i]) if result.available[i] else "not run"}
            for i, row in enumerate(summary.formats)]
    return {"rows": rows, "bug_field": summary.bug_field}
