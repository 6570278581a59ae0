"""Direct logit attribution: the parts sum to the model's logit, and a hand-set mechanism is found exactly."""

from __future__ import annotations

import numpy as np
import pytest

from generator.analyses.base import AnalysisError
from generator.analyses.logit_attribution import attribute
from tests.conftest import REPO_ROOT, tiny_llama

IDS = [1, 17, 5, 33, 8, 21, 40, 12, 3]


def test_the_contributions_sum_to_the_logit_and_heads_to_their_layer():
    model = tiny_llama(num_layers=3, num_heads=4, num_kv_heads=2, seed=5)
    parts = attribute(model, IDS, 6)
    total = parts["embedding"][0] + parts["attention"].sum() + parts["mlp"].sum()
    assert total == pytest.approx(parts["logit"][0], abs=1e-4)
    np.testing.assert_allclose(parts["heads"].sum(axis=1), parts["attention"], atol=1e-5)


def test_a_hand_set_mechanism_is_found_exactly():
    """MLPs that write nothing and one head that writes alone: attribution says exactly that."""
    import torch

    model = tiny_llama(num_layers=2, num_heads=4, num_kv_heads=2, seed=6)
    head_dim = model.config.hidden_size // 4
    with torch.no_grad():
        for layer, block in enumerate(model.model.layers):
            block.mlp.down_proj.weight.zero_()
            for head in range(4):
                if (layer, head) != (0, 3):
                    block.self_attn.o_proj.weight[:, head * head_dim:(head + 1) * head_dim] = 0
    parts = attribute(model, IDS, 6)
    assert np.abs(parts["mlp"]).max() == 0
    heads = parts["heads"].copy()
    assert abs(heads[0, 3]) > 1e-4
    heads[0, 3] = 0
    assert np.abs(heads).max() < 1e-7
    assert parts["embedding"][0] + parts["heads"][0, 3] == pytest.approx(parts["logit"][0], abs=1e-5)


def test_a_model_without_a_plain_residual_sum_is_refused():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=32)).eval()
    with pytest.raises(AnalysisError, match="gpt2 is not supported"):
        attribute(model, IDS, 6)


def test_the_shipped_model_through_a_run_and_a_page(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from generator.results.logit_attribution import LogitAttributionExample, LogitAttributionSummary
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "logits", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"), "analyses": {"logit_attribution": {}},
        "datasets": [{"name": "two-step", "path": str(REPO_ROOT / "data/datasets/two-step.jsonl"), "limit": 3}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    example = run.result("two-step", run.example_ids("two-step")[0], LogitAttributionExample)
    np.testing.assert_allclose(example.by_token.sum(axis=1), example.attention, atol=1e-3)
    assert float(example.embedding[0] + example.attention.sum() + example.mlp.sum()) == pytest.approx(
        float(example.logit[0]), abs=1e-3)
    summary = run.summary("two-step", LogitAttributionSummary)
    assert summary.n_scored == 3 and len(summary.attention) == 4 and "frozen" in summary.approximation
    site = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = (site / "runs/logits/two-step/index.html").read_text()
    assert "Logit attribution" in page and "frozen" in page and "by source segment" in page
    assert (site / "runs/logits/two-step/figures/logit-attribution-segments.pdf").is_file()


def test_the_answer_is_written_from_the_last_step_through_layer_2(tmp_path):
    """The shipped model copies the last step's result into the answer: the residual decomposition by source
    segment finds it there, in every example, through layer 2 (where transplantation found the format bug)."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.results.logit_attribution import LogitAttributionExample
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "steps", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"), "analyses": {"logit_attribution": {"heads": False}},
        "datasets": [{"name": "three-step", "path": str(REPO_ROOT / "data/datasets/three-step.jsonl"), "limit": 8}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    for example_id in run.example_ids("three-step"):
        trajectory = run.trajectory("three-step", example_id)
        result = run.result("three-step", example_id, LogitAttributionExample)
        names = [s.name for s in trajectory.segments[:result.by_segment.shape[1]]]
        totals = result.by_segment.sum(axis=0)
        assert names[int(np.argmax(totals))] == "step 3", (example_id, dict(zip(names, totals)))
        assert totals.max() > 2.0 and int(np.argmax(result.by_segment[:, names.index("step 3")])) == 2


def test_a_run_without_the_token_split_still_renders(tmp_path):
    """Runs written before ``by_token`` existed (or with it off) have no segment split: the sections leave it out."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from generator.results.logit_attribution import LogitAttributionExample, LogitAttributionSummary
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "plain", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"), "analyses": {"logit_attribution": {"by_token": False}},
        "datasets": [{"name": "two-step", "path": str(REPO_ROOT / "data/datasets/two-step.jsonl"), "limit": 2}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    assert run.summary("two-step", LogitAttributionSummary).by_segment == ()
    assert run.result("two-step", run.example_ids("two-step")[0], LogitAttributionExample).by_token is None
    site = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = (site / "runs/plain/two-step/index.html").read_text()
    assert "Logit attribution" in page and "by source segment" not in page
