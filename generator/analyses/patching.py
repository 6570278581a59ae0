"""Activation patching between a clean and a corrupted version of each item.

Each item is asked twice, e.g. in two prompt formats. Where the model's two answers differ,
one component of one layer (residual stream entering it, attention output, MLP output, or a
single head's output) is copied from the clean run into the corrupted run at chosen
positions, and we ask whether that alone flips the corrupted answer to the clean one. All
patches of one item run as one batch; one generic loop makes every variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from generator.analyses import register_analysis
from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.analyses.statistics import rate_with_ci

COMPONENTS = ("resid_pre", "attn_out", "mlp_out")


@dataclass(frozen=True)
class PatchingOptions:
    clean_template: str = "P: {question}"
    corrupted_template: str = "Q: {question}"
    positions: str = "differing"  # "differing" (where the prompts' tokens differ), "last" or "all"
    heads: bool = True  # also patch each head of the attention output alone
    max_new_tokens: int = 12
    components: tuple[str, ...] = field(default=COMPONENTS)


def fill_template(template: str, metadata: dict, where: str) -> str:
    try:
        return template.format(**metadata)
    except KeyError as exc:
        raise AnalysisError(f"{where}: template {template!r} needs field {exc.args[0]!r}, "
                            "which this dataset item does not have") from exc


def greedy_ids(model, prompt_ids: list[int], max_new_tokens: int, eos: int) -> list[int]:
    import torch

    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([prompt_ids], device=model.device),
                             attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long, device=model.device),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=eos)
    return out[0, len(prompt_ids):].tolist()


def patch_all(model, clean_ids: list[int], corrupted_ids: list[int], sites: list, positions: np.ndarray):
    """Run the corrupted input once per site with that site copied from the clean run; return logits [site, vocab] at the end."""
    import torch

    from generator.capture.interventions import edited, recording

    with torch.no_grad(), recording(model, sites) as clean:
        model(input_ids=torch.tensor([clean_ids], device=model.device), use_cache=False)
    where = torch.as_tensor(positions, device=model.device)

    def copy_from_clean(site, row):
        def edit(activation):
            activation = activation.clone()
            activation[row, where] = clean[site][0, where].to(activation.dtype)
            return activation
        return edit

    batch = torch.tensor([corrupted_ids] * len(sites), device=model.device)
    with torch.no_grad(), edited(model, [(site, copy_from_clean(site, row)) for row, site in enumerate(sites)]):
        return model(input_ids=batch, use_cache=False).logits[:, -1].float()


@register_analysis
class PatchingAnalysis(Analysis):
    name = "patching"
    options_type = PatchingOptions

    def check_model(self, model, options: PatchingOptions) -> None:
        from generator.capture.architectures import layout_of

        layout_of(model)  # fails clearly for an architecture without module paths
        for component in options.components:
            if component not in COMPONENTS:
                raise AnalysisError(f"analyses.patching.components: unknown {component!r}; "
                                    f"expected some of {', '.join(COMPONENTS)}")
        if options.positions not in ("differing", "last", "all"):
            raise AnalysisError(f"analyses.patching.positions: expected 'differing', 'last' or 'all', "
                                f"got {options.positions!r}")

    def analyze_example(self, context: ExampleContext, options: PatchingOptions) -> dict[str, np.ndarray]:
        from generator.capture.interventions import Site

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
        result = {"informative": np.array([float(informative)], dtype=np.float32)}
        if not informative:
            return result | {"flips": flips, "head_flips": head_flips}
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
        patch = partial(patch_all, model, clean_ids, corrupted_ids)
        logits = patch(sites, positions)
        flipped = (logits.argmax(-1) == want).cpu().numpy().astype(np.float32)
        margin = (logits[:, want] - logits[:, have]).cpu().numpy().astype(np.float32)
        n_grid = n_layers * len(options.components)
        return result | {
            "flips": flipped[:n_grid].reshape(n_layers, len(options.components)),  # [layer, component]
            "logit_margin": margin[:n_grid].reshape(n_layers, len(options.components)),  # clean minus corrupted token
            "head_flips": flipped[n_grid:].reshape(n_layers, n_heads) if options.heads else head_flips,  # [layer, head]
            "positions": positions.astype(np.int64),
        }

    def summarize_dataset(self, trajectories, results, options: PatchingOptions, others) -> dict[str, Any]:
        informative = [r for r in results if r["informative"][0] == 1.0]
        summary: dict[str, Any] = {"components": list(options.components), "positions": options.positions,
                                   "clean_template": options.clean_template,
                                   "corrupted_template": options.corrupted_template,
                                   "n_items": len(results), "informative_items": len(informative)}
        if not informative:
            return summary
        flips = np.stack([r["flips"] for r in informative])  # [item, layer, component]
        summary["flip_rate"] = flips.mean(0).tolist()
        summary["flip_rate_ci"] = [[rate_with_ci(int(flips[:, l, c].sum()), len(informative))
                                    for c in range(flips.shape[2])] for l in range(flips.shape[1])]
        if options.heads:
            summary["head_flip_rate"] = np.stack([r["head_flips"] for r in informative]).mean(0).tolist()
        # generalisation: the share of items each (layer, component) flips, item by item
        summary["flips_by_item"] = {t.example_id: r["flips"].tolist()
                                    for t, r in zip(trajectories, results) if r["informative"][0] == 1.0}
        return summary
