"""Page sections of the analyses, found through their declarations in page order (no list here)."""

from generator.render.sections.base import dataset_sections, example_sections

__all__ = ["dataset_sections", "example_sections"]
