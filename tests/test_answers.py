"""Answers as real models write them: found by format, checked exactly, numerically or symbolically.

The texts are the shapes of recorded outputs: an R1-style think block ending in a boxed LaTeX
answer, a GSM8K solution (``#### 72``), a chat reply ("The final answer is ..."), free text.
"""

import pytest

from generator.answers import AnswerCheck, locate_answer, read_number
from generator.capture.generation import Generation, token_pieces
from generator.capture.segmentation import SegmentationSpec, parse_answer, segment_trajectory
from generator.datasets import Example

R1 = ("<think>\nNatalia sold 48 clips in April. In May she sold half as many: 48 / 2 = 24.\n\n"
      "Altogether 48 + 24 = 72. Let me double-check: \\boxed{70} would be wrong.\n</think>\n"
      "Natalia sold $48 + 24 = \\boxed{72}$ clips.")
NESTED = "So the probability is \\(\\boxed{\\frac{1}{2}}\\). Unclosed: \\boxed{3"
GSM8K = ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
         "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72")
CHAT = "Adding the two amounts gives 1000 dollars.\n\nThe final answer is: $1,000.\n"
FREE = "She has 12 apples and buys 3.5 kg of pears, so -1,234.5 is the balance."


@pytest.mark.parametrize("text, answer_format, value", [
    (R1, "boxed", "72"),  # the last box, not the one inside the reasoning
    (NESTED, "boxed", "\\frac{1}{2}"),  # nested braces kept; an unclosed box is skipped
    (GSM8K, "hash", "72"),
    (CHAT, "answer_is", "$1,000"),
    (FREE, "last_number", "-1,234.5"),
    ("A: 7 then A: 9", "pattern", "9"),
    ("no answer here", "boxed", None),
    ("no answer here", "hash", None),
])
def test_each_format_finds_the_last_answer_and_its_value_span(text, answer_format, value):
    found = locate_answer(text, answer_format, r"A:\s*(-?\d+)")
    if value is None:
        assert found is None
        return
    assert found.value == value and text[found.value_start:found.value_end] == value
    assert found.start <= found.value_start


@pytest.mark.parametrize("answer, expected, numeric, math", [
    ("72", "72.0", True, True),
    ("$72", "72", True, True),
    ("72.", "72", True, True),
    ("\\frac{1}{2}", "0.5", True, True),
    ("1,000", "1000", True, True),
    ("50%", "0.5", True, True),
    ("\\boxed{\\dfrac{3}{4}}", "3/4", True, True),
    ("12 apples", "12", True, True),  # a number followed by words reads as the number
    ("72", "73", False, False),
    ("1,2", "12", False, False),  # a list, not a number with a thousands separator
    ("x+1", "1+x", False, True),  # only the symbolic check sees these as equal
    ("2\\sqrt{3}", "\\sqrt{12}", False, True),
])
def test_numeric_and_math_checks_on_known_answers(answer, expected, numeric, math):
    assert AnswerCheck("numeric").matches(answer, expected) is numeric
    assert AnswerCheck("math").matches(answer, expected) is math
    assert AnswerCheck().matches(answer, expected) is (answer.strip() == expected.strip())


def test_no_answer_is_wrong_and_no_expected_answer_is_unscored():
    for check in ("exact", "numeric", "math"):
        assert AnswerCheck(check).matches(None, "3") is False
        assert AnswerCheck(check).matches("3", None) is None


def test_the_tolerance_is_relative_to_the_expected_value():
    assert AnswerCheck("numeric", tolerance=1e-3).matches("1000.9", "1000")
    assert not AnswerCheck("numeric", tolerance=1e-3).matches("1.01", "1")
    assert read_number("not a number") is None and read_number("3/0") is None


def test_normalized_answers_are_what_the_check_read():
    assert AnswerCheck("numeric").normalized("$1,000.") == "1000"
    assert AnswerCheck("numeric").normalized("\\frac{1}{3}") == "1/3"
    assert AnswerCheck("numeric").normalized("-3.50") == "-3.5"
    assert AnswerCheck("math").normalized("\\frac{2}{4}") == "1/2"
    assert AnswerCheck().normalized(" 72 ") == "72"


PROMPT = "Natalia sold clips to 48 friends in April, and half as many in May. How many in all?\n"
TEXTS = [PROMPT, R1, NESTED, GSM8K, CHAT, FREE]


