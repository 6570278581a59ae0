"""An R1-style setup end to end on a random-weight Qwen2 stand-in: a byte-level BPE tokenizer trained here
with ChatML specials and a template that opens the thinking block, a GSM8K Parquet file, chat prompts,
think-block segmentation, boxed answers checked symbolically, sampling; then the site."""

import html

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generator.config import parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.render.site import build_site
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT
from tests.test_table_datasets import GSM8K_ROWS

R1_STYLE = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def reasoning_checkpoint(directory):
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    texts = GSM8K_ROWS["question"] + GSM8K_ROWS["answer"] + ["<think>\nLet me think.\n\n</think>\n\\boxed{72}"]
    raw.train_from_iterator(texts * 10, trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = tf.PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                           additional_special_tokens=SPECIALS[1:])
    tokenizer.chat_template = R1_STYLE
    torch.manual_seed(0)
    model = tf.Qwen2ForCausalLM(tf.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


@pytest.fixture(scope="module")
def reasoning_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("r1")
    reasoning_checkpoint(base / "model")
    pq.write_table(pa.table(GSM8K_ROWS), base / "gsm8k.parquet")
    written = parse_config({
        "run_name": "r1-style", "model": {"id": "./model"}, "seed": 1,
        "datasets": [{"name": "gsm8k", "path": "gsm8k.parquet", "fields": {"id": None, "prompt": "question",
                                                                            "answer": "answer"},
                      "answer_format": "hash", "limit": 2}],
        "prompts": {"format": "chat", "system": "Reason step by step, then put the answer in \\boxed{}."},
        "segmentation": {"steps": "think", "answer_format": "boxed", "max_steps": 4},
        "answers": {"check": "math"},
        "generation": {"max_new_tokens": 24, "temperature": 0.8, "top_p": 0.95},
        "analyses": {"attention": {}, "ablation": {"methods": ["zero"]}, "salience": {}},
        "output_dir": "runs"}, "run.yaml")
    run = load_run(execute_run(resolve_paths(written, base), written.to_dict(), written.config_hash()).directory)
    return base, run


def test_the_run_keeps_what_the_model_read_and_how_it_was_sampled(reasoning_run):
    _, run = reasoning_run
    trajectory = run.trajectory("gsm8k", "0")
    rendered = trajectory.metadata["rendered_prompt"]
    assert rendered.startswith("<|im_start|>system\nReason step by step") and rendered.endswith(
        "<|im_start|>assistant\n<think>\n")
    # read as rendered: the template's special tokens (shown by name, no text of their own), nothing added
    without_specials = rendered
    for special in SPECIALS:
        without_specials = without_specials.replace(special, "")
    assert trajectory.text.startswith(without_specials) and trajectory.tokens[0] == "<|im_start|>"
    assert trajectory.tokens[:trajectory.n_prompt_tokens].count("<|im_start|>") == 3
    assert trajectory.expected_answer == "72" and trajectory.metadata["solution"].endswith("#### 72")
    assert trajectory.metadata["sampling"]["temperature"] == 0.8
    # a random model never closes the block: no answer part, no parsed answer, scored wrong
    assert trajectory.parsed_answer is None and trajectory.correct is False
    assert all(s.kind != "answer" for s in trajectory.segments)
    assert len([s for s in trajectory.segments if s.kind == "step"]) <= 4


def test_its_pages_say_what_was_found(reasoning_run, tmp_path):
    base, run = reasoning_run
    site = build_site(run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = html.unescape((site / "runs/r1-style/gsm8k/examples/0.html").read_text())
    trajectory = run.trajectory("gsm8k", "0")
    steps = [s for s in trajectory.segments if s.kind == "step"]
    if steps:  # the sampled text had paragraphs inside the block: the analyses ran on them
        assert "Ablation effect per part" in page and "No part to ablate" not in page
    else:
        parts = ", ".join(s.name for s in trajectory.segments)
        assert f"No part to ablate was found in this example's output (its parts: {parts})" in page
    dataset_page = html.unescape((site / "runs/r1-style/gsm8k/index.html").read_text())
    assert "0.0% (0/2; 95% CI 0–66%)" in dataset_page  # neither random output held a boxed answer after a closed block


def test_byte_level_tokens_show_as_the_text_they_decode_to(reasoning_run, tmp_path):
    """The token strip and the token map show each token as its piece of the decoded text (whitespace made
    visible), never the byte-level BPE alphabet ('Ġ', 'Ċ'); special tokens as themselves."""
    import re

    from generator.render.jinja import inert
    from generator.render.page_data import read_page_data
    from generator.render.plots import display_token

    base, run = reasoning_run
    build_site(run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site", docs_dir=tmp_path / "docs")
    trajectory = run.trajectory("gsm8k", "0")
    assert "\n" in trajectory.text and " " in trajectory.text  # the text has what byte-level BPE would show as Ċ, Ġ
    markdown = (tmp_path / "docs/runs/r1-style/gsm8k/examples/0.md").read_text()
    target = re.search(r'<div class="atlas-tokens" id="([^"]+)"></div>', markdown).group(1)
    data = read_page_data((tmp_path / "docs/runs/r1-style/gsm8k/examples/0.data.js").read_text())
    shown = data[target]["tokens"]  # the strip's text, as the page's script draws it

    def as_shown(token: str) -> str:  # control characters are shown as visible escapes (\\u0011), as in any text
        return html.unescape(str(inert(display_token(token))))

    assert shown == [as_shown(token) for token in trajectory.tokens]
    pieces = [trajectory.text[start:end] for start, end in trajectory.token_offsets]
    assert [as_shown(piece) if start < end else as_shown(token) for piece, token, (start, end)
            in zip(pieces, trajectory.tokens, trajectory.token_offsets)] == shown  # each its piece of the text
    assert not any(mark in "".join(shown) and mark not in trajectory.text for mark in ("Ġ", "Ċ"))  # no BPE alphabet
    # (a random model's invalid UTF-8 bytes decode to U+FFFD in the text itself, and show as such)
    assert "".join(token for token, (start, end) in zip(trajectory.tokens, trajectory.token_offsets)
                   if start < end) == trajectory.text[trajectory.token_offsets[0][0]:]
    token_map = next(value for value in data.values() if isinstance(value, dict) and "tokens" in value
                     and "layers" in value)
    assert token_map["tokens"] == [display_token(token) for token in trajectory.tokens]  # data: drawn as text
