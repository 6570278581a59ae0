"""A character-level tokenizer built with the `tokenizers` library.

One token per printable ASCII character keeps token boundaries obvious on the pages and
lets later training mixes add any text without changing the vocabulary. It is saved as a
normal ``tokenizer.json`` so ``AutoTokenizer.from_pretrained`` loads it like a hub tokenizer.
"""

from __future__ import annotations

import string

from generator.demo_model.decimals import CHAT_TEMPLATE

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)


def character_vocabulary() -> dict[str, int]:
    chars = [c for c in string.printable if c not in "\t\r\x0b\x0c"]  # keeps "\n" for chat prompts
    tokens = list(SPECIAL_TOKENS) + chars
    return {token: index for index, token in enumerate(tokens)}


def build_tokenizer():
    """A `PreTrainedTokenizerFast` that splits text into single characters and adds <bos>."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, decoders
    from transformers import PreTrainedTokenizerFast

    vocab = character_vocabulary()
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, vocab[BOS])]
    )
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        chat_template=CHAT_TEMPLATE,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
    )
