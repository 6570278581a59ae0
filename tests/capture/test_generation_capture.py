"""Rows captured during generation equal a forward-pass capture of the finished sequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.capture.attention import CaptureOptions, capture_attention
from generator.capture.generation import token_pieces
from generator.capture.generation_capture import generate_with_capture
from generator.capture.segmentation import segment_owners
from generator.capture.segmentation import SegmentationSpec
from generator.datasets import Example, load_dataset
from tests.conftest import REPO_ROOT, save_tiny_checkpoint

SPEC = SegmentationSpec()


def load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    return AutoModelForCausalLM.from_pretrained(path).eval(), tokenizer


def forward_reference(model, tokenizer, token_ids, n_prompt, spec, question=None):
    _, offsets, text = token_pieces(tokenizer, token_ids)
    owner, _ = segment_owners(text, offsets, n_prompt, spec, question)
    ids = np.searchsorted(np.unique(owner), owner)
    return capture_attention(model, torch.tensor([token_ids]), ids, options=CaptureOptions())


def assert_same(captured, reference, maps=True):
    assert captured.segment_mass.shape == reference.segment_mass.shape
    assert np.abs(captured.segment_mass - reference.segment_mass).max() <= 1e-4
    assert np.abs(captured.max_weight - reference.max_weight).max() <= 1e-4
    assert np.abs(captured.entropy - reference.entropy).max() <= 1e-3
    if maps:
        assert np.abs(captured.maps - reference.maps).max() <= 1e-4


@pytest.fixture(scope="module")
def shipped():
    return load(REPO_ROOT / "data/models/atlas-arith-demo")


def test_shipped_model_batch_matches_forward_capture(shipped):
    model, tokenizer = shipped
    examples = load_dataset(REPO_ROOT / "data/datasets/three-step.jsonl")[:3] + \
        load_dataset(REPO_ROOT / "data/datasets/two-step.jsonl")[:3]  # different prompt lengths: left padding
    results = generate_with_capture(model, tokenizer, examples, 64, SPEC)
    for result in results:
        g = result.generation
        assert not result.recaptured
        assert tokenizer.decode(g.token_ids, skip_special_tokens=True).endswith(f"A: {g.example.answer}")
        assert_same(result.capture, forward_reference(model, tokenizer, list(g.token_ids), g.n_prompt_tokens, SPEC))


@pytest.mark.parametrize("keep_maps", [True, False])
def test_random_model_hitting_the_token_limit(tmp_path, keep_maps):
    """Grouped-query attention, left padding, rows with and without their full maps."""
    model, tokenizer = load(save_tiny_checkpoint(tmp_path / "m"))
    examples = [Example("a", "Q: 1+2*3="), Example("b", "Q: 45*6+7*8-9=")]
    options = CaptureOptions() if keep_maps else CaptureOptions(max_map_tokens=0)
    for result in generate_with_capture(model, tokenizer, examples, 10, SPEC, options):
        g = result.generation
        assert len(g.token_ids) <= g.n_prompt_tokens + 10
        assert (result.capture.maps is not None) == keep_maps
        assert_same(result.capture, forward_reference(model, tokenizer, list(g.token_ids), g.n_prompt_tokens, SPEC),
                    maps=keep_maps)


def test_late_segment_decisions_are_recaptured_exactly(shipped):
    """A step marker recognised only once the answer appears changes parts far back: recapture."""
    model, tokenizer = shipped
    late = SegmentationSpec(step_pattern=r"T:(?=.*A:)")
    examples = load_dataset(REPO_ROOT / "data/datasets/three-step.jsonl")[:2]
    for result in generate_with_capture(model, tokenizer, examples, 64, late):
        g = result.generation
        assert result.recaptured
        assert_same(result.capture, forward_reference(model, tokenizer, list(g.token_ids), g.n_prompt_tokens, late))


def test_pipeline_stores_the_same_numbers_either_way(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.store.run_directory import load_run

    runs = {}
    for during in (True, False):
        written = parse_config({
            "run_name": f"during-{during}",
            "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
            "datasets": [{"name": "two-step", "path": str(REPO_ROOT / "data/datasets/two-step.jsonl"), "limit": 4}],
            "analyses": {"attention": {"during_generation": during}},
            "output_dir": str(tmp_path),
        })
        runs[during] = load_run(execute_run(resolve_paths(written, tmp_path), written.to_dict(), "x").directory)
    for example_id in runs[True].example_ids("two-step"):
        a = runs[True].tensors("two-step", example_id, "attention")
        b = runs[False].tensors("two-step", example_id, "attention")
        assert a.keys() == b.keys()
        for key in a:
            assert np.abs(a[key] - b[key]).max() <= 1e-4, key


def test_the_prompt_step_takes_the_fused_kernel_when_no_maps_are_kept(tmp_path, monkeypatch):
    from generator.capture import PassRecorder

    model, tokenizer = load(save_tiny_checkpoint(tmp_path / "m"))
    fused_layers = []
    record_fused = PassRecorder.record_fused

    def counting(self, layer, *args, **kwargs):
        fused_layers.append(layer)
        return record_fused(self, layer, *args, **kwargs)

    monkeypatch.setattr(PassRecorder, "record_fused", counting)
    examples = [Example("a", "Q: 1+2*3="), Example("b", "Q: 45*6+7*8-9=")]
    generate_with_capture(model, tokenizer, examples, 4, SPEC, CaptureOptions(max_map_tokens=0))
    assert fused_layers == list(range(model.config.num_hidden_layers))  # the prompt step, once per layer
    fused_layers.clear()
    generate_with_capture(model, tokenizer, examples, 4, SPEC, CaptureOptions(max_map_tokens=0, engine="torch"))
    assert fused_layers == []


def sliding_model(name: str, vocab: int, window: int):
    """A random model whose cache keeps only ``window`` keys in (some of) its layers."""
    import transformers as tf

    torch.manual_seed(0)
    common = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=256, sliding_window=window)
    if name == "mistral":
        model = tf.MistralForCausalLM(tf.MistralConfig(**common))
    elif name == "gemma2":  # sliding and global layers alternate; soft-capped scores
        model = tf.Gemma2ForCausalLM(tf.Gemma2Config(**common, head_dim=8, attn_logit_softcapping=5.0,
                                                     final_logit_softcapping=30.0, query_pre_attn_scalar=8))
    elif name == "qwen3":  # sliding layers named per layer
        model = tf.Qwen3ForCausalLM(tf.Qwen3Config(**common, head_dim=8, use_sliding_window=True,
                                                   layer_types=["sliding_attention", "full_attention",
                                                                "sliding_attention"]))
    else:
        raise KeyError(name)
    return model.float().eval()


@pytest.mark.parametrize("name", ["mistral", "gemma2", "qwen3"])
@pytest.mark.parametrize("keep_maps", [True, False])
def test_sliding_window_layers_during_generation_match_a_forward_capture(name, keep_maps):
    """The cache keeps only the window's keys in sliding layers; rows must still be placed exactly."""
    from generator.demo_model.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.padding_side = "left"
    model = sliding_model(name, len(tokenizer), window=6)
    model.config.eos_token_id = -1  # never stop early: trajectories run well past the window
    examples = [Example("a", "Q: 1+2*3="), Example("b", "Q: 45*6+7*8-9=")]  # left padding too
    options = CaptureOptions() if keep_maps else CaptureOptions(max_map_tokens=0)
    results = generate_with_capture(model, tokenizer, examples, 14, SPEC, options)
    for result in results:
        g = result.generation
        assert len(g.token_ids) > 2 * 6
        assert_same(result.capture, forward_reference(model, tokenizer, list(g.token_ids), g.n_prompt_tokens, SPEC),
                    maps=keep_maps)


def test_a_chat_rendered_prompt_splits_into_its_parts_and_streams_exactly(shipped):
    """The user's message is the question; the template's text around it is its own parts, during
    generation as after it."""
    from generator.capture.segmentation import segment_trajectory

    model, tokenizer = shipped
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "Q: 17+4*6="}], tokenize=False,
                                             add_generation_prompt=True)
    example = Example("c-0", "Q: 17+4*6=", model_input=rendered)
    [captured] = generate_with_capture(model, tokenizer, [example], 24, SPEC, CaptureOptions())
    ids, n_prompt = captured.generation.token_ids, captured.generation.n_prompt_tokens
    _, offsets, text = token_pieces(tokenizer, ids)
    segments = segment_trajectory(text, offsets, n_prompt, SPEC, example.prompt)
    shown = [(s.name, text[s.char_start:s.char_end]) for s in segments[:3]]
    assert shown[:2] == [("chat template", "User: "), ("question", "Q: 17+4*6=")]
    assert shown[2][0] == "generation prompt" and shown[2][1].strip() == "Bot:"  # (and the space before step 1)
    assert not captured.recaptured  # the parts were known from the first token on
    assert_same(captured.capture, forward_reference(model, tokenizer, ids, n_prompt, SPEC, example.prompt))
