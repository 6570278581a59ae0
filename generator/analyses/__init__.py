"""The analysis registry: every declared analysis class, in page order (no list here: see base.load_analyses)."""

from __future__ import annotations

from generator.analyses.base import (ANALYSES, Analysis, AnalysisError, ExampleContext, get_analysis, list_analyses,
                                     load_analyses, register_analysis)

load_analyses()

__all__ = ["ANALYSES", "Analysis", "AnalysisError", "ExampleContext", "get_analysis", "list_analyses",
           "load_analyses", "register_analysis"]
