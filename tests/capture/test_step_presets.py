"""Steps as real outputs have them: paragraphs, sentences, an R1-style thinking block; long traces merged."""

import pytest

from generator.capture.segmentation import SegmentationSpec, merged_steps, parse_answer, segment_trajectory
from generator.store.plain_data import PlainDataError, build_dataclass
from tests.test_answers import bpe_tokenizer  # noqa: F401 - a fixture

PROMPT = "<|user|>How many clips did Natalia sell?<|assistant|><think>\n"
THINK = ("Natalia sold 48 clips in April.\n\nIn May she sold half as many: 48 / 2 = 24. That is May.\n\n"
         "Altogether 48 + 24 = 72.\n\nWait, \\boxed{70} is not it; check again: 72.\n</think>\n\n"
         "Natalia sold \\boxed{72} clips.")


def split(spec: SegmentationSpec, prompt: str = PROMPT, generated: str = THINK):
    """Segments of one text, one character per token (so every boundary is exact)."""
    text = prompt + generated
    return text, segment_trajectory(text, [(i, i + 1) for i in range(len(text))], len(prompt), spec)


def shown(text, segments):
    return [(s.name, text[s.char_start:s.char_end].strip()) for s in segments]


def test_a_thinking_block_opened_in_the_prompt_gives_its_paragraphs_as_steps_and_the_rest_as_answer():
    spec = SegmentationSpec(steps="think", answer_format="boxed")
    text, segments = split(spec)
    assert shown(text, segments) == [
        ("question", PROMPT.strip()),
        ("step 1", "Natalia sold 48 clips in April."),
        ("step 2", "In May she sold half as many: 48 / 2 = 24. That is May."),
        ("step 3", "Altogether 48 + 24 = 72."),
        ("step 4", "Wait, \\boxed{70} is not it; check again: 72.\n</think>"),
        ("answer", "Natalia sold \\boxed{72} clips."),
    ]
    assert parse_answer(THINK, spec) == "72"  # the box after the block, not the one inside it


def test_a_block_opened_by_the_model_and_one_never_closed():
    spec = SegmentationSpec(steps="think", answer_format="boxed")
    text, segments = split(spec, "Q: clips?\n", "<think>\n" + THINK)
    assert [s.name for s in segments] == ["question", "preamble", "step 1", "step 2", "step 3", "step 4", "answer"]
    assert text[segments[1].char_start:segments[1].char_end] == "<think>\n"
    cut = THINK[:THINK.index("Altogether")]  # the length limit ended the generation inside the block
    text, segments = split(spec, PROMPT, cut)
    assert [s.name for s in segments] == ["question", "step 1", "step 2"]  # no answer part
    assert parse_answer(cut, spec) is None


def test_paragraphs_and_sentences():
    generated = "First we add. Then we halve!\n\nNow the total? It is 72.\nA: 72"
    text, segments = split(SegmentationSpec(steps="paragraphs"), "Q: ", generated)
    assert shown(text, segments) == [("question", "Q:"), ("step 1", "First we add. Then we halve!"),
                                     ("step 2", "Now the total? It is 72."), ("answer", "A: 72")]
    text, segments = split(SegmentationSpec(steps="sentences"), "Q: ", generated)
    assert [t for _, t in shown(text, segments)][1:] == ["First we add.", "Then we halve!", "Now the total?",
                                                        "It is 72.", "A: 72"]


def test_a_long_trace_is_merged_into_at_most_max_steps_of_equal_counts():
    assert merged_steps(list(range(10)), 4) == [0, 2, 5, 7]  # counts 2, 3, 2, 3
    assert merged_steps([3, 9], 4) == [3, 9]
    paragraphs = "\n\n".join(f"Paragraph {i} says something." for i in range(1, 301))
    text, segments = split(SegmentationSpec(steps="think", max_steps=12), PROMPT, paragraphs + "\n</think>\nA")
    steps = [s for s in segments if s.kind == "step"]
    assert len(steps) == 12 and segments[-1].kind == "answer"
    assert text[steps[0].char_start:].startswith("Paragraph 1 ") and text[steps[1].char_start:].startswith(
        "Paragraph 26 ")  # 300 paragraphs, 25 per step


def test_the_trajectory_keeps_where_each_original_step_began(bpe_tokenizer):
    from generator.capture.generation import Generation
    from generator.config import DatasetSpec, ModelSpec, RunConfig
    from generator.datasets import Example
    from generator.sources import build_trajectory

    config = RunConfig("r", ModelSpec("m"), (DatasetSpec("d", "d.jsonl"),),
                       segmentation=SegmentationSpec(steps="think", answer_format="boxed", max_steps=2))
    ids = tuple(bpe_tokenizer(PROMPT + THINK)["input_ids"])
    n_prompt = len(bpe_tokenizer(PROMPT)["input_ids"])
    trajectory = build_trajectory(Generation(Example("q-1", PROMPT, answer="72"), ids, n_prompt), "d",
                                  bpe_tokenizer, config)
    starts = trajectory.metadata["original_step_starts"]
    assert [trajectory.text[s:s + 12] for s in starts] == ["Natalia sold", "In May she s", "Altogether 4",
                                                           "Wait, \\boxed"]
    steps = [s for s in trajectory.segments if s.kind == "step"]
    assert [s.name for s in steps] == ["step 1", "step 2"]
    assert trajectory.text[steps[1].char_start:].lstrip().startswith("Altogether")  # 4 steps merged into 2
    assert (trajectory.parsed_answer, trajectory.correct) == ("72", True)


@pytest.mark.parametrize("bad, message", [
    ({"max_steps": 0}, "key 'segmentation.max_steps': expected a positive integer or null, got 0"),
    ({"think_tags": ["<think>"]}, "key 'segmentation.think_tags'"),
    ({"steps": "lines"}, "key 'segmentation.steps': expected one of 'pattern', 'paragraphs', 'sentences', 'think'"),
])
def test_bad_presets_are_named(bad, message):
    with pytest.raises(PlainDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_dataclass(SegmentationSpec, bad, "segmentation", "run.yaml")
