"""Token pieces and offsets with the tokenizer kinds real models use, trained here (never downloaded).

Byte-level BPE (GPT-2, Qwen, Llama 3) splits a multi-byte character across tokens; SentencePiece-
style tokenizers mark word starts with '▁'. The pieces must join to the decoded text, each offset
must point at its piece, and no piece may show half a character.
"""

import pytest

from generator.capture.generation import token_pieces

CORPUS = ["the quick brown fox jumps over the lazy dog", "Q: 17+4*6= T: 4*6=24; T: 17+24=41; A: 41",
          "naïve café — über straße", "日本語のテキスト", "emoji 🙂 and 🚀 rockets", "  two  spaces\nand a newline"]
SAMPLES = ["the café 🙂 says 日本", "Q: 9*4-12= T: 9*4=36; A: 24", "über 🚀🚀 naïve", "  lead and\ttab\nline"]


def byte_level_bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(CORPUS * 3, trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"],
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>")


def sentencepiece_style():
    from tokenizers import SentencePieceBPETokenizer
    from transformers import PreTrainedTokenizerFast

    core = SentencePieceBPETokenizer()
    core.train_from_iterator(CORPUS * 3, vocab_size=120, special_tokens=["<unk>", "</s>"])
    return PreTrainedTokenizerFast(tokenizer_object=core._tokenizer, eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module", params=["byte-level-bpe", "sentencepiece"])
def tokenizer(request):
    return byte_level_bpe() if request.param == "byte-level-bpe" else sentencepiece_style()


@pytest.mark.parametrize("text", SAMPLES)
def test_pieces_join_to_the_decoded_text_and_offsets_point_at_them(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    pieces, offsets, decoded = token_pieces(tokenizer, ids)
    assert decoded == tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert len(pieces) == len(offsets) == len(ids)
    position = 0
    for piece, (start, end), token in zip(pieces, offsets, ids):
        if token in tokenizer.all_special_ids:  # <eos>, or <unk> for a character a vocabulary lacks
            assert (start, end) == (position, position) and piece == tokenizer.convert_ids_to_tokens(token)
            continue
        assert start == position and decoded[start:end] == piece
        assert "\ufffd" not in piece  # never half a character
        position = end
    assert position == len(decoded)


def test_a_character_split_across_byte_tokens_goes_to_the_token_that_completes_it():
    tokenizer = byte_level_bpe()
    ids = tokenizer("🚀", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1, "the emoji should need several byte-level tokens"
    pieces, offsets, decoded = token_pieces(tokenizer, ids)
    assert decoded == "🚀"
    assert pieces[:-1] == [""] * (len(ids) - 1) and pieces[-1] == "🚀"
    assert offsets[-1] == (0, 1)
