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


def test_missing_models_fail_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not load model 'nobody/nothing'"):
        load_model(ModelSpec(id="nobody/nothing", device="cpu"))


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
