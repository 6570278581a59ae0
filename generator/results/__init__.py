"""Typed results of every analysis, one module each; importing this registers them all.

These modules sit below both analyses (which build them) and render and importers (which
read them), so no stage reaches into another to share a result.
"""

from generator.results import attention, ablation, salience, features, formats, patching, agent, head_ablation, logit_attribution, scaling, routing, transplant, compositional  # noqa: F401,I001
from generator.store.result_types import RESULT_TYPES

__all__ = ["RESULT_TYPES"]
