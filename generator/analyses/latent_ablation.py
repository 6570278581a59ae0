"""Latent ablation: replace a continuous thought, decode the answer again, and see what it cost.

Seed 001 zeroed each CODI thought's activation at layer 8 and counted answers that went from
correct to wrong. Here each thought (and, optionally, each pair) is replaced by zeros, the
dataset's mean, or another example's (resample), at its input embedding or in the residual
stream entering chosen layers; the thoughts after it are either made again from the edited state
(``recompute``: what the model would have thought) or kept as stored (``keep``: the edit's direct
effect alone). Each edited run decodes its answer greedily within the run's budget and scores the
model's own unedited answer, so importance is both correct -> wrong and the drop in that answer's
log-probability. The attention the answer's positions pay each thought is measured on the same
example, for the attention-versus-importance correlation.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, check_layers
from generator.analyses.interventions import intervene
from generator.analyses.statistics import summarize_latent_ablation
from generator.capture import capture_attention
from generator.capture.interventions import Site, recording
from generator.capture.latent import ThoughtEdit, run_latent
from generator.capture.segmentation import parse_answer
from generator.results.latent_ablation import LATENT_ABLATION, LatentAblationExample, LatentAblationSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory

Method = Literal["zero", "mean", "resample"]
Later = Literal["recompute", "keep"]
INPUT = -1  # the site code of a thought's input embedding


@dataclass(frozen=True)
class LatentAblationOptions:
    methods: tuple[Method, ...] = ("zero", "mean")
    input: bool = True  # edit each thought's input embedding
    layers: tuple[int, ...] = ()  # and/or the residual stream entering these layers at its position
    later: tuple[Later, ...] = ("recompute", "keep")
    pairs: bool = False  # also every pair of thoughts at once
    batch_size: int = 32  # edited runs per batch

    def __post_init__(self) -> None:
        for key, chosen in (("methods", self.methods), ("later", self.later)):
            if not chosen or len(set(chosen)) != len(chosen):
                raise OptionError(key, f"expected at least one choice, none twice, got {list(chosen)}")
        if not self.input and not self.layers:
            raise OptionError("layers", "nothing to edit: give layers, or leave input on")
        if self.batch_size < 1:
            raise OptionError("batch_size", f"expected a positive integer, got {self.batch_size}")

    @property
    def sites(self) -> list[int]:
        return ([INPUT] if self.input else []) + list(self.layers)


@dataclass(frozen=True)
class _Row:
    condition: tuple[int, int, int]  # (method index, site, recompute)
    thoughts: tuple[int, ...]
    edit: ThoughtEdit


class LatentAblationState:
    """Every example's thought vectors at each site (inputs as stored, layers recorded), for means and donors."""

    def __init__(self, order: list[str], vectors: dict[int, np.ndarray]) -> None:
        self.order = order
        self.vectors = vectors  # site -> [examples, thoughts, d]

    def replacement(self, method: str, site: int, example_id: str, thought: int):
        import torch

        stack = self.vectors[site]
        if method == "zero":
            return torch.zeros(stack.shape[-1])
        if method == "mean":
            return torch.from_numpy(stack[:, thought].mean(0))
        donor = (self.order.index(example_id) + 1) % len(self.order)  # the next example's same thought
        return torch.from_numpy(stack[donor, thought])


