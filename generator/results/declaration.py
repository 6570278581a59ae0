"""An analysis declared once: its name, records, analysis class, page sections, templates and place on a page.

A declaration sits beside the analysis's record types (``generator/results/<name>.py``),
the one layer that both the analyses (which build the records) and the pages (which show
them) read. It names the analysis class and the section functions by import path, so
reading it imports neither torch nor the renderer: the pipeline imports the class, the
renderer the sections, each when it loads. Built-in declarations are found by importing
every module of ``generator.results``; a third-party package adds one the same way through
the ``attention_atlas.analyses`` entry-point group, whose entries name a declaration:

    [project.entry-points."attention_atlas.analyses"]
    my_analysis = "my_package.results:DECLARATION"

Nothing else lists analyses, so adding one touches only its own files.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.registry import Registry
from generator.store.names import name_problem
from generator.store.result_types import RESULT_TYPES, DatasetSummary, ExampleResult, ResultTypes

ENTRY_POINT_GROUP = "attention_atlas.analyses"


class DeclarationError(ImportError):
    """A declaration that cannot be loaded; the message names it, the entry point and what is wrong."""


@dataclass(frozen=True)
class AnalysisDeclaration:
    """Everything that makes an analysis one unit; ``name`` is the only place its name is written."""

    name: str
    description: str  # one sentence, shown in the run format's documentation
    page_order: int  # where its sections sit on a page, and its place in listings (lower first)
    example: type[ExampleResult] | None = None  # what it stores per example
    summary: type[DatasetSummary] | None = None  # what it stores per dataset
    analysis: str | None = None  # "module:Class" of its Analysis; None for a section over others' results
    dataset_section: str | None = None  # "module:function" of its dataset page section
    example_section: str | None = None  # "module:function" of its example page section
    templates: Path | None = None  # a folder of its section templates, when they are not among ours


DECLARATIONS: Registry[AnalysisDeclaration] = Registry("analysis declaration")


def declare_analysis(declaration: AnalysisDeclaration) -> AnalysisDeclaration:
    """Register ``declaration`` and tie its record types to its name (a name runs and pages can use)."""
    problem = name_problem(declaration.name)
    if problem:
        raise DeclarationError(f"analysis {declaration.name!r}: {problem} (it names result files)")
    DECLARATIONS.register(declaration.name, declaration)
    for record in (declaration.example, declaration.summary):
        if record is not None:
            record.analysis = declaration.name
    if declaration.example is not None or declaration.summary is not None:
        RESULT_TYPES.register(declaration.name, ResultTypes(declaration.name, declaration.example,
                                                             declaration.summary, declaration.description))
    return declaration


def withdraw_analysis(name: str) -> None:
    """Remove a declaration (for tests that declare a throwaway analysis)."""
    DECLARATIONS.unregister(name)
    if name in RESULT_TYPES:
        RESULT_TYPES.unregister(name)


def declarations() -> list[AnalysisDeclaration]:
    """Every declared analysis in page order (built-ins and plugins alike)."""
    return sorted((d for _, d in DECLARATIONS.items()), key=lambda d: (d.page_order, d.name))


def load_object(path: str, declaration: str) -> Any:
    """The object a ``module:attribute`` path names; a wrong path is one line naming the declaration."""
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise DeclarationError(f"analysis {declaration!r}: cannot load {path!r} ({type(exc).__name__}: {exc})") \
            from exc


def discover(package: str, group: str = ENTRY_POINT_GROUP) -> None:
    """Import every module of ``package`` (each declares its built-ins) and load the plugins of ``group``."""
    root = importlib.import_module(package)
    for module in pkgutil.iter_modules(root.__path__):
        importlib.import_module(f"{package}.{module.name}")
    for entry in importlib.metadata.entry_points(group=group):
        try:
            declaration = entry.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin's import is reported as its own
            raise DeclarationError(f"entry point {entry.name!r} ({entry.value}) in group {group!r} could not be "
                                   f"loaded: {type(exc).__name__}: {exc}") from exc
        if not isinstance(declaration, AnalysisDeclaration):
            raise DeclarationError(f"entry point {entry.name!r} ({entry.value}) in group {group!r}: expected an "
                                   f"AnalysisDeclaration, got {type(declaration).__name__}")
        if declaration.name not in DECLARATIONS:
            declare_analysis(declaration)
        elif DECLARATIONS.get(declaration.name) is not declaration:
            raise DeclarationError(f"entry point {entry.name!r} ({entry.value}) in group {group!r}: analysis "
                                   f"{declaration.name!r} is declared already (names are unique; choose another)")
