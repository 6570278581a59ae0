"""A hub id loads through the same code path as a local checkpoint (from the local cache, offline)."""

from __future__ import annotations

import pytest

from generator.capture.model_loading import ModelLoadError, load_model, resolve_device
from generator.config import ModelSpec
from tests.conftest import save_tiny_checkpoint


def fake_hub_cache(root, repo_id: str, revision: str = "0123456789abcdef0123456789abcdef01234567"):
    """Lay out a checkpoint as huggingface_hub's cache does: models--org--name/snapshots/<rev>, refs/main."""
    folder = root / f"models--{repo_id.replace('/', '--')}"
    save_tiny_checkpoint(folder / "snapshots" / revision)
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(revision)
    return root


def test_hub_id_loads_from_the_cache_offline(tmp_path, monkeypatch):
    cache = fake_hub_cache(tmp_path / "hub", "atlas-test/tiny-llama")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    loaded = load_model(ModelSpec(id="atlas-test/tiny-llama", device="cpu"))
    assert loaded.info.id == "atlas-test/tiny-llama"
    assert loaded.info.architecture == "LlamaForCausalLM"
    assert loaded.tokenizer.padding_side == "left"


def test_a_hub_id_not_in_the_cache_fails_at_once_offline(monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="model.id 'nobody/nothing': not a local path, not in the local Hugging "
                                             "Face cache, and the hub cannot be reached"):
        load_model(ModelSpec(id="nobody/nothing", device="cpu"))
    assert time.perf_counter() - started < 5  # no retries


def test_a_missing_local_path_is_named_as_a_path(tmp_path):
    with pytest.raises(ModelLoadError, match=f"{tmp_path / 'gone'}: model.id: no such local checkpoint directory"):
        load_model(ModelSpec(id=str(tmp_path / "gone"), device="cpu"))


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")


def table_configs(vocab: int) -> dict:
    """A tiny config for every architecture in architectures.yaml (random weights, built here)."""
    import transformers as tf

    common = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=128)
    return {
        "LlamaForCausalLM": tf.LlamaConfig(**common, num_key_value_heads=2),
        "Qwen2ForCausalLM": tf.Qwen2Config(**common, num_key_value_heads=2),
        "Qwen3ForCausalLM": tf.Qwen3Config(**common, num_key_value_heads=2, head_dim=8),
        "MistralForCausalLM": tf.MistralConfig(**common, num_key_value_heads=2, sliding_window=8),
        "Gemma2ForCausalLM": tf.Gemma2Config(**common, num_key_value_heads=2, head_dim=8, sliding_window=8,
                                             query_pre_attn_scalar=8),
        "Gemma3ForCausalLM": tf.Gemma3TextConfig(**common, num_key_value_heads=2, head_dim=8, sliding_window=8,
                                                 query_pre_attn_scalar=8),
        "Phi3ForCausalLM": tf.Phi3Config(**common, num_key_value_heads=2, pad_token_id=0),
        "Olmo2ForCausalLM": tf.Olmo2Config(**common, num_key_value_heads=2),
        "GPT2LMHeadModel": tf.GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=128),
        "GPTNeoXForCausalLM": tf.GPTNeoXConfig(**common),
    }


def test_the_table_covers_exactly_these_configs():
    import yaml

    from generator.capture.architectures import TABLE

    listed = set(yaml.safe_load(TABLE.read_text()))
    assert listed == set(table_configs(10))


@pytest.mark.parametrize("architecture", sorted(table_configs(10)))
def test_every_architecture_in_the_table_loads_and_is_captured(tmp_path, architecture):
    """Through the same loader as `atlas run` (Gemma 2 and 3 fall back from SDPA, which transformers refuses)."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    from generator.capture import capture_attention
    from generator.demo_model.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(table_configs(len(tokenizer))[architecture])
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    loaded = load_model(ModelSpec(id=str(tmp_path / "m"), device="cpu"))
    assert loaded.info.architecture == architecture and loaded.info.source == "local"
    ids = torch.tensor([tokenizer("Q: 12+3*4=")["input_ids"]])
    capture = capture_attention(loaded.model, ids, np.zeros(ids.shape[1], dtype=np.int64), keep_maps=True)
    np.testing.assert_allclose(capture.maps.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("damage,message", [
    (lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]), "could not load the model"),
    (lambda path: path.write_bytes(b"not a safetensors file at all"), "could not load the model"),
])
def test_damaged_weight_files_give_one_line_errors(tmp_path, damage, message):
    checkpoint = save_tiny_checkpoint(tmp_path / "m")
    damage(checkpoint / "model.safetensors")
    with pytest.raises(ModelLoadError, match=f"{checkpoint}: {message}") as info:
        load_model(ModelSpec(id=str(checkpoint), device="cpu"))
    assert "\n" not in str(info.value)


def test_weights_of_the_wrong_shape_are_refused(tmp_path):
    import json

    checkpoint = save_tiny_checkpoint(tmp_path / "m")
    config = json.loads((checkpoint / "config.json").read_text())
    config["intermediate_size"] = 80  # the stored MLP weights are 64 wide
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="the weights do not fit the model's config|could not load the model"):
        load_model(ModelSpec(id=str(checkpoint), device="cpu"))


def test_device_map_auto_loads_through_accelerate(tmp_path):
    """On this CPU machine everything lands on the CPU; on several GPUs accelerate spreads the layers."""
    import torch

    loaded = load_model(ModelSpec(id=str(save_tiny_checkpoint(tmp_path / "m")), device="cpu", device_map="auto"))
    assert loaded.info.device == "auto (device_map)"
    with torch.no_grad():
        assert loaded.model(torch.tensor([[1, 2, 3]])).logits.shape[:2] == (1, 3)
