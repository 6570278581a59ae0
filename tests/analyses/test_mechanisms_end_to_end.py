"""Every mechanism analysis through `atlas run` and a built site on random checkpoints of other architectures
(soft-capped, sliding-window Gemma 2; GPT-2 with its fused projections): nothing refuses, every section renders,
and a random model's results are reported as negative or inconclusive, never as findings."""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import REPO_ROOT

ANALYSES = {
    "attention": {},
    "formats": {"templates": {"plain": "P: {question}", "qa": "Q: {question}", "chat": "chat"}},
    "transplant": {"heads": True},
    "scaling": {"template": "Q: {question}", "behaviour": "field:bug_answer", "layers": [1],
                "components": ["attn_out", "mlp_out"], "factors": [0.0, 2.0]},
    "token_classes": {"classes": {"digits": "^[0-9]$"}, "queries": "last",
                      "templates": {"plain": "P: {question}", "qa": "Q: {question}", "chat": "chat"}},
    "head_ablation": {},
    "routing": {},
    "compositional": {"triplets": True},
}


def random_checkpoint(name: str, directory):
    import torch
    import transformers as tf

    tokenizer = tf.AutoTokenizer.from_pretrained(REPO_ROOT / "data/models/atlas-arith-demo")
    torch.manual_seed(0)
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    if name == "gpt2":
        model = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=len(tokenizer), n_embd=64, n_layer=3, n_head=4,
                                                 n_positions=512, **ids))
    else:
        model = tf.Gemma2ForCausalLM(tf.Gemma2Config(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=8, query_pre_attn_scalar=16,
            max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id, **ids))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("architecture", ["gpt2", "gemma2"])
def test_every_mechanism_analysis_runs_and_renders(tmp_path, architecture):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site

    checkpoint = random_checkpoint(architecture, tmp_path / "model")
    config = parse_config({
        "run_name": "random", "model": {"id": str(checkpoint), "device": "cpu"}, "output_dir": str(tmp_path / "runs"),
        "analyses": ANALYSES, "generation": {"max_new_tokens": 16, "batch_size": 4},
        "datasets": [
            {"name": "decimals", "path": str(REPO_ROOT / "data/datasets/decimals.jsonl"), "limit": 4,
             "analyses": ["attention", "formats", "transplant", "scaling", "token_classes", "head_ablation"]},
            {"name": "three-step", "path": str(REPO_ROOT / "data/datasets/three-step.jsonl"), "limit": 2,
             "analyses": ["attention", "routing", "compositional", "head_ablation"]}]})
    execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash())
    site = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    decimals = (site / "runs/random/decimals/index.html").read_text()
    for section in ("mechanism", "prompt-formats", "head-ablation", "component-scaling", "attention-to-token-classes",
                    "attention-transplantation"):
        assert f'<h2 id="{section}">' in decimals, section
    text = html.unescape(re.sub(r"<[^>]+>", "", decimals))
    mechanism = text.split("Mechanism", 1)[1].split("Static figure", 1)[0]
    assert "B. The behaviour never occurred" in mechanism or "a negative result" in mechanism
    steps = (site / "runs/random/three-step/index.html").read_text()
    for section in ("head-ablation", "question-to-step-routing", "compositional-ablation"):
        assert f'<h2 id="{section}">' in steps, section
