"""Continuous thoughts: generation that feeds the model's own hidden state back as its next input.

This is how CODI and Coconut reason (read from their inference code): after the prompt and a
begin token, the last layer's hidden state at the last position (after the final norm, as
transformers' ``hidden_states[-1]`` gives it; through CODI's projection, for CODI) becomes the
input embedding of the next position, ``thoughts`` times, with the KV cache; then the end
token's embedding, and the answer decoded greedily until end-of-sequence.

Ablation runs the same loop with an edit per batch row (``ThoughtEdit``): chosen thoughts'
inputs, or the residual stream entering a chosen layer at their positions, replaced by given
vectors; the later thoughts either recomputed from the edited state or kept as they were stored.
The same loop also scores a given answer (its log-probability after the thoughts), so "the
answer changed" and "the answer became less likely" come from one code path.

Positions are passed explicitly (from the attention mask), so a left-padded batch computes what
each example alone would.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from generator.capture.generation import cache_of, with_cache
from generator.capture.interventions import Site, edited


class LatentError(ValueError):
    """A latent model or run that cannot work as configured; the message names the setting."""


@dataclass
class LatentModel:
    """A causal LM that reasons in continuous thoughts, with the token ids that frame them."""

    model: Any
    projection: Any | None  # CODI's module [.., d] -> [.., d]; None feeds the hidden state back as it is
    begin_id: int
    end_id: int
    placeholder_id: int  # the id stored at a thought's position (its input is the stored vector)
    eos_id: int | None
    thoughts: int
    max_new_tokens: int = 64  # the run's answer budget (an ablated run decodes within the same)

    @property
    def framing_ids(self) -> tuple[int, ...]:
        """Ids the answer may not be decoded as (they frame thoughts; CODI's decoding excludes them too)."""
        return tuple(sorted({self.begin_id, self.end_id, self.placeholder_id}))

    def next_input(self, hidden):
        """The next thought's input embedding from the last layer's hidden state [B, d]."""
        return hidden if self.projection is None else self.projection(hidden)


@dataclass(frozen=True)
class ThoughtEdit:
    """One batch row's edit: ``thoughts`` (0-based) get ``values`` [n, d] at their input (``layer`` None) or as
    the residual stream entering ``layer``; later thoughts recomputed from the edited state, or kept as stored."""

    thoughts: tuple[int, ...]
    values: Any  # tensor [len(thoughts), d]
    layer: int | None = None
    recompute: bool = True


@dataclass
class LatentRun:
    """One row's result: the thought inputs it used, and the answer decoded (or scored) after them."""

    prompt_ids: list[int]  # the prompt and the begin token
    thought_inputs: np.ndarray  # [thoughts, d] float32
    answer_ids: list[int]  # after the end token, through end-of-sequence when decoded
    answer_logprob: float | None = None  # the sum over a forced answer's tokens (when scored)


def run_latent(latent: LatentModel, prompts: Sequence[Sequence[int]], max_new_tokens: int,
               edits: Sequence[ThoughtEdit | None] | None = None, stored=None,
               forced: Sequence[Sequence[int]] | None = None) -> list[LatentRun]:
    """Thoughts and answer for each prompt (ids that end with the begin token), as one left-padded batch.

    ``stored`` [B, thoughts, d]: the thoughts a run recorded; with it, thoughts before a row's first edit
    (and all unedited ones when the edit keeps them) are taken as stored, so an unedited row is exact.
    ``forced``: score these answer ids after the end token instead of decoding.
    """
    import torch

    model = latent.model
    device = next(model.parameters()).device
    ids, mask = _left_padded(prompts, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    step = {"thought": None}
    with torch.no_grad(), _residual_edits(model, edits, step):
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                    output_hidden_states=True)
        state = _State(cache_of(out), mask, positions[:, -1] + 1, out.hidden_states[-1][:, -1])
        inputs = []
        for index in range(latent.thoughts):
            x = _thought_input(latent.next_input(state.hidden), index, edits, stored)
            inputs.append(x)
            step["thought"] = index
            state.hidden = state.feed(model, inputs_embeds=x[:, None].to(state.hidden.dtype)).hidden_states[-1][:, -1]
            step["thought"] = None
        thought_inputs = torch.stack(inputs, dim=1).float().cpu().numpy()
        if forced is not None:
            scores = _score(latent, state, forced)
            return [LatentRun(list(p), thought_inputs[r], list(forced[r]), scores[r]) for r, p in enumerate(prompts)]
        answers = _decode(latent, state, max_new_tokens, len(prompts))
    return [LatentRun(list(p), thought_inputs[r], answers[r]) for r, p in enumerate(prompts)]


@dataclass
class _State:
    """The batch's KV cache, attention mask and next positions, advanced one forward at a time."""

    cache: Any
    mask: Any
    next_position: Any  # [B]
    hidden: Any  # [B, d]: the last layer's hidden state at the last position

    def feed(self, model, **inputs):
        """One forward of new positions (every row the same count), with the cache."""
        import torch

        width = next(iter(inputs.values())).shape[1]
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], width)], dim=1)
        positions = self.next_position[:, None] + torch.arange(width, device=self.mask.device)[None]
        out = model(**inputs, attention_mask=self.mask, position_ids=positions, use_cache=True,
                    output_hidden_states=True, **with_cache(model, self.cache))
        self.cache, self.next_position = cache_of(out), self.next_position + width
        return out


