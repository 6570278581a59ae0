"""Attention Atlas: run analyses on a causal LM, store them as a run directory, publish a site.

The public surface is small; everything else is an implementation detail of its stage. Its names
are imported when first used (PEP 562), so that a stage imports only what it needs: a site build
never loads the analyses, the agent loop or the capture code.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {"ConfigError": "generator.config", "RunConfig": "generator.config", "load_config": "generator.config",
           "Manifest": "generator.store.records", "Segment": "generator.store.records",
           "Trajectory": "generator.store.records", "Run": "generator.store.run_directory",
           "load_run": "generator.store.run_directory"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
