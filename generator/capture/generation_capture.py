"""Attention captured while the model generates, from the rows the KV cache already computes.

Each forward step of ``generate`` attends from the newest token to every earlier one; the
recorder summarises that row as it is produced, so a trajectory's attention needs no second
pass over the sequence. Which part (question, step, answer) a key token belongs to is only
certain once a little more text exists (a step marker such as ``T:`` spans two tokens), so
each row keeps its exact weights on the last ``TAIL`` keys and is corrected once the final
segmentation is known. A sequence whose segmentation changed further back than that is
recaptured with one forward pass, so results are always exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from generator.capture.attention import (AttentionCapture, CaptureError, CaptureOptions, PassRecorder,
                                         capture_attention, capturing)
from generator.capture.generation import (Detokenizer, Generation, cache_of, prompt_batch, sampling_kwargs,
                                         with_cache)
from generator.capture.sampling import Sampling
from generator.capture.segmentation import SegmentationSpec, segment_owners
from generator.capture.softmax_summaries import exp_rows, masked, row_statistics, soft_capped
from generator.datasets import Example

TAIL = 32
MAX_PARTS = 64


class _SequenceTracker:
    """Text and provisional part of each token of one sequence, updated token by token."""

    def __init__(self, tokenizer, prompt_ids: list[int], spec: SegmentationSpec, question: str | None = None) -> None:
        self.detokenizer = Detokenizer(tokenizer)
        for token in prompt_ids:
            self.detokenizer.push(token)
        self.tokens = list(prompt_ids)
        self.n_prompt = len(prompt_ids)
        self.spec = spec
        self.question = question  # the user's message, in a prompt a chat template rendered
        self.eos = tokenizer.eos_token_id
        self.finished = False
        # the detokenizer's offsets as an array grown by doubling: converting the whole list at
        # every token would make a long generation quadratic in Python
        self._spans = np.zeros((max(64, 2 * self.n_prompt), 2), dtype=np.int64)
        self._spans[: self.n_prompt] = np.asarray(self.detokenizer.offsets, dtype=np.int64).reshape(-1, 2)
        self.owner = self.owners(self.n_prompt)  # the prompt's parts: the question, or a chat rendering's

    def owners(self, n: int) -> np.ndarray:
        """The part of each of the first ``n`` tokens, as the text so far splits."""
        return segment_owners(self.detokenizer.text, self._spans[:n], self.n_prompt, self.spec, self.question)[0]

    def push(self, token: int) -> None:
        if self.finished:
            return
        self.tokens.append(int(token))
        self.detokenizer.push(token)
        n = len(self.tokens)
        if n > len(self._spans):
            self._spans = np.concatenate([self._spans, np.zeros_like(self._spans)])
        self._spans[n - 1] = self.detokenizer.offsets[-1]
        owner = self.owners(n)
        frozen = max(self.n_prompt, len(owner) - TAIL)  # parts of older tokens stay as they were used
        self.owner = np.concatenate([self.owner[:frozen], owner[frozen:]])
        self.finished = int(token) == self.eos


class _Streamer:
    """A ``generate`` streamer: feeds each new token to its sequence's tracker before the next step."""

    def __init__(self, trackers: list[_SequenceTracker]) -> None:
        self.trackers = trackers
        self.seen_prompt = False

    def put(self, value) -> None:
        if not self.seen_prompt:  # the first call repeats the prompt
            self.seen_prompt = True
            return
        for tracker, token in zip(self.trackers, value.reshape(-1).tolist()):
            tracker.push(token)

    def end(self) -> None:
        pass


@dataclass
class _Step:
    n_keys: int
    rows: int
    owners: np.ndarray  # [batch, TAIL] provisional part of the last keys when this step ran (-1: none)