class LatentAblationAnalysis(Analysis):
    declaration = LATENT_ABLATION
    options_type = LatentAblationOptions

    def check_model(self, model, options: LatentAblationOptions) -> None:
        check_layers(model, options.layers, "analyses.latent_ablation.layers")

    def prepare_dataset(self, model, tokenizer, trajectories: Sequence[Trajectory],
                        options: LatentAblationOptions) -> LatentAblationState:
        """Each example's thought inputs, and its residual at each edited layer at the thoughts' positions."""
        import torch

        order, vectors = [], {site: [] for site in options.sites}
        for trajectory in trajectories:  # each read with its thoughts in place
            if trajectory.thoughts is None:
                raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: latent_ablation runs on latent "
                                    "runs (generation.latent); this trajectory has no thoughts")
            order.append(trajectory.example_id)
            if INPUT in vectors:
                vectors[INPUT].append(trajectory.thoughts.inputs)
            sites = [Site(layer, "resid_pre") for layer in options.layers]
            if sites:
                with recording(model, sites) as store, torch.no_grad():
                    model(input_ids=torch.tensor([trajectory.token_ids], device=model.device), use_cache=False)
                for site in sites:
                    vectors[site.layer].append(store[site][0, trajectory.thought_positions].float().cpu().numpy())
        return LatentAblationState(order, {site: np.stack(v) for site, v in vectors.items()})

    def analyze_example(self, context: ExampleContext, options: LatentAblationOptions) -> LatentAblationExample:
        import torch

        latent, trajectory = context.latent, context.trajectory
        if latent is None or trajectory.thoughts is None:
            raise AnalysisError(f"{trajectory.dataset}/{trajectory.example_id}: latent_ablation runs on latent runs "
                                "(generation.latent)")
        positions = trajectory.thought_positions
        prompt, own = list(trajectory.token_ids[:positions[0]]), list(trajectory.token_ids[positions[-1] + 2:])
        rows = self._rows(options, trajectory, context.dataset_state)
        stored = torch.from_numpy(trajectory.thoughts.inputs)
        base = run_latent(latent, [prompt], 0, edits=[None], stored=stored[None], forced=[own])[0].answer_logprob
        holder: dict[str, Sequence[_Row]] = {}

        @contextlib.contextmanager
        def chunk_edits(chunk: Sequence[_Row]):  # the edits act inside run_latent, row by row
            holder["rows"] = chunk
            yield

        def measure(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            edits, repeated = [r.edit for r in holder["rows"]], stored[None].repeat(n, 1, 1)
            decoded = run_latent(latent, [prompt] * n, latent.max_new_tokens, edits=edits, stored=repeated)
            scored = run_latent(latent, [prompt] * n, 0, edits=edits, stored=repeated, forced=[own] * n)
            return (np.array([float(run.answer_ids != own) for run in decoded], dtype=np.float32),
                    np.array([self._correct(context, run.answer_ids) for run in decoded], dtype=np.float32),
                    np.array([score.answer_logprob - base for score in scored], dtype=np.float32))

        changed, correct, delta = intervene(rows, chunk_edits, measure, options.batch_size) or ([], [], [])
        return LatentAblationExample(
            method=np.array([r.condition[0] for r in rows], dtype=np.int64),
            site=np.array([r.condition[1] for r in rows], dtype=np.int64),
            recompute=np.array([r.condition[2] for r in rows], dtype=np.int64),
            thoughts=np.array([list(r.thoughts) + [-1] * (2 - len(r.thoughts)) for r in rows], dtype=np.int64
                              ).reshape(len(rows), 2),
            answer_changed=np.array(changed, dtype=np.float32), correct_after=np.array(correct, dtype=np.float32),
            delta_logprob=np.array(delta, dtype=np.float32),
            baseline_correct=np.array([np.nan if trajectory.correct is None else float(trajectory.correct)],
                                      dtype=np.float32),
            attention=self._attention(context, positions))

    def _rows(self, options: LatentAblationOptions, trajectory: Trajectory, state: LatentAblationState) -> list[_Row]:
        import torch

        k = len(trajectory.latent_segments)
        targets = [(i,) for i in range(k)] + (list(itertools.combinations(range(k), 2)) if options.pairs else [])
        rows = []
        for m_index, method in enumerate(options.methods):
            for site in options.sites:
                for later in options.later:
                    for target in targets:
                        values = torch.stack([state.replacement(method, site, trajectory.example_id, t)
                                              for t in target])
                        edit = ThoughtEdit(target, values, None if site == INPUT else site, later == "recompute")
                        rows.append(_Row((m_index, site, int(later == "recompute")), target, edit))
        return rows

    @staticmethod
    def _correct(context: ExampleContext, answer_ids: list[int]) -> float:
        expected = context.trajectory.expected_answer
        if expected is None:
            return float("nan")
        text = context.tokenizer.decode([t for t in answer_ids if t < len(context.tokenizer)], skip_special_tokens=True)
        return float(context.answers.matches(parse_answer(text, context.segmentation), expected))

    @staticmethod
    def _attention(context: ExampleContext, positions: list[int]) -> np.ndarray:
        """[L, K] mass on each thought from the positions that decode the answer, mean over heads and positions."""
        trajectory = context.trajectory
        segments = np.full(len(trajectory.token_ids), -1, dtype=np.int64)
        segments[positions] = np.arange(len(positions))
        captured = capture_attention(context.model, context.input_ids, segments, n_segments=len(positions))
        decoding = slice(positions[-1] + 1, max(len(trajectory.token_ids) - 1, positions[-1] + 2))
        return captured.segment_mass[:, :, decoding, :len(positions)].mean(axis=(1, 2)).astype(np.float32)

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[LatentAblationExample],
                          options: LatentAblationOptions, others: Mapping[type, list[Any]]) -> LatentAblationSummary:
        return summarize_latent_ablation(trajectories, digests, options)
