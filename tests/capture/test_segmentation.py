from generator.capture.generation import token_pieces
from generator.capture.segmentation import parse_answer, segment_trajectory
from generator.capture.segmentation import SegmentationSpec
from generator.demo_model.tokenizer import build_tokenizer

SPEC = SegmentationSpec()


def segments_of(prompt, completion):
    tokenizer = build_tokenizer()
    ids = tokenizer(prompt)["input_ids"] + tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    n_prompt = len(tokenizer(prompt)["input_ids"])
    pieces, offsets, text = token_pieces(tokenizer, ids)
    return text, pieces, segment_trajectory(text, offsets, n_prompt, SPEC)


def test_question_steps_and_answer_are_split_on_markers():
    text, pieces, segments = segments_of("Q: 17+4*6=", " T: 4*6=24; T: 17+24=41; A: 41")
    assert text == "Q: 17+4*6= T: 4*6=24; T: 17+24=41; A: 41"
    assert [s.name for s in segments] == ["question", "step 1", "step 2", "answer"]
    assert [text[s.char_start:s.char_end] for s in segments] == ["Q: 17+4*6= ", "T: 4*6=24; ", "T: 17+24=41; ", "A: 41"]
    assert pieces[segments[-1].end - 1] == "<eos>", "the closing special token joins the answer"
    assert segments[0].start == 0 and segments[-1].end == len(pieces)
    assert all(a.end == b.start for a, b in zip(segments, segments[1:]))


def test_generation_without_markers_is_one_reasoning_segment():
    _, _, segments = segments_of("Q: 1+1=", " no idea")
    assert [(s.name, s.kind) for s in segments] == [("question", "question"), ("reasoning", "other")]


def test_answer_parsing_takes_the_last_answer():
    assert parse_answer(" T: 2*3=6; A: 6 A: 7", SPEC) == "7"
    assert parse_answer(" T: 2*3=6;", SPEC) is None
    assert parse_answer("A: -12", SegmentationSpec(answer_pattern=r"A:\s*(-?\d+)")) == "-12"


def test_token_pieces_of_a_byte_level_tokenizer_rebuild_the_text():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core)
    text = "héllo wörld → ok"
    ids = tokenizer(text)["input_ids"]
    pieces, offsets, decoded = token_pieces(tokenizer, ids)
    assert decoded == text
    assert "".join(pieces) == text
    assert all(decoded[a:b] == p for p, (a, b) in zip(pieces, offsets))
