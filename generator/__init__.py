"""Attention Atlas: run analyses on a causal LM, store them as a run directory, publish a site.

The public surface is small; everything else is an implementation detail of its stage.
"""

from generator.config import ConfigError, RunConfig, load_config
from generator.store.records import Manifest, Segment, Trajectory
from generator.store.run_directory import Run, load_run

__all__ = ["ConfigError", "Manifest", "Run", "RunConfig", "Segment", "Trajectory", "load_config", "load_run"]
