"""Thought lens: each continuous thought decoded at every layer, as CODI's paper decodes its thoughts.

A thought is made at the position before it (the begin token for thought 1): the last layer's
hidden state there is the thought (before CODI's projection). So thought i is decoded from the
hidden state at that position after each layer l, through the model's final norm and its
unembedding: a logit lens whose last layer is what the thought holds, and whose earlier layers
show it forming. transformers returns the last layer's hidden state already normed, so the norm
is applied to the earlier layers only (a test checks that the last layer's lens is the model's
own prediction at that position). With
``target_field`` (a dataset field, e.g. the intermediate result a thought should carry), the
summary counts how often each thought's first choice is that value, with a Wilson interval.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext
from generator.analyses.statistics import rate_with_ci
from generator.capture.architectures import final_norm
from generator.results.thought_lens import THOUGHT_LENS, LensCell, ThoughtLensExample, ThoughtLensSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class ThoughtLensOptions:
    top: int = 5  # tokens kept per thought and layer
    target_field: str | None = None  # a dataset field to compare each first choice with (e.g. `intermediate`)

    def __post_init__(self) -> None:
        if self.top < 1:
            raise OptionError("top", f"expected a positive integer, got {self.top}")


def lens(model, input_ids, positions: list[int], top: int) -> tuple[np.ndarray, np.ndarray]:
    """[L, K, top] ids and probabilities of each position's hidden state after every layer."""
    import torch

    with torch.no_grad():
        hidden = model(input_ids=input_ids, output_hidden_states=True, use_cache=False).hidden_states
        norm, unembed = final_norm(model), model.get_output_embeddings()
        layers = len(hidden) - 1
        states = torch.stack([hidden[l + 1][0, positions] if l == layers - 1 else norm(hidden[l + 1][0, positions])
                              for l in range(layers)])  # [L, K, d]; the last is normed by the model already
        probs = torch.softmax(unembed(states).float(), dim=-1)
        values, ids = probs.topk(top, dim=-1)
    return ids.cpu().numpy().astype(np.int64), values.cpu().numpy().astype(np.float32)


class ThoughtLensAnalysis(Analysis):
    declaration = THOUGHT_LENS
    options_type = ThoughtLensOptions

    def analyze_example(self, context: ExampleContext, options: ThoughtLensOptions) -> ThoughtLensExample:
        trajectory = context.trajectory
        positions = [p - 1 for p in trajectory.thought_positions]  # where each thought is made
        if not positions:
            raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: thought_lens runs on latent runs "
                                "(generation.latent); this trajectory has no thoughts")
        ids, probs = lens(context.model, context.input_ids, positions, options.top)
        match = np.full(ids.shape[:2], np.nan, dtype=np.float32)
        want = trajectory.metadata.get(options.target_field) if options.target_field else None
        if want is not None:
            decoded = {int(i): context.tokenizer.decode([int(i)]).strip() for i in np.unique(ids[..., 0])}
            match = np.vectorize(lambda i: float(decoded[int(i)] == str(want).strip()))(ids[..., 0]).astype(np.float32)
        return ThoughtLensExample(top_ids=ids, top_probs=probs, target_match=match.reshape(ids.shape[:2]))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[ThoughtLensExample],
                          options: ThoughtLensOptions, others: Mapping[type, list[Any]]) -> ThoughtLensSummary:
        return summarize_lens(trajectories, digests, options)


def token_text(tokenizer_vocab: Mapping[int, str] | None, token_id: int) -> str:
    return str(token_id) if tokenizer_vocab is None else tokenizer_vocab.get(token_id, f"#{token_id}")


def summarize_lens(trajectories: Sequence[Trajectory], digests: list[ThoughtLensExample],
                   options: ThoughtLensOptions) -> ThoughtLensSummary:
    """Per thought and layer: the most frequent first choice, and how often it is the target field's value.

    Token texts come from the trajectories' own tokens where an id occurs in them, else ``#id``
    (the summary needs no tokenizer: it is computed from stored results)."""
    names: dict[int, str] = {}
    for trajectory in trajectories:
        for token_id, text in zip(trajectory.token_ids, trajectory.tokens):
            names.setdefault(int(token_id), text)
    layers, k = (digests[0].top_ids.shape[:2] if digests else (0, 0))
    cells = []
    for thought in range(k):
        for layer in range(layers):
            firsts = [token_text(names, int(d.top_ids[layer, thought, 0])) for d in digests]
            top, count = Counter(firsts).most_common(1)[0] if firsts else ("", 0)
            target = None
            if options.target_field is not None:
                scored = [float(d.target_match[layer, thought]) for d in digests
                          if np.isfinite(d.target_match[layer, thought])]
                target = rate_with_ci(int(sum(scored)), len(scored))
            cells.append(LensCell(f"thought {thought + 1}", layer, top, count, target))
    return ThoughtLensSummary(thoughts=k, layers=layers, n_examples=len(digests), target_field=options.target_field,
                              cells=tuple(cells))
