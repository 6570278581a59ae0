"""A run's prompts through the model's chat template (``prompts.format: chat`` in a run config).

An instruct or reasoning model answers as trained only through its chat template: the system
message, the user's turn, the generation prompt, and the template's own options (Qwen 3's
``enable_thinking``; R1-style templates that open the thinking block). The dataset's prompt
becomes the user's message; the rendering is what the model reads (``Example.model_input``)
and is kept in the trajectory (``metadata.rendered_prompt``).
"""

from __future__ import annotations

import dataclasses

from generator.config import ConfigError, PromptSpec
from generator.datasets import Example


def render_prompts(examples: list[Example], tokenizer, prompts: PromptSpec, model_id: str) -> list[Example]:
    """Each example with its model input rendered by the chat template (unchanged for plain prompts)."""
    if prompts.format == "plain":
        return examples
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"prompts.format: chat: the tokenizer of model {model_id!r} has no chat template "
                          "(use format: plain, or set the template on the tokenizer)")
    rendered = []
    for example in examples:
        messages = [{"role": "system", "content": prompts.system}] if prompts.system else []
        messages.append({"role": "user", "content": example.prompt})
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                 **prompts.template_options)
        except Exception as exc:  # noqa: BLE001 - a template is a program of the model's authors
            raise ConfigError(f"prompts: the chat template of model {model_id!r} failed on example {example.id!r} "
                              f"({type(exc).__name__}: {exc})") from exc
        rendered.append(dataclasses.replace(example, model_input=text))
    return rendered