class _StreamRecorder:
    """Collects every forward step's rows, layer by layer (an ``AttentionRecorder``)."""

    def __init__(self, trackers: list[_SequenceTracker], pads: list[int], options: CaptureOptions, keep_rows: bool,
                 device) -> None:
        self.trackers, self.pads, self.options, self.device = trackers, pads, options, device
        self.keep_rows = keep_rows
        self.steps: list[_Step] = []
        self.by_layer: dict[int, list[dict]] = {}
        self._inner: PassRecorder | None = None
        self.calls = 0

    def _start_step(self, n_keys: int, rows: int) -> None:
        import torch

        batch = len(self.trackers)
        key_parts = np.full((batch, n_keys), MAX_PARTS, dtype=np.int64)  # MAX_PARTS: no part (padding)
        tail_owners = np.full((batch, TAIL), -1, dtype=np.int64)
        for row, (tracker, pad) in enumerate(zip(self.trackers, self.pads)):
            owner = tracker.owner[: n_keys - pad]
            if owner.max(initial=0) >= MAX_PARTS:
                raise ValueError(f"more than {MAX_PARTS} parts in one sequence")
            key_parts[row, pad:pad + len(owner)] = owner
            last = owner[-TAIL:]
            tail_owners[row, TAIL - len(last):] = last
        self._key_parts = torch.from_numpy(key_parts).to(self.device)
        if rows > 1:  # the prompt: a forward-pass recorder (fused kernel or block-wise pass); no tails
            matrix = np.eye(MAX_PARTS + 1, MAX_PARTS, dtype=np.float32)[key_parts]
            options = CaptureOptions(max_map_tokens=n_keys if self.keep_rows else 0,
                                     block_bytes=self.options.block_bytes,
                                     block_bytes_floor=self.options.block_bytes_floor, engine=self.options.engine)
            self._inner = PassRecorder(torch.from_numpy(matrix).to(self.device), options, n_keys)
        self.steps.append(_Step(n_keys, rows, tail_owners))

    def attend(self, layer, query, key, value, attention_mask, scaling, softcap):
        """In float32 this pass gives the layer's output too; in half precision the model's kernel does."""
        import torch

        return self.record(layer, query, key, attention_mask, scaling, softcap,
                           value=value if query.dtype == torch.float32 else None)

    def record(self, layer, query, key, attention_mask, scaling, softcap, value=None):
        """Generated rows are summarised directly; the prompt's rows go through a forward-pass recorder,
        which may take a fused kernel (they need no tail of exact weights).

        A sliding-window layer's cache holds only the window's keys: its keys are the last
        ``key.shape[2]`` positions of the sequence so far, which the step's position count places.
        """
        rows = query.shape[2]
        if layer == 0:
            self._start_step(rows if not self.steps else self.steps[-1].n_keys + rows, rows)
        self.calls += 1
        n_total, n_keys = self.steps[-1].n_keys, key.shape[2]
        if rows == 1:  # a generated token's row
            output, entry = row_summaries(query, key, value, attention_mask, scaling, softcap,
                                          self._key_parts[:, n_total - n_keys:], MAX_PARTS, self.keep_rows)
            if self.keep_rows and n_keys < n_total:  # a window: earlier keys have weight 0
                entry["maps"] = torch_left_pad(entry["maps"], n_total)
        elif n_keys != n_total:
            raise CaptureError(f"layer {layer} sees {n_keys} keys for a prompt of {n_total} tokens; "
                               "a cache that drops prompt keys during prefill cannot be captured exactly")
        elif value is not None and self._inner.fuses(layer, query, attention_mask):
            output = self._inner.record_fused(layer, query, key, value, attention_mask, scaling, softcap)
            entry = self._inner.by_layer.pop(layer)
        else:
            output = self._inner.record(layer, query, key, attention_mask, scaling, softcap, value=value)
            entry = self._inner.by_layer.pop(layer)
        self.by_layer.setdefault(layer, []).append({k: v.cpu() for k, v in entry.items()})
        return output


def torch_left_pad(rows, width: int):
    """[..., keys] -> [..., width] with zeros in front (weights of keys a window no longer holds)."""
    import torch

    return torch.nn.functional.pad(rows, (width - rows.shape[-1], 0))


