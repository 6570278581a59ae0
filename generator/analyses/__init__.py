"""The analysis registry: one module per analysis, registered by name."""

from __future__ import annotations

from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.registry import Registry

ANALYSES: Registry[Analysis] = Registry("analysis")


def register_analysis(cls: type[Analysis]) -> type[Analysis]:
    ANALYSES.register(cls.name, cls())
    return cls


def get_analysis(name: str) -> Analysis:
    return ANALYSES.get(name)


def list_analyses() -> list[str]:
    return ANALYSES.names()


# Importing a module registers its analysis.
from generator.analyses import ablation, attention, features, formats, patching, salience  # noqa: E402,F401

__all__ = ["Analysis", "AnalysisError", "ExampleContext", "get_analysis", "list_analyses", "register_analysis"]
