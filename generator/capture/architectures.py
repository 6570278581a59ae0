"""Model-specific module paths, read from architectures.yaml (one table, no if/elif chains)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

TABLE = Path(__file__).with_name("architectures.yaml")


class UnsupportedArchitecture(ValueError):
    """A model class with no entry in architectures.yaml."""


@dataclass(frozen=True)
class Layout:
    decoder_layers: str
    attention: str
    attention_output: str
    mlp: str
    mlp_output: str
    final_norm: str


@lru_cache(maxsize=None)
def _table() -> dict[str, Layout]:
    return {name: Layout(**entry) for name, entry in yaml.safe_load(TABLE.read_text()).items()}


def layout_of(model) -> Layout:
    name = type(model).__name__
    try:
        return _table()[name]
    except KeyError:
        known = ", ".join(sorted(_table()))
        raise UnsupportedArchitecture(
            f"{name}: no entry in {TABLE.name} (supported: {known}); add its module paths there") from None


def resolve(root, dotted: str):
    module = root
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def decoder_layers(model) -> list:
    return list(resolve(model, layout_of(model).decoder_layers))


def layer_module(model, layer: int, component: str):
    """``component`` is 'block', 'attention', 'attention_output', 'mlp' or 'mlp_output' of layer ``layer``."""
    block = decoder_layers(model)[layer]
    return block if component == "block" else resolve(block, getattr(layout_of(model), component))


def final_norm(model):
    """The norm applied to the last residual stream before the unembedding (a logit lens applies it at every layer)."""
    return resolve(model, layout_of(model).final_norm)