def byte_level_bpe():
    """A byte-level BPE tokenizer (the GPT-2 / Llama 3 / Qwen family) trained here on math text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(TEXTS * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>")


def sentencepiece_style():
    """A SentencePiece-style BPE (the Llama 2 / Mistral family): spaces as '▁', pieces that never cross
    them, byte fallback for what the vocabulary lacks, trained here."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    raw.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    raw.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    raw.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"]
                                  + [f"<0x{i:02X}>" for i in range(256)])
    raw.train_from_iterator(TEXTS * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def unigram_style():
    """A Unigram model (the SentencePiece unigram of Gemma, T5): '▁' for spaces, newlines kept, trained here."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.Unigram())
    raw.normalizer = normalizers.Replace(" ", "▁")
    raw.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    raw.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    raw.train_from_iterator(TEXTS * 20, trainers.UnigramTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>",
                                                                                                "<unk>"],
                                                                unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>", unk_token="<unk>", pad_token="<pad>")


FAMILIES = {"byte-level BPE": byte_level_bpe, "SentencePiece BPE": sentencepiece_style, "Unigram": unigram_style}


@pytest.fixture(scope="module")
def bpe_tokenizer():
    return byte_level_bpe()


@pytest.fixture(scope="module", params=list(FAMILIES))
def tokenizer_family(request):
    return FAMILIES[request.param]()


def test_a_think_trace_with_a_boxed_answer_segments_and_scores(tokenizer_family):
    bpe_tokenizer = tokenizer_family
    from generator.analyses.scoring import forced_answer
    from generator.answers import AnswerCheck
    from generator.config import DatasetSpec, ModelSpec, RunConfig
    from generator.sources import build_trajectory

    prompt = PROMPT
    ids = bpe_tokenizer(prompt + R1)["input_ids"]
    n_prompt = len(bpe_tokenizer(prompt)["input_ids"])
    spec = SegmentationSpec(step_pattern=r"\n\n", answer_format="boxed")
    config = RunConfig("r", ModelSpec("m"), (DatasetSpec("gsm", "gsm.jsonl"),), segmentation=spec,
                       answers=AnswerCheck("numeric"))
    trajectory = build_trajectory(Generation(Example("q-1", prompt, answer="72.0"), tuple(ids), n_prompt),
                                  "gsm", bpe_tokenizer, config)
    assert (trajectory.parsed_answer, trajectory.normalized_answer, trajectory.correct) == ("72", "72", True)
    answer = next(s for s in trajectory.segments if s.kind == "answer")
    # the answer part starts with the first token that starts at its box or after (a token that starts
    # before it, like Unigram's " \\boxed{7", stays with the text before: tokens belong where they start)
    box = trajectory.text.rindex("\\boxed{72}")
    assert answer.char_start == min(a for a, b in trajectory.token_offsets if a >= box and b > a)
    assert [s.name for s in trajectory.segments][:3] == ["question", "preamble", "step 1"]
    assert parse_answer(trajectory.generated_text, spec) == "72"

    _, offsets, text = token_pieces(bpe_tokenizer, ids)
    forced, cut = forced_answer(ids, offsets, text, len(text) - len(trajectory.generated_text), n_prompt, "73",
                                bpe_tokenizer, spec)
    rewritten = bpe_tokenizer.decode(forced)
    assert rewritten == text[:text.rindex("\\boxed{72}") + len("\\boxed{")] + "73"  # the value replaced, in place
    assert forced[:cut] == ids[:cut]


def test_segment_boundaries_follow_the_answer_format():
    text = "Q\n" + GSM8K
    offsets = [(i, i + 1) for i in range(len(text))]
    names = [s.name for s in segment_trajectory(text, offsets, 1, SegmentationSpec(step_pattern=r"\n(?=N)",
                                                                                   answer_format="hash"))]
    assert names == ["question", "step 1", "step 2", "answer"]
    answer = segment_trajectory(text, offsets, 1, SegmentationSpec(answer_format="hash"))[-1]
    assert text[answer.char_start:answer.char_end] == "#### 72"


def test_teacher_forcing_writes_a_right_answer_the_way_the_model_wrote_it(bpe_tokenizer):
    """Under a numeric check "72" is right for an expected "72.0": the model's own "72" is what is forced
    (a wrong answer, or an exact run, forces the dataset's text)."""
    import dataclasses

    from generator.analyses.scoring import teacher_forced_answer
    from generator.answers import AnswerCheck
    from generator.config import DatasetSpec, ModelSpec, RunConfig
    from generator.sources import build_trajectory

    spec = SegmentationSpec(step_pattern=r"\n\n", answer_format="boxed")
    ids = bpe_tokenizer(PROMPT + R1)["input_ids"]
    n_prompt = len(bpe_tokenizer(PROMPT)["input_ids"])
    config = RunConfig("r", ModelSpec("m"), (DatasetSpec("d", "d.jsonl"),), segmentation=spec,
                       answers=AnswerCheck("numeric"))
    right = build_trajectory(Generation(Example("q", PROMPT, answer="72.0"), tuple(ids), n_prompt), "d",
                             bpe_tokenizer, config)
    forced, cut = teacher_forced_answer(right, bpe_tokenizer, spec)
    assert right.correct and bpe_tokenizer.decode(forced).endswith("\\boxed{72")
    wrong = dataclasses.replace(right, expected_answer="73.0", correct=False)
    forced, cut = teacher_forced_answer(wrong, bpe_tokenizer, spec)
    assert bpe_tokenizer.decode(forced).endswith("\\boxed{73.0")
