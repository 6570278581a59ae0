"""A run's prompts through the model's chat template: rendered once, read without a second <bos>, stored."""

import json

import pytest

from generator.config import ConfigError, parse_config, resolve_paths
from generator.datasets import DatasetError
from generator.pipeline import execute_run
from generator.store.run_directory import load_run
from tests.conftest import save_tiny_checkpoint, write_dataset

# Qwen 3's shape: ChatML turns, and a generation prompt that closes an empty thinking block when
# thinking is switched off (Qwen's has blank lines there; the test's character tokenizer has no token
# for a blank line, so single newlines here)
QWEN3_LIKE = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
              "{% if add_generation_prompt %}<|im_start|>assistant\n"
              "{% if enable_thinking is defined and not enable_thinking %}<think>\n</think>\n{% endif %}{% endif %}")


def chat_model(directory, template=QWEN3_LIKE):
    from transformers import AutoTokenizer

    save_tiny_checkpoint(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(directory)
    if template is None:  # the first save wrote the demo tokenizer's template beside it
        for leftover in directory.glob("chat_template.*"):
            leftover.unlink()
        config = directory / "tokenizer_config.json"
        config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != "chat_template"}))


def run(tmp_path, prompts, generation=None, name="chat"):
    write_dataset(tmp_path / "d.jsonl", [{"id": "x-0", "prompt": "What is 2+3?", "answer": "5"}])
    written = parse_config({"run_name": name, "model": {"id": "./model"}, "datasets": [{"name": "d", "path": "d.jsonl"}],
                            "generation": {"max_new_tokens": 5, **(generation or {})}, "prompts": prompts,
                            "output_dir": "runs"})
    return load_run(execute_run(resolve_paths(written, tmp_path), written.to_dict(), written.config_hash()).directory)


def test_the_chat_template_renders_the_prompt_with_system_and_options(tmp_path):
    chat_model(tmp_path / "model")
    trajectory = run(tmp_path, {"format": "chat", "system": "Be brief.",
                                "template_options": {"enable_thinking": False}}).trajectory("d", "x-0")
    rendered = ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n"
                "<|im_start|>assistant\n<think>\n</think>\n")
    assert trajectory.metadata["rendered_prompt"] == rendered
    assert trajectory.prompt == "What is 2+3?"  # the dataset's prompt, the user's message
    assert trajectory.text.startswith(rendered) and not trajectory.text.startswith("<bos>")  # no <bos> added
    assert trajectory.n_prompt_tokens == len(rendered)  # one token per character in this tokenizer
    question = next(s for s in trajectory.segments if s.kind == "question")  # located in the rendering
    assert trajectory.text[question.char_start:question.char_end] == "What is 2+3?"
    assert [s.name for s in trajectory.segments][:3] == ["chat template", "question", "generation prompt"]


def test_chat_without_a_template_or_too_long_is_refused_before_any_example_runs(tmp_path):
    chat_model(tmp_path / "model", template=None)
    with pytest.raises(ConfigError, match="prompts.format: chat: the tokenizer of model 'model' has no chat template"):
        run(tmp_path, {"format": "chat"})
    chat_model(tmp_path / "model")
    with pytest.raises(DatasetError, match="chat prompts are refused, never cut"):
        run(tmp_path, {"format": "chat", "system": "x" * 200}, {"long_prompts": "truncate", "max_new_tokens": 10},
            name="long")


def test_the_default_is_plain_and_keeps_the_config_hash():
    base = {"run_name": "r", "model": {"id": "m"}, "datasets": [{"name": "d", "path": "d.jsonl"}]}
    assert parse_config(base).config_hash() == parse_config({**base, "prompts": {"format": "plain"}}).config_hash()
    assert parse_config(base).config_hash() != parse_config({**base, "prompts": {"format": "chat"}}).config_hash()


LLAMA3_LIKE = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
               "{{ m.content }}<|eot_id|>{% endfor %}"
               "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")


def test_a_llama3_style_template_on_a_byte_level_tokenizer_has_one_bos_and_its_question_located():
    """Llama 3's template writes <|begin_of_text|> itself: the rendering is read without another one, and
    the user's message is found between the header tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from generator.capture.generation import token_pieces
    from generator.capture.segmentation import SegmentationSpec, segment_trajectory
    from generator.chat_prompts import render_prompts
    from generator.config import PromptSpec
    from generator.datasets import Example

    specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(["What is 2+3? Think step by step. The answer is 5."] * 20, trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                        additional_special_tokens=specials[1:])
    tokenizer.chat_template = LLAMA3_LIKE
    [example] = render_prompts([Example("x-0", "What is 2+3?")], tokenizer, PromptSpec("chat", "Be brief."), "llama")
    text, add_specials = example.model_text()
    ids = tokenizer(text, add_special_tokens=add_specials)["input_ids"]
    assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    pieces, offsets, decoded = token_pieces(tokenizer, ids)
    segments = segment_trajectory(decoded, offsets, len(ids), SegmentationSpec(), example.prompt)
    assert [s.name for s in segments] == ["chat template", "question", "generation prompt"]
    question = segments[1]
    assert decoded[question.char_start:question.char_end].strip() == "What is 2+3?"
    assert pieces[segments[2].start:segments[2].end][0] == "<|eot_id|>"  # the turn's end and the next header
