"""Prompt helpers shared by the analyses that ask the model a question again (patching, formats, scaling, ...)."""

from __future__ import annotations

from generator.analyses.base import AnalysisError
from generator.results.behaviour import Behaviour, check_behaviour_field as check_behaviour
from generator.store.records import Trajectory


def fill_template(template: str, metadata: dict, where: str) -> str:
    """``template`` with the item's fields filled in; a missing field names the item."""
    try:
        return template.format(**metadata)
    except KeyError as exc:
        raise AnalysisError(f"{where}: template {template!r} needs field {exc.args[0]!r}, "
                            "which this dataset item does not have") from exc


def greedy_ids(model, prompt_ids: list[int], max_new_tokens: int, eos: int) -> list[int]:
    """The model's greedy continuation of one prompt (new token ids only)."""
    import torch

    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([prompt_ids], device=model.device),
                             attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long, device=model.device),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=eos)
    return out[0, len(prompt_ids):].tolist()


def target_answer(trajectory: Trajectory, behaviour: str) -> str | None:
    """The answer a behaviour looks for in this item (None: the item has none)."""
    return Behaviour.parse(behaviour).target(trajectory)


def item_prompt_ids(tokenizer, trajectory: Trajectory, template: str | None) -> list[int]:
    """The item's prompt tokens: its own, or the item asked again through ``template``."""
    if template is None:
        return list(trajectory.token_ids[:trajectory.n_prompt_tokens])
    prompt = fill_template(template, trajectory.metadata | {"prompt": trajectory.prompt},
                           f"{trajectory.dataset}/{trajectory.example_id}")
    return list(tokenizer(prompt)["input_ids"])
