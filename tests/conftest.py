"""Shared fixtures: tiny models built from configs in the test, never downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def tiny_llama(num_layers: int = 2, num_heads: int = 4, num_kv_heads: int = 2, seed: int = 0, vocab_size: int = 64):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, num_key_value_heads=num_kv_heads, max_position_embeddings=256,
    )
    return LlamaForCausalLM(config).eval()


def one_head_llama(only: tuple[int, int], seed: int = 3):
    """A tiny Llama (2 layers x 4 heads) whose output projection ignores every head but ``only``: a mechanism
    set by hand, so an analysis that looks for the head the model uses has one right answer."""
    import torch

    model = tiny_llama(num_layers=2, num_heads=4, num_kv_heads=2, seed=seed)
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    with torch.no_grad():
        for layer, block in enumerate(model.model.layers):
            for head in range(4):
                if (layer, head) != only:
                    block.self_attn.o_proj.weight[:, head * head_dim:(head + 1) * head_dim] = 0
    return model


@pytest.fixture
def llama_model():
    return tiny_llama()


def save_tiny_checkpoint(directory: Path) -> Path:
    """A random-weight Llama with the character tokenizer, saved like a hub checkpoint."""
    from generator.demo_model.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    model = tiny_llama(vocab_size=len(tokenizer))
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.bos_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


HOSTILE_PROMPT = "Q: <script>alert(1)</script> {{x}} $5 *a*="


def write_dataset(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A complete run directory from a tiny random model, including a hostile prompt."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run

    base = tmp_path_factory.mktemp("tiny_run")
    save_tiny_checkpoint(base / "model")
    write_dataset(base / "alpha.jsonl", [
        {"id": "a-0", "prompt": "Q: 2+3*4=", "answer": "14", "difficulty": "2 steps", "category": "a+b*c"},
        {"id": "a-1", "prompt": HOSTILE_PROMPT, "answer": "1"},
    ])
    write_dataset(base / "beta.jsonl", [{"id": "b-0", "prompt": "Q: 5*6-7=", "answer": "23"}])
    written = parse_config({
        "run_name": "tiny",
        "model": {"id": "./model"},
        "datasets": [{"name": "alpha", "path": "alpha.jsonl"}, {"name": "beta", "path": "beta.jsonl"}],
        "generation": {"max_new_tokens": 12},
        "output_dir": "runs",
    })
    config = resolve_paths(written, base)
    summary = execute_run(config, written.to_dict(), written.config_hash())
    return summary.directory


@pytest.fixture(scope="session")
def tiny_site(tiny_run, tmp_path_factory):
    from generator.render.site import build_site

    out = tmp_path_factory.mktemp("tiny_site")
    built = build_site(tiny_run.parent, REPO_ROOT / "mkdocs.yml", site_dir=out / "site", docs_dir=out / "docs")
    return built.site_dir
