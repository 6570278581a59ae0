"""An agent transcript as a trajectory: the whole multi-turn text, tokens, one segment per step."""

from __future__ import annotations

import dataclasses
import datetime as dt

from generator.agent.formats import spans_in_order
from generator.agent.loop import AgentSpec, AgentTranscript
from generator.answers import AnswerCheck
from generator.capture.generation import token_pieces
from generator.datasets import Example
from generator.store.agent_record import AgentRecord, step_names as named
from generator.store.records import Segment, Trajectory

SEGMENT_KINDS = {"thought": "thought", "call": "call", "observation": "observation", "answer": "answer",
                 "other": "other"}


def step_names(transcript: AgentTranscript) -> list[tuple[str, str]]:
    """(name, kind) of the question and of each step: "thought 1", "call 1", "observation 1", ..., "answer"."""
    kinds = [step.kind for step in transcript.steps]
    return [("question", "question")] + [(name, SEGMENT_KINDS[kind]) for name, kind in zip(named(kinds), kinds)]


def _step_segments(transcript: AgentTranscript, decoded: str, offsets: list[tuple[int, int]]) -> list[Segment]:
    """One segment per located step: the tokens whose text starts inside the step's span of ``decoded``."""
    located = [(name, kind, transcript.text[span[0]:span[1]])
               for (name, kind), span in zip(step_names(transcript), transcript.spans) if span is not None]
    spans = spans_in_order(decoded, [piece for _, _, piece in located])
    segments = []
    for (name, kind, _), span in zip(located, spans):
        if span is None:
            continue
        members = [i for i, (a, b) in enumerate(offsets) if b > a and span[0] <= a < span[1]]
        if members:
            segments.append(Segment(name, kind, members[0], members[-1] + 1, span[0], span[1]))
    return segments


def _prompt_tokens(segments: list[Segment], decoded: str, offsets: list[tuple[int, int]]) -> int:
    """The prompt ends at the first token after the question that shows any text (the model's first step)."""
    question_end = segments[0].end if segments and segments[0].kind == "question" else 0
    return next((i for i in range(question_end, len(offsets)) if offsets[i][1] > offsets[i][0]
                 and decoded[offsets[i][0]:offsets[i][1]].strip()), len(offsets))


def agent_trajectory(transcript: AgentTranscript, example: Example, dataset: str, tokenizer, spec: AgentSpec,
                     timestamp: dt.datetime | None = None, answers: AnswerCheck = AnswerCheck()) -> Trajectory:
    """Tokenise the final text once (what attention is captured over) and mark every step's tokens."""
    token_ids = tokenizer(transcript.text, add_special_tokens=spec.format != "chat")["input_ids"]
    pieces, offsets, decoded = token_pieces(tokenizer, token_ids)
    segments = _step_segments(transcript, decoded, offsets)
    n_prompt = _prompt_tokens(segments, decoded, offsets)
    prompt_end = offsets[n_prompt - 1][1] if n_prompt else 0
    expected = example.answer
    answer = transcript.answer.strip() if transcript.answer is not None else None
    metadata = {k: v for k, v in (("difficulty", example.difficulty), ("category", example.category)) if v}
    metadata.update(example.extra)
    metadata["agent"] = AgentRecord(
        format=spec.format, tools=tuple(spec.tools), status=transcript.status,
        timestamp=(timestamp or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        settings=dataclasses.asdict(spec), steps=tuple(transcript.steps)).to_json()
    return Trajectory(
        example_id=example.id, dataset=dataset, prompt=example.prompt, generated_text=decoded[prompt_end:],
        text=decoded, tokens=tuple(pieces), token_offsets=tuple(offsets), token_ids=tuple(token_ids),
        n_prompt_tokens=n_prompt, segments=tuple(segments), expected_answer=expected, parsed_answer=answer,
        correct=answers.matches(answer, expected), metadata=metadata,
        normalized_answer=None if answers.check == "exact" else answers.normalized(answer))
