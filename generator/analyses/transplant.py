"""Attention transplantation: the attention weights of one version of an item used in the other.

Two versions of each item (the ``patching`` analysis's clean and corrupted templates) are
answered greedily; where the answers differ, each is run again on its prompt plus the shared
start of the answers with the other's weights at one layer (each layer, then all at once; with
``heads``, each head alone too): the transplant *flips* the item when the run then picks the
donor's answer token. Both directions run in batches of at most ``batch_size`` recipient rows,
each batch led by the donor itself, whose weights are copied as they are computed (none are
stored); ``layers`` limits the transplants to the layers named.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, check_layers
from generator.analyses.interventions import intervene
from generator.analyses.prompting import fill_template
from generator.analyses.scoring import greedy_ids, last_logits_measure
from generator.capture.transplant import (attention_recorded, attention_transplanted,
                                          attention_transplanted_in_batch)
from generator.results.transplant import TRANSPLANT, TransplantExample, TransplantSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class TransplantOptions:
    clean_template: str = "P: {question}"
    corrupted_template: str = "Q: {question}"
    max_new_tokens: int = 12
    layers: tuple[int, ...] = ()  # the layers whose weights are transplanted (default: every layer)
    heads: bool = False  # also each head of those layers alone (L x H more transplants per direction)
    batch_size: int = 8  # transplanted copies of the item per forward pass

    def __post_init__(self) -> None:
        for key in ("max_new_tokens", "batch_size"):
            if getattr(self, key) < 1:
                raise OptionError(key, f"expected a positive integer, got {getattr(self, key)}")


def transplant_rows(model, ids: list[int], donor, layers: Sequence[int], batch_size: int = 64):
    """Logits at the last position of ``ids`` with the donor's weights at each layer alone, then at all of them.

    ``donor`` is the donor's token ids (as long as ``ids``: it runs as row 0 of each batch and
    nothing is kept) or its recorded weights (``record``).
    """
    return transplanted_logits(model, ids, donor, [{layer} for layer in layers] + [set(layers)], batch_size)


def transplanted_logits(model, ids: list[int], donor, specs: list[set], batch_size: int = 64):
    """Logits at the last position of ``ids``, one row per spec: layers and/or (layer, head) pairs transplanted."""
    if isinstance(donor, dict):
        (logits,) = intervene(specs, lambda chunk: attention_transplanted(model, donor, chunk),
                              last_logits_measure(model, ids), batch_size)
    else:
        (logits,) = intervene(specs, lambda chunk: attention_transplanted_in_batch(model, chunk),
                              last_logits_measure(model, ids, donor), batch_size)
    return logits


def record(model, ids: list[int], layers: Sequence[int] | None = None) -> dict:
    """Each layer's attention weights for ``ids`` (only ``layers``, when given)."""
    import torch

    with torch.no_grad(), attention_recorded(model, layers) as weights:
        model(input_ids=torch.tensor([ids], device=model.device), use_cache=False, logits_to_keep=1)
    return dict(weights)


class TransplantAnalysis(Analysis):
    declaration = TRANSPLANT
    options_type = TransplantOptions

    def check_model(self, model, options: TransplantOptions) -> None:
        check_layers(model, options.layers, "analyses.transplant.layers")

    def analyze_example(self, context: ExampleContext, options: TransplantOptions) -> TransplantExample:
        model, tokenizer, trajectory = context.model, context.tokenizer, context.trajectory
        where = f"{trajectory.dataset}/{trajectory.example_id}"
        fields = trajectory.metadata | {"prompt": trajectory.prompt}
        clean = tokenizer(fill_template(options.clean_template, fields, where))["input_ids"]
        corrupted = tokenizer(fill_template(options.corrupted_template, fields, where))["input_ids"]
        if len(clean) != len(corrupted):
            raise AnalysisError(f"{where}: the clean and corrupted prompts have {len(clean)} and {len(corrupted)} "
                                "tokens; transplanting attention needs prompts that align token by token")
        layers = list(options.layers) or list(range(model.config.get_text_config().num_hidden_layers))
        clean_out = greedy_ids(model, clean, options.max_new_tokens, tokenizer.eos_token_id)
        corrupted_out = greedy_ids(model, corrupted, options.max_new_tokens, tokenizer.eos_token_id)
        decision = next((i for i, (a, b) in enumerate(zip(clean_out, corrupted_out)) if a != b), None)
        if decision is None:
            config = model.config.get_text_config()
            return TransplantExample(np.array([0.0], np.float32), np.full((len(layers) + 1, 2), np.nan, np.float32),
                                     np.full((config.num_hidden_layers, config.num_attention_heads, 2), np.nan,
                                             np.float32) if options.heads else None)
        shared = clean_out[:decision]
        clean_ids, corrupted_ids = clean + shared, corrupted + shared
        # the donor runs in each batch beside its recipients: no version's weights are ever kept
        n_heads = model.config.get_text_config().num_attention_heads
        specs = [{layer} for layer in layers] + [set(layers)]
        if options.heads:
            specs += [{(layer, head)} for layer in layers for head in range(n_heads)]
        into_corrupted = transplanted_logits(model, corrupted_ids, clean_ids, specs, options.batch_size).argmax(-1)
        into_clean = transplanted_logits(model, clean_ids, corrupted_ids, specs, options.batch_size).argmax(-1)
        flips = np.stack([(into_corrupted == clean_out[decision]).cpu().numpy(),
                          (into_clean == corrupted_out[decision]).cpu().numpy()], axis=1).astype(np.float32)
        result = TransplantExample(np.array([1.0], np.float32), flips[:len(layers) + 1])
        if not options.heads:
            return result
        n_layers = model.config.get_text_config().num_hidden_layers
        head_flips = np.full((n_layers, n_heads, 2), np.nan, np.float32)
        head_flips[layers] = flips[len(layers) + 1:].reshape(len(layers), n_heads, 2)
        return dataclasses.replace(result, head_flips=head_flips)

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[TransplantExample],
                          options: TransplantOptions, others: Mapping[type, list[Any]]) -> TransplantSummary:
        informative = [d for d in digests if d is not None and d.informative[0] == 1.0]
        n_rows = digests[0].flips.shape[0] if digests else 1
        layers = list(options.layers) or list(range(n_rows - 1))
        rows = tuple(f"layer {i}" for i in layers) + ("all layers" if not options.layers else "these layers together",)
        rate = np.mean([d.flips for d in informative], axis=0) if informative else None
        heads = [d.head_flips for d in informative if d.head_flips is not None]
        head_rate = np.mean(heads, axis=0) if heads else None
        return TransplantSummary(options.clean_template, options.corrupted_template, rows, len(digests),
                                 len(informative), _as_tuples(rate), _as_tuples(head_rate))


def _as_tuples(array: np.ndarray | None) -> tuple | None:
    """An array as nested tuples of floats (what the JSON summary holds); None stays None."""
    if array is None:
        return None
    if array.ndim == 1:
        return tuple(float(v) for v in array)
    return tuple(_as_tuples(part) for part in array)
