"""Ways to make trajectories: each turns a batch of dataset examples into stored-to-be trajectories.

The pipeline asks a ``TrajectorySource`` for each batch and never asks which kind it is. Today
there are four: plain generation, generation that captures attention as it goes (when an
analysis asks for it), and the agent loop (tools run for real; one trajectory per
conversation); continuous thoughts (``generator/latent_trajectories.py``). Another way to make
trajectories is one more class and one more case in ``source_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from generator.agent.loop import AgentSpec, agent_format, model_reply, run_agent
from generator.agent.trajectory import agent_trajectory
from generator.answers import AnswerCheck
from generator.capture import AttentionCapture, CaptureOptions
from generator.capture.generation import Generation, generate_batch, token_pieces
from generator.capture.generation_capture import generate_with_capture
from generator.capture.latent import LatentModel
from generator.capture.sampling import Sampling
from generator.capture.segmentation import original_steps, parse_answer, segment_trajectory
from generator.config import RunConfig
from generator.datasets import Example
from generator.latent_trajectories import LatentGeneration, latent_model
from generator.store.records import Trajectory

Made = list[tuple[Trajectory, AttentionCapture | None]]  # each trajectory, with its attention when captured


class TrajectorySource(Protocol):
    # True: a resumed batch is made again whole, so padding (and every number) equals an uninterrupted
    # run; False: examples are independent, and only the unfinished ones are made
    whole_batches: bool
    # a latent run's model as a thought loop (analyses that make thoughts again use it); None otherwise
    latent: LatentModel | None

    def check(self) -> None:
        """Refuse, before any example runs, what cannot work with this model (e.g. a chat template)."""

    def make(self, batch: list[Example]) -> Made:
        """The batch's trajectories, in order."""


def sampling_of(config: RunConfig) -> Sampling:
    """How the run decodes: greedy, or sampled with each example's own seed (from the run's)."""
    generation = config.generation
    return Sampling(generation.temperature, generation.top_p, generation.top_k, config.seed)


def build_trajectory(generation: Generation, dataset: str, tokenizer, config: RunConfig) -> Trajectory:
    """A generation as a trajectory: its tokens, text, segments and parsed answer."""
    example: Example = generation.example
    pieces, offsets, text = token_pieces(tokenizer, generation.token_ids)
    prompt_end = offsets[generation.n_prompt_tokens - 1][1] if generation.n_prompt_tokens else 0
    generated_text = text[prompt_end:]
    parsed = parse_answer(generated_text, config.segmentation)
    check = config.answers
    metadata = example.trajectory_metadata()
    sampling = sampling_of(config)
    if not sampling.greedy:
        metadata["sampling"] = sampling.record(example.id)  # temperature, top_p, top_k and this example's seed
    if config.segmentation.max_steps is not None:
        originals, _ = original_steps(text, prompt_end, config.segmentation)
        if len(originals) > config.segmentation.max_steps:
            metadata["original_step_starts"] = originals  # the steps were merged: where each original began
    return Trajectory(
        example_id=example.id,
        dataset=dataset,
        prompt=example.prompt,
        generated_text=generated_text,
        text=text,
        tokens=tuple(pieces),
        token_offsets=tuple(offsets),
        token_ids=generation.token_ids,
        n_prompt_tokens=generation.n_prompt_tokens,
        segments=segment_trajectory(text, offsets, generation.n_prompt_tokens, config.segmentation,
                                    example.prompt if example.model_input is not None else None),
        expected_answer=example.answer,
        parsed_answer=parsed,
        correct=check.matches(parsed, example.answer),
        metadata=metadata,
        normalized_answer=None if check.check == "exact" else check.normalized(parsed),
    )


@dataclass
class PlainGeneration:
    """Greedy generation of a padded batch."""

    model: object
    tokenizer: object
    config: RunConfig
    dataset: str
    whole_batches = True
    latent = None

    def check(self) -> None:
        pass

    def make(self, batch: list[Example]) -> Made:
        generations = generate_batch(self.model, self.tokenizer, batch, self.config.generation.max_new_tokens,
                                     sampling_of(self.config))
        return [(build_trajectory(g, self.dataset, self.tokenizer, self.config), None) for g in generations]


@dataclass
class CapturingGeneration(PlainGeneration):
    """Greedy generation that records every token's attention row as it is produced."""

    capture: CaptureOptions = CaptureOptions()

    def make(self, batch: list[Example]) -> Made:
        config = self.config
        captured = generate_with_capture(self.model, self.tokenizer, batch, config.generation.max_new_tokens,
                                         config.segmentation, self.capture, sampling_of(self.config))
        return [(build_trajectory(c.generation, self.dataset, self.tokenizer, config), c.capture) for c in captured]


@dataclass
class AgentLoop:
    """Each query answered through the agent loop, one at a time; a trajectory spans the whole conversation.

    Attention is not captured during the loop: the analyses that need it read the finished
    conversation again.
    """

    model: object
    tokenizer: object
    spec: AgentSpec
    dataset: str
    answers: AnswerCheck = AnswerCheck()
    sampling: Sampling = Sampling()
    whole_batches = False
    latent = None

    def check(self) -> None:
        agent_format(self.spec, self.tokenizer)  # a chat template that drops tool turns is refused here

    def make(self, batch: list[Example]) -> Made:
        fmt = agent_format(self.spec, self.tokenizer)
        made = []
        for example in batch:  # each query its own draw: the same alone, in any batch, after a resume
            reply = model_reply(self.model, self.tokenizer, self.spec, self.sampling.picker(example.id))
            trajectory = agent_trajectory(run_agent(example.prompt, reply, self.spec, fmt), example, self.dataset,
                                          self.tokenizer, self.spec, answers=self.answers)
            if not self.sampling.greedy:
                trajectory.metadata["sampling"] = self.sampling.record(example.id)
            made.append((trajectory, None))
        return made


def source_for(loaded, config: RunConfig, dataset: str, agent: AgentSpec | None,
               capture: CaptureOptions | None) -> TrajectorySource:
    """The source a dataset's config asks for: its agent loop, continuous thoughts, else generation (capturing
    when asked)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    if config.generation.latent is not None:
        return LatentGeneration(latent_model(loaded, config), tokenizer, config, dataset)
    if agent is not None:
        return AgentLoop(model, tokenizer, agent, dataset, config.answers, sampling_of(config))
    if capture is not None:
        return CapturingGeneration(model, tokenizer, config, dataset, capture)
    return PlainGeneration(model, tokenizer, config, dataset)