def row_summaries(query, key, value, attention_mask, scaling: float, softcap: float | None, key_parts, n_parts: int,
                  keep_row: bool):
    """Output and summaries of one query row per sequence (a decoding step), straight from the weights.

    The block-wise pass would concatenate values and a one-hot part matrix over every key at every
    step; here the mass is a scatter-add of the weights by part (``key_parts`` [batch, key], with
    ``n_parts`` for keys of no part), so a step costs a few operations on [batch, head, key].
    Returns (output [batch, 1, head, dim] or None without ``value``, entry as ``PassRecorder`` keeps it).
    """
    import torch

    batch, n_heads, _, head_dim = query.shape
    n_kv_heads, n_keys = key.shape[1], key.shape[2]
    groups = n_heads // n_kv_heads
    q = (query.float() * scaling).reshape(batch, n_kv_heads, groups, head_dim)
    scores = torch.matmul(q, key.float().transpose(-1, -2)).reshape(batch, n_heads, n_keys)
    scores = soft_capped(scores, softcap)
    if attention_mask is not None:
        scores = masked(scores, attention_mask[:, :, -1, :n_keys])  # [batch or 1, 1, key]
    weights, row_max = exp_rows(scores)
    inv_total, entropy = row_statistics(weights, scores, row_max, weights.sum(-1, keepdim=True))
    p = weights * inv_total
    parts = key_parts[:, None, :].expand(batch, n_heads, n_keys)
    mass = torch.zeros(batch, n_heads, n_parts + 1, device=query.device).scatter_add_(-1, parts, p)[..., :n_parts]
    tail = p[..., -TAIL:]
    if tail.shape[-1] < TAIL:  # fewer keys than the tail: left-pad with zeros
        tail = torch.nn.functional.pad(tail, (TAIL - tail.shape[-1], 0))
    entry = {"segment_mass": mass[:, :, None], "entropy": entropy, "max_weight": inv_total,
             "tail": tail[:, :, None]}
    if keep_row:
        entry["maps"] = p[:, :, None]
    output = None
    if value is not None:
        mixed = torch.matmul(p.reshape(batch, n_kv_heads, groups, n_keys), value.float())  # [batch, kv, group, dim]
        output = mixed.reshape(batch, 1, n_heads, -1).to(query.dtype)
    return output, entry


@dataclass
class CapturedGeneration:
    generation: Generation
    capture: AttentionCapture
    recaptured: bool  # True when the sequence needed one forward pass after all


def _finish(sequence: int, tracker: _SequenceTracker, pad: int, recorder: _StreamRecorder, n_layers: int,
            spec: SegmentationSpec, keep_rows: bool) -> AttentionCapture | None:
    """Assemble one sequence's rows and correct recent keys' parts; None if it must be recaptured."""
    n_tokens = len(tracker.tokens)
    final, _ = segment_owners(tracker.detokenizer.text, tracker.detokenizer.offsets, tracker.n_prompt, spec,
                              tracker.question)
    checked = max(0, n_tokens - TAIL)
    if not np.array_equal(tracker.owner[:checked], final[:checked]):
        return None
    parts = np.unique(final)  # parts that have tokens, in order: the trajectory's segments
    mass_rows, entropy_rows, max_rows, map_rows = [], [], [], []
    for layer in range(n_layers):
        layer_mass, layer_entropy, layer_max, layer_maps = _layer_rows(sequence, layer, tracker, final, pad, recorder,
                                                                       keep_rows)
        mass_rows.append(np.stack([mass[:, parts] for mass in layer_mass], axis=1))
        entropy_rows.append(np.stack(layer_entropy, axis=1))
        max_rows.append(np.stack(layer_max, axis=1))
        if keep_rows:
            map_rows.append(np.stack(layer_maps, axis=1))
    return AttentionCapture(
        segment_mass=np.stack(mass_rows).astype(np.float32),  # [layer, head, query, segment]
        entropy=np.stack(entropy_rows).astype(np.float32),
        max_weight=np.stack(max_rows).astype(np.float32),
        maps=np.stack(map_rows).astype(np.float32) if keep_rows else None,
    )


