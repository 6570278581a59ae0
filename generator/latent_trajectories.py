"""Latent runs as trajectories: continuous thoughts made by the model, stored as segments with their vectors.

A latent trajectory's tokens are the prompt, the begin token, one placeholder per thought, the end
token and the decoded answer. Each thought is a segment ``thought i`` of kind ``latent`` (one
position; its input vector in ``Trajectory.thoughts``); the prompt splits as any prompt does, and
the decoded text after the end token into steps and answer as the run's segmentation says. The
begin and end tokens belong to no segment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from generator.capture.generation import Detokenizer
from generator.capture.latent import LatentModel, LatentRun, run_latent
from generator.capture.latent_checkpoints import framing_ids
from generator.capture.segmentation import parse_answer, segment_trajectory
from generator.config import RunConfig
from generator.datasets import Example
from generator.store.records import LatentThoughts, Segment, Trajectory


def latent_model(loaded, config: RunConfig) -> LatentModel:
    """The loaded model as a latent reasoner: its projection, and the ids the config or checkpoint names."""
    spec = config.generation.latent
    ids = framing_ids(loaded.tokenizer, spec, loaded.latent_parts)
    parts = loaded.latent_parts
    projection = parts.projection if parts is not None and spec.projection == "codi" else None
    return LatentModel(loaded.model, projection, ids["begin"], ids["end"], ids["placeholder"],
                       loaded.tokenizer.eos_token_id, spec.thoughts, config.generation.max_new_tokens)


def thought_name(index: int) -> str:
    return f"thought {index + 1}"


def _framing_name(tokenizer, token_id: int, fallback: str) -> str:
    name = tokenizer.convert_ids_to_tokens(token_id) if token_id < len(tokenizer) else None
    return name or fallback


def build_latent_trajectory(run: LatentRun, example: Example, dataset: str, tokenizer, config: RunConfig,
                            latent: LatentModel) -> Trajectory:
    """One latent run as a trajectory: thoughts as ``latent`` segments, the answer parsed from the decoded text."""
    question = run.prompt_ids[:-1]
    detokenizer = Detokenizer(tokenizer)
    for token in question:
        detokenizer.push(token)
    detokenizer.mark(_framing_name(tokenizer, latent.begin_id, "⟨bot⟩"))
    for index in range(len(run.thought_inputs)):
        detokenizer.mark(f"⟨θ{index + 1}⟩")  # its segment (and title) is "thought i"
    detokenizer.mark(_framing_name(tokenizer, latent.end_id, "⟨eot⟩"))
    for token in run.answer_ids:
        detokenizer.push(token)
    pieces, offsets, text = detokenizer.pieces, detokenizer.offsets, detokenizer.text
    k = len(run.thought_inputs)
    token_ids = (*question, latent.begin_id, *([latent.placeholder_id] * k), latent.end_id, *run.answer_ids)
    prompt_end = offsets[len(question) - 1][1] if question else 0
    generated_text = text[prompt_end:]
    parsed = parse_answer(generated_text, config.segmentation)
    check = config.answers
    metadata = example.trajectory_metadata()
    return Trajectory(
        example_id=example.id, dataset=dataset, prompt=example.prompt, generated_text=generated_text, text=text,
        tokens=tuple(pieces), token_offsets=tuple(offsets), token_ids=tuple(int(t) for t in token_ids),
        n_prompt_tokens=len(run.prompt_ids),
        segments=_segments(text, offsets, len(question), k, config, example),
        expected_answer=example.answer, parsed_answer=parsed, correct=check.matches(parsed, example.answer),
        metadata=metadata, normalized_answer=None if check.check == "exact" else check.normalized(parsed),
        thoughts=LatentThoughts(run.thought_inputs, latent.placeholder_id),
    )


def _segments(text: str, offsets, n_question: int, k: int, config: RunConfig, example: Example
              ) -> tuple[Segment, ...]:
    """The prompt's parts, one segment per thought, then the decoded text's steps and answer."""
    question = example.prompt if example.model_input is not None else None
    spec = config.segmentation
    # the prompt's parts, cut at its end (the framing tokens, with no text, would otherwise join the last part)
    prompt = [dataclasses.replace(s, end=min(s.end, n_question))
              for s in segment_trajectory(text, offsets, n_question, spec, question) if s.start < n_question]
    first = n_question + 1  # after the begin token
    thoughts = [Segment(thought_name(i), "latent", first + i, first + i + 1, offsets[first + i][0],
                        offsets[first + i][1]) for i in range(k)]
    decoded_from = first + k + 1  # after the end token
    decoded = [s for s in segment_trajectory(text, offsets, decoded_from, spec, question) if s.start >= decoded_from]
    return tuple(prompt + thoughts + decoded)


@dataclass
class LatentGeneration:
    """Continuous thoughts and a greedy answer for a padded batch (CODI, Coconut)."""

    latent: LatentModel
    tokenizer: object
    config: RunConfig
    dataset: str
    whole_batches = True

    def check(self) -> None:
        pass

    def make(self, batch: list[Example]):
        prompts = []
        for example in batch:
            text, specials = example.model_text()
            prompts.append(self.tokenizer(text, add_special_tokens=specials)["input_ids"] + [self.latent.begin_id])
        runs = run_latent(self.latent, prompts, self.config.generation.max_new_tokens)
        return [(build_latent_trajectory(run, example, self.dataset, self.tokenizer, self.config, self.latent), None)
                for run, example in zip(runs, batch)]
