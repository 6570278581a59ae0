"""Attention transplantation: the attention weights of one version of an item used in the other.

Two versions of each item (the ``patching`` analysis's clean and corrupted templates) are
answered greedily; where the answers differ, both are run on their prompt plus the shared start
of the answers with their attention recorded, then each is run again with the other's weights
at one layer (each layer, then all at once): the transplant *flips* the item when the run then
picks the donor's answer token. Both directions, every layer, in batched forward passes of at
most ``batch_size`` rows; ``layers`` limits the transplants (and the weights kept: a recorded
layer is ``heads x T x T`` floats) to the layers named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, check_layers, register_analysis
from generator.analyses.prompting import fill_template, greedy_ids
from generator.capture.transplant import attention_recorded, attention_transplanted
from generator.results.transplant import TransplantExample, TransplantSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class TransplantOptions:
    clean_template: str = "P: {question}"
    corrupted_template: str = "Q: {question}"
    max_new_tokens: int = 12
    layers: tuple[int, ...] = ()  # the layers whose weights are transplanted (default: every layer)
    batch_size: int = 8  # transplanted copies of the item per forward pass

    def __post_init__(self) -> None:
        for key in ("max_new_tokens", "batch_size"):
            if getattr(self, key) < 1:
                raise OptionError(key, f"expected a positive integer, got {getattr(self, key)}")


def transplant_rows(model, ids: list[int], donor: dict, layers: Sequence[int], batch_size: int = 64):
    """Logits at the last position of ``ids`` with the donor's weights at each layer alone, then at all of them."""
    import torch

    rows = [{layer} for layer in layers] + [set(layers)]
    logits = []
    with torch.no_grad():
        for first in range(0, len(rows), batch_size):
            chunk = rows[first:first + batch_size]
            with attention_transplanted(model, donor, chunk):
                batch = torch.tensor([ids] * len(chunk), device=model.device)
                logits.append(model(input_ids=batch, use_cache=False, logits_to_keep=1).logits[:, -1])
    return torch.cat(logits)


def record(model, ids: list[int], layers: Sequence[int] | None = None) -> dict:
    """Each layer's attention weights for ``ids`` (only ``layers``, when given)."""
    import torch

    with torch.no_grad(), attention_recorded(model, layers) as weights:
        model(input_ids=torch.tensor([ids], device=model.device), use_cache=False, logits_to_keep=1)
    return dict(weights)


@register_analysis
class TransplantAnalysis(Analysis):
    name = "transplant"
    options_type = TransplantOptions
    result_type = TransplantExample
    summary_type = TransplantSummary

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
            return TransplantExample(np.array([0.0], np.float32), np.full((len(layers) + 1, 2), np.nan, np.float32))
        shared = clean_out[:decision]
        clean_ids, corrupted_ids = clean + shared, corrupted + shared
        clean_weights = record(model, clean_ids, layers)
        into_corrupted = transplant_rows(model, corrupted_ids, clean_weights, layers, options.batch_size).argmax(-1)
        del clean_weights  # one version's weights held at a time
        corrupted_weights = record(model, corrupted_ids, layers)
        into_clean = transplant_rows(model, clean_ids, corrupted_weights, layers, options.batch_size).argmax(-1)
        flips = np.stack([(into_corrupted == clean_out[decision]).cpu().numpy(),
                          (into_clean == corrupted_out[decision]).cpu().numpy()], axis=1)
        return TransplantExample(np.array([1.0], np.float32), flips.astype(np.float32))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[TransplantExample],
                          options: TransplantOptions, others: Mapping[type, list[Any]]) -> TransplantSummary:
        informative = [d for d in digests if d is not None and d.informative[0] == 1.0]
        n_rows = digests[0].flips.shape[0] if digests else 1
        layers = list(options.layers) or list(range(n_rows - 1))
        rows = tuple(f"layer {i}" for i in layers) + ("all layers" if not options.layers else "these layers together",)
        rate = np.mean([d.flips for d in informative], axis=0) if informative else None
        return TransplantSummary(options.clean_template, options.corrupted_template, rows, len(digests),
                                 len(informative),
                                 tuple(tuple(float(v) for v in row) for row in rate) if rate is not None else None)