def _left_padded(prompts: Sequence[Sequence[int]], device):
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), width, dtype=torch.long, device=device)
    mask = torch.zeros(len(prompts), width, dtype=torch.long, device=device)
    for row, prompt in enumerate(prompts):
        if len(prompt):
            ids[row, width - len(prompt):] = torch.tensor(list(prompt), device=device)
            mask[row, width - len(prompt):] = 1
    return ids, mask


def _thought_input(computed, index: int, edits, stored):
    """Thought ``index``'s input per row: computed, or as stored (before an edit, or kept), or the edit's value."""
    if stored is None or edits is None:
        return computed
    x = computed.clone()
    for row, edit in enumerate(edits):
        keep = edit is None or _kept(edit, index)
        if keep:
            x[row] = stored[row, index].to(x.dtype)
        if edit is not None and edit.layer is None and index in edit.thoughts:
            x[row] = edit.values[edit.thoughts.index(index)].to(x.dtype)
    return x


def _kept(edit: ThoughtEdit, index: int) -> bool:
    """Whether thought ``index`` takes its stored input under ``edit``: before it acts, when it acts at a layer
    (the input is not what it edits), and every thought it does not edit when later thoughts are kept."""
    first = min(edit.thoughts)
    at_layer = edit.layer is not None and index in edit.thoughts
    return index < first or at_layer or (not edit.recompute and index not in edit.thoughts)


@contextlib.contextmanager
def _residual_edits(model, edits, step: dict) -> Iterator[None]:
    """Rows whose edit names a layer: the residual entering it replaced at the thought being fed."""
    by_layer: dict[int, list[tuple[int, ThoughtEdit]]] = {}
    for row, edit in enumerate(edits or ()):
        if edit is not None and edit.layer is not None:
            by_layer.setdefault(edit.layer, []).append((row, edit))

    def replacing(rows):
        def edit(residual):  # [B, pos, d]; a thought is fed alone, so pos is 1
            thought = step["thought"]
            targets = [(row, e) for row, e in rows if thought is not None and thought in e.thoughts]
            if not targets:
                return residual
            residual = residual.clone()
            for row, e in targets:
                residual[row, -1] = e.values[e.thoughts.index(thought)].to(residual.dtype)
            return residual
        return edit

    with edited(model, [(Site(layer, "resid_pre"), replacing(rows)) for layer, rows in sorted(by_layer.items())]):
        yield


def _answer_logits(latent: LatentModel, logits):
    """Logits with the thought-framing ids ruled out."""
    logits = logits.float().clone()
    logits[..., list(latent.framing_ids)] = float("-inf")
    return logits


def _decode(latent: LatentModel, state: _State, max_new_tokens: int, n_rows: int) -> list[list[int]]:
    """Greedy answers after the end token; each row stops at its first end-of-sequence token."""
    import torch

    device = state.mask.device
    token = torch.full((n_rows, 1), latent.end_id, dtype=torch.long, device=device)
    answers: list[list[int]] = [[] for _ in range(n_rows)]
    finished = [False] * n_rows
    for _ in range(max_new_tokens):
        logits = state.feed(latent.model, input_ids=token).logits[:, -1]
        token = _answer_logits(latent, logits).argmax(-1, keepdim=True)
        for row, value in enumerate(token[:, 0].tolist()):
            if not finished[row]:
                answers[row].append(value)
                finished[row] = value == latent.eos_id
        if all(finished):
            break
    return answers


def _score(latent: LatentModel, state: _State, forced: Sequence[Sequence[int]]) -> list[float]:
    """Log-probability of each row's forced answer after the end token (rows right-padded, pads unscored)."""
    import torch

    device = state.mask.device
    width = max(len(f) for f in forced)
    ids = torch.full((len(forced), width + 1), latent.end_id, dtype=torch.long, device=device)
    for row, answer in enumerate(forced):
        ids[row, 1:1 + len(answer)] = torch.tensor(list(answer), dtype=torch.long, device=device)
    logits = state.feed(latent.model, input_ids=ids).logits[:, :-1]
    logprobs = torch.log_softmax(_answer_logits(latent, logits), dim=-1)
    scores = []
    for row, answer in enumerate(forced):
        picked = logprobs[row, torch.arange(len(answer), device=device), torch.tensor(list(answer), device=device)]
        scores.append(float(picked.sum()))
    return scores
