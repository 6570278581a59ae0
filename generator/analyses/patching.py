"""Activation patching between a clean and a corrupted version of each item.

Each item is asked twice, e.g. in two prompt formats. Where the model's two answers differ,
one component of one layer (residual stream entering it, attention output, MLP output, or a
single head's output) is copied from the clean run into the corrupted run at chosen
positions, and we ask whether that alone flips the corrupted answer to the clean one. All
patches of one item run as one batch; one generic loop makes every variant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.analyses.interventions import intervene
from generator.analyses.prompting import fill_template
from generator.analyses.scoring import greedy_ids, last_logits_measure
from generator.analyses.statistics import rate_with_ci
from generator.capture.architectures import layout_of
from generator.capture.interventions import Site, edited, recording
from generator.results.patching import PATCHING, PatchingExample, PatchingSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory

Component = Literal["resid_pre", "attn_out", "mlp_out"]
COMPONENTS: tuple[Component, ...] = ("resid_pre", "attn_out", "mlp_out")


@dataclass(frozen=True)
class PatchingOptions:
    clean_template: str = "P: {question}"
    corrupted_template: str = "Q: {question}"
    # "differing" (where the prompts' tokens differ), "last" or "all"
    positions: Literal["differing", "last", "all"] = "differing"
    heads: bool = True  # also patch each head of the attention output alone
    max_new_tokens: int = 12
    components: tuple[Component, ...] = field(default=COMPONENTS)
    batch_size: int = 64  # patched copies of the item per forward pass

    def __post_init__(self) -> None:
        if not self.components:
            raise OptionError("components", f"expected at least one of {', '.join(COMPONENTS)}")
        for key in ("max_new_tokens", "batch_size"):
            if getattr(self, key) < 1:
                raise OptionError(key, f"expected a positive integer, got {getattr(self, key)}")


def patch_all(model, clean_ids: list[int], corrupted_ids: list[int], sites: list, positions: np.ndarray,
              batch_size: int = 64):
    """Run the corrupted input once per site with that site copied from the clean run; return logits [site, vocab] at the end."""
    import torch

    with torch.no_grad(), recording(model, sites) as clean:
        model(input_ids=torch.tensor([clean_ids], device=model.device), use_cache=False, logits_to_keep=1)
    where = torch.as_tensor(positions, device=model.device)

    def copy_from_clean(site, row):
        def edit(activation):
            activation = activation.clone()
            activation[row, where] = clean[site][0, where].to(activation.dtype)
            return activation
        return edit

    def copied(chunk):
        return edited(model, [(site, copy_from_clean(site, row)) for row, site in enumerate(chunk)])

    (logits,) = intervene(sites, copied, last_logits_measure(model, corrupted_ids), batch_size)
    return logits.float()


class PatchingAnalysis(Analysis):
    declaration = PATCHING
    options_type = PatchingOptions

    def check_model(self, model, options: PatchingOptions) -> None:
        layout_of(model)  # fails clearly for an architecture without module paths

    def analyze_example(self, context: ExampleContext, options: PatchingOptions) -> PatchingExample:
        model, tokenizer, trajectory = context.model, context.tokenizer, context.trajectory
        where = f"{trajectory.dataset}/{trajectory.example_id}"
        clean = tokenizer(fill_template(options.clean_template, trajectory.metadata | {"prompt": trajectory.prompt}, where))["input_ids"]
        corrupted = tokenizer(fill_template(options.corrupted_template, trajectory.metadata | {"prompt": trajectory.prompt}, where))["input_ids"]
        if len(clean) != len(corrupted):
            raise AnalysisError(f"{where}: the clean and corrupted prompts have {len(clean)} and {len(corrupted)} "
                                "tokens; patching needs prompts that align token by token")
        config = model.config.get_text_config()
        n_layers, n_heads = config.num_hidden_layers, config.num_attention_heads
        flips = np.full((n_layers, len(options.components)), np.nan, dtype=np.float32)
        head_flips = np.full((n_layers, n_heads), np.nan, dtype=np.float32)
        clean_out = greedy_ids(model, clean, options.max_new_tokens, tokenizer.eos_token_id)
        corrupted_out = greedy_ids(model, corrupted, options.max_new_tokens, tokenizer.eos_token_id)
        decision = next((i for i, (a, b) in enumerate(zip(clean_out, corrupted_out)) if a != b), None)
        informative = decision is not None
        if not informative:
            return PatchingExample(np.array([0.0], dtype=np.float32), flips, head_flips)
        shared = clean_out[:decision]
        clean_ids, corrupted_ids = clean + shared, corrupted + shared
        want, have = clean_out[decision], corrupted_out[decision]
        if options.positions == "differing":
            positions = np.flatnonzero(np.array(clean_ids) != np.array(corrupted_ids))
        elif options.positions == "last":
            positions = np.array([len(clean_ids) - 1])
        else:
            positions = np.arange(len(clean_ids))
        sites = [Site(layer, component) for layer in range(n_layers) for component in options.components]
        if options.heads:
            sites += [Site(layer, "head", head) for layer in range(n_layers) for head in range(n_heads)]
        logits = patch_all(model, clean_ids, corrupted_ids, sites, positions, options.batch_size)
        flipped = (logits.argmax(-1) == want).cpu().numpy().astype(np.float32)
        margin = (logits[:, want] - logits[:, have]).cpu().numpy().astype(np.float32)
        n_grid = n_layers * len(options.components)
        return PatchingExample(
            informative=np.array([1.0], dtype=np.float32),
            flips=flipped[:n_grid].reshape(n_layers, len(options.components)),
            head_flips=flipped[n_grid:].reshape(n_layers, n_heads) if options.heads else head_flips,
            logit_margin=margin[:n_grid].reshape(n_layers, len(options.components)),
            positions=positions.astype(np.int64))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[PatchingExample],
                          options: PatchingOptions, others: Mapping[type, list[Any]]) -> PatchingSummary:
        informative = [(t, r) for t, r in zip(trajectories, digests) if r.informative[0] == 1.0]
        summary = PatchingSummary(components=tuple(options.components), positions=options.positions,
                                  clean_template=options.clean_template,
                                  corrupted_template=options.corrupted_template,
                                  n_items=len(digests), informative_items=len(informative))
        if not informative:
            return summary
        flips = np.stack([r.flips for _, r in informative])  # [item, layer, component]
        return dataclasses.replace(
            summary,
            flip_rate=_grid(flips.mean(0)),
            flip_rate_ci=tuple(tuple(rate_with_ci(int(flips[:, l, c].sum()), len(informative))
                                     for c in range(flips.shape[2])) for l in range(flips.shape[1])),
            head_flip_rate=_grid(np.stack([r.head_flips for _, r in informative]).mean(0)) if options.heads else None,
            # generalisation: the share of items each (layer, component) flips, item by item
            flips_by_item={t.example_id: _grid(r.flips) for t, r in informative})


def _grid(values: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(row) for row in values.tolist())
