"""The analysis registry: one module per analysis, registered by name (in this order)."""

from __future__ import annotations

from generator.analyses.base import (ANALYSES, Analysis, AnalysisError, ExampleContext, get_analysis, list_analyses,
                                     register_analysis)

# Importing a module registers its analysis.
from generator.analyses import attention, ablation, salience, features, formats, patching, agent, head_ablation, logit_attribution, scaling, routing, token_classes, transplant, compositional  # noqa: E402,F401,I001

__all__ = ["ANALYSES", "Analysis", "AnalysisError", "ExampleContext", "get_analysis", "list_analyses",
           "register_analysis"]
