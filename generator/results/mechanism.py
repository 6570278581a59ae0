"""The dataset page's mechanism summary: no analysis or records of its own, one section over others' results.

It puts the panels of formats, token classes, scaling, transplantation and head ablation side
by side (``generator/render/sections/mechanism.py``), right after an agent run's timeline.
"""

from __future__ import annotations

from generator.results.declaration import AnalysisDeclaration, declare_analysis

MECHANISM = declare_analysis(AnalysisDeclaration(
    name="mechanism", page_order=20,
    description="The seed's four mechanism panels side by side, from the analyses that ran on a dataset.",
    dataset_section="generator.render.sections.mechanism:mechanism_dataset"))
