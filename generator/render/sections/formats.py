"""Section of the prompt-format analysis: rates per format with intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from generator.render import figures, plots
from generator.render.sections.base import DATASET_SECTIONS, embed
from generator.store.records import Trajectory
from generator.store.run_directory import Run


def formats_dataset(site, run: Run, dataset: str, trajectories: list[Trajectory], page_dir: str):
    summary = run.dataset_result(dataset, "formats")
    if summary is None:
        return None

    def cell(rate):
        if not rate or rate["rate"] is None:
            return "–"
        return f"{100 * rate['rate']:.1f}% ({rate['k']}/{rate['n']}; 95% CI {100 * rate['ci_low']:.0f}–{100 * rate['ci_high']:.0f}%)"

    rows = [{"format": r["format"], "template": r["template"], "note": r.get("note"),
             "correct": cell(r.get("correct")), "bug": cell(r.get("bug"))} for r in summary["formats"]]
    measured = [r for r in summary["formats"] if "correct" in r]
    context: dict[str, Any] = {"template": "_section_formats_dataset.md.j2", "rows": rows,
                               "bug_field": summary["bug_field"], "bars": None}
    if measured:
        series = {"correct": {r["format"]: {"mean": r["correct"]["rate"], "ci_low": r["correct"]["ci_low"],
                                            "ci_high": r["correct"]["ci_high"], "n": r["correct"]["n"]} for r in measured},
                  "bug": {r["format"]: {"mean": r["bug"]["rate"], "ci_low": r["bug"]["ci_low"],
                                        "ci_high": r["bug"]["ci_high"], "n": r["bug"]["n"]} for r in measured}}
        context["bars"] = embed(plots.bars_with_ci(series, f"atlas-{run.name}-{dataset}-formats", "Rate by format", "rate"))
        names = [r["format"] for r in measured]
        written = figures.bars_with_ci(names, [r["bug"]["rate"] if r["bug"]["rate"] is not None else np.nan for r in measured],
                                       [r["bug"]["ci_low"] if r["bug"]["ci_low"] is not None else np.nan for r in measured],
                                       [r["bug"]["ci_high"] if r["bug"]["ci_high"] is not None else np.nan for r in measured],
                                       site.docs_dir / page_dir / "figures" / "format-bug-rates",
                                       f"{dataset}: '{summary['bug_field']}' answers by format", "rate")
        context["bars_figure"] = site.figure("format-bug-rates", run.name, dataset, None, written, page_dir)
    return context


DATASET_SECTIONS.register("formats", formats_dataset)