def _layer_rows(sequence: int, layer: int, tracker: _SequenceTracker, final: np.ndarray, pad: int,
                recorder: _StreamRecorder, keep_rows: bool) -> tuple[list, list, list, list]:
    """One layer's row per token of one sequence: segment mass (by final part), entropy, maximum, map."""
    n_tokens = len(tracker.tokens)
    layer_mass, layer_entropy, layer_max, layer_maps = [], [], [], []
    position = 0  # next token index whose row we need
    for step, entry in zip(recorder.steps, recorder.by_layer[layer]):
        # rows of this step in token coordinates: the last `rows` key positions
        first_token = step.n_keys - step.rows - pad
        for r in range(step.rows):
            token = first_token + r
            if token != position or token >= n_tokens:
                continue
            mass = entry["segment_mass"][sequence, :, r].numpy().copy()  # [head, MAX_PARTS]
            if step.rows == 1:  # a generated row; the prompt's rows have no pending keys
                _move_tail_mass(mass, entry["tail"][sequence, :, r].numpy(), step.owners[sequence], token,
                                tracker.n_prompt, final)
            layer_mass.append(mass)
            layer_entropy.append(entry["entropy"][sequence, :, r].numpy())
            layer_max.append(entry["max_weight"][sequence, :, r].numpy())
            if keep_rows:
                row = np.zeros((mass.shape[0], n_tokens), dtype=np.float32)
                weights = entry["maps"][sequence, :, r, pad:].numpy()
                row[:, : min(n_tokens, weights.shape[-1])] = weights[:, :n_tokens]
                layer_maps.append(row)
            position += 1
    if position != n_tokens:
        raise RuntimeError(f"sequence {sequence}: captured {position} rows for {n_tokens} tokens")
    return layer_mass, layer_entropy, layer_max, layer_maps


def _move_tail_mass(mass: np.ndarray, tail: np.ndarray, owners_then: np.ndarray, token: int, n_prompt: int,
                    final: np.ndarray) -> None:
    """Move the weight on the last TAIL keys from the part each key had when the row was made to its final part.

    ``mass`` is [head, MAX_PARTS], changed in place; ``tail`` [head, TAIL] the weights on those keys.
    """
    for slot in range(TAIL):
        key_token = token - (TAIL - 1 - slot)
        if key_token < n_prompt or owners_then[slot] < 0:
            continue  # prompt keys never change part
        before, after = owners_then[slot], final[key_token]
        if before != after:
            mass[:, before] -= tail[:, slot]
            mass[:, after] += tail[:, slot]


def generate_with_capture(model, tokenizer, examples: Sequence[Example], max_new_tokens: int,
                          spec: SegmentationSpec, options: CaptureOptions = CaptureOptions(),
                          sampling: Sampling = Sampling()) -> list[CapturedGeneration]:
    """Generation of one batch (greedy or sampled, as ``generate_batch``), capturing every token's
    attention row as it is produced."""
    import torch

    device = next(model.parameters()).device
    batch = prompt_batch(tokenizer, examples, device)
    mask = batch["attention_mask"]
    width = batch["input_ids"].shape[1]
    pads = [int(width - m.sum()) for m in mask]
    prompts = [[int(t) for t, keep in zip(ids, m) if keep] for ids, m in zip(batch["input_ids"], mask)]
    trackers = [_SequenceTracker(tokenizer, p, spec, e.prompt if e.model_input is not None else None)
                for p, e in zip(prompts, examples)]
    keep_rows = width + max_new_tokens <= options.max_map_tokens
    recorder = _StreamRecorder(trackers, pads, options, keep_rows, device)
    streamer = _Streamer(trackers)
    with capturing(model, recorder), torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                             return_dict_in_generate=True, **sampling_kwargs(sampling, examples))
        # generate never feeds its last token back: one more step gives that token's row.
        sequences = out.sequences
        full_mask = torch.cat([mask, torch.ones_like(sequences[:, width:])], dim=1)
        position_ids = (full_mask.long().cumsum(-1) - 1).clamp_min(0)[:, -1:]
        model(input_ids=sequences[:, -1:], attention_mask=full_mask,
              position_ids=position_ids, use_cache=True, **with_cache(model, cache_of(out)),
              cache_position=torch.tensor([sequences.shape[1] - 1], device=device))
    n_layers = model.config.get_text_config().num_hidden_layers
    results = []
    for index, (example, tracker, pad) in enumerate(zip(examples, trackers, pads)):
        generation = Generation(example, tuple(tracker.tokens), tracker.n_prompt)
        capture = _finish(index, tracker, pad, recorder, n_layers, spec, keep_rows)
        recaptured = capture is None
        if recaptured:
            final, _ = segment_owners(tracker.detokenizer.text, tracker.detokenizer.offsets, tracker.n_prompt, spec,
                                      tracker.question)
            ids = torch.tensor([generation.token_ids], device=device)
            parts = np.unique(final)
            capture = capture_attention(model, ids, np.searchsorted(parts, final), options=options)
        results.append(CapturedGeneration(generation, capture, recaptured))
    return results
