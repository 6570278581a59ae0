"""Prompts for asking an item again: through a template of its fields, or in a named format (chat included).

Shared by the analyses that ask the model a question again (patching, formats, scaling,
transplantation, token classes, head ablation); scoring what it answers is ``scoring``.
"""

from __future__ import annotations

from generator.analyses.base import AnalysisError
from generator.store.records import Trajectory

CHAT = "chat"  # a template of just "chat": the field as one user message, through the tokenizer's chat template


def fill_template(template: str, metadata: dict, where: str) -> str:
    """``template`` with the item's fields filled in; a missing field names the item."""
    try:
        return template.format(**metadata)
    except KeyError as exc:
        raise AnalysisError(f"{where}: template {template!r} needs field {exc.args[0]!r}, "
                            "which this dataset item does not have") from exc


def item_prompt_ids(tokenizer, trajectory: Trajectory, template: str | None) -> list[int]:
    """The item's prompt tokens: its own, or the item asked again through ``template``."""
    if template is None:
        return list(trajectory.token_ids[:trajectory.n_prompt_tokens])
    prompt = fill_template(template, trajectory.metadata | {"prompt": trajectory.prompt},
                           f"{trajectory.dataset}/{trajectory.example_id}")
    return list(tokenizer(prompt)["input_ids"])


def format_prompt(tokenizer, template: str, metadata: dict, chat_field: str, where: str) -> str | None:
    if template != CHAT:
        return fill_template(template, metadata, where)
    if not getattr(tokenizer, "chat_template", None):
        return None
    if chat_field not in metadata:
        raise AnalysisError(f"{where}: the chat format needs field {chat_field!r}")
    return tokenizer.apply_chat_template([{"role": "user", "content": str(metadata[chat_field])}],
                                         tokenize=False, add_generation_prompt=True)


def format_prompt_ids(tokenizer, template: str, metadata: dict, chat_field: str, where: str) -> list[int] | None:
    """The token ids of one item asked in one format (None: a chat format without a chat template)."""
    prompt = format_prompt(tokenizer, template, metadata, chat_field, where)
    if prompt is None:
        return None
    if template != CHAT:
        return list(tokenizer(prompt)["input_ids"])
    ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])  # chat templates write their own specials
    if tokenizer.bos_token_id is not None and ids[:1] != [tokenizer.bos_token_id]:
        ids = [tokenizer.bos_token_id] + ids  # add <bos> only if missing
    return ids
