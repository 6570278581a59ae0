"""Typed results and the declaration of every analysis, one module each; importing this finds them all.

These modules sit below both analyses (which build them) and render and importers (which
read them), so no stage reaches into another to share a result. Every module here is
imported (no list to keep), and plugins' declarations come in through the entry-point group
(``generator/results/declaration.py``).
"""

from generator.results.declaration import DECLARATIONS, AnalysisDeclaration, declarations, discover
from generator.store.result_types import RESULT_TYPES

discover(__name__)

__all__ = ["DECLARATIONS", "RESULT_TYPES", "AnalysisDeclaration", "declarations"]
