"""Page sections of the analyses; importing a module registers its sections (in this order)."""

from generator.render.sections.base import DATASET_SECTIONS, EXAMPLE_SECTIONS

from generator.render.sections import agent, mechanism, attention, ablation, formats, patching, salience, features, head_ablation, logit_attribution, scaling, routing, token_classes, transplant, compositional  # noqa: E402,F401,I001

__all__ = ["DATASET_SECTIONS", "EXAMPLE_SECTIONS"]
