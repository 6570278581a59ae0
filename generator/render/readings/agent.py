"""Readings of agent runs: does the answer follow the tool's observation?"""

from __future__ import annotations

from generator.render.readings.words import share
from generator.results.agent import AgentSummary


def counterfactual_reading(summary: AgentSummary) -> str:
    """How often the answer became the number put in place of the last numeric observation."""
    checked = summary.counterfactual_checked
    if checked == 0:
        return "No run had a numeric observation to replace: inconclusive here."
    return (f"In {share(summary.counterfactual_followed, checked)} runs whose last numeric observation was replaced "
            "by another number, the answer became that number.")
