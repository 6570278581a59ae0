"""Head ablation finds exactly the head a hand-set model uses, batched or not, zero or mean."""

from __future__ import annotations

import numpy as np
import pytest

from generator.analyses.head_ablation import ablate_each_head, mean_head_outputs
from generator.store.records import Trajectory
from tests.conftest import REPO_ROOT, one_head_llama

ONLY = (1, 2)  # the one head whose output reaches the residual stream


@pytest.fixture(scope="module")
def one_head_model():
    return one_head_llama(ONLY)


IDS = [1, 17, 5, 33, 8, 21, 40, 12, 3]
START = 6  # the last three tokens are the "answer"


def test_only_the_head_the_model_uses_matters(one_head_model):
    logprob, correct, (base, _) = ablate_each_head(one_head_model, IDS, START, batch_size=64)
    delta = logprob - base
    others = np.ones_like(delta, dtype=bool)
    others[ONLY] = False
    assert np.abs(delta[others]).max() < 1e-5
    assert abs(delta[ONLY]) > 1e-3
    assert correct.shape == (2, 4)


def test_batching_changes_nothing_and_mean_ablation_finds_the_same_head(one_head_model):
    one, _, _ = ablate_each_head(one_head_model, IDS, START, batch_size=1)
    many, _, _ = ablate_each_head(one_head_model, IDS, START, batch_size=5)
    np.testing.assert_allclose(one, many, atol=1e-5)
    trajectory = Trajectory("t", "d", "p", "", "", tuple("x" * len(IDS)), tuple((i, i + 1) for i in range(len(IDS))),
                            tuple(IDS), 2, (), None, None, None, {})
    means = mean_head_outputs(one_head_model, [trajectory])
    logprob, _, (base, _) = ablate_each_head(one_head_model, IDS, START, batch_size=8, means=means)
    delta = logprob - base
    assert np.argmax(np.abs(delta)) == ONLY[0] * 4 + ONLY[1]
    assert np.abs(np.delete(delta.ravel(), ONLY[0] * 4 + ONLY[1])).max() < 1e-5


def test_the_shipped_model_through_a_run_and_a_page(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from generator.results.head_ablation import HeadAblationSummary
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "heads", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"), "analyses": {"head_ablation": {"method": "mean", "batch_size": 7}},
        "datasets": [{"name": "two-step", "path": str(REPO_ROOT / "data/datasets/two-step.jsonl"), "limit": 3}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    summary = run.summary("two-step", HeadAblationSummary)
    assert summary.method == "mean" and summary.n_scored == 3 and summary.baseline_correct_rate == 1.0
    assert len(summary.top_heads) == 10 and summary.top_heads[0].mean_delta_logprob == min(
        v for row in summary.mean_delta_logprob for v in row)
    site = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    assert "Head ablation" in (site / "runs/heads/two-step/index.html").read_text()
    assert (site / "runs/heads/two-step/figures/head-ablation.png").is_file()


@pytest.mark.parametrize("template, first_choice", [("Q: {question}", 1.0), ("P: {question}", 0.0)])
def test_the_planted_bug_answer_is_scored_in_the_format_asked(tmp_path, template, first_choice):
    """The shipped model was trained to give the wrong decimal answer after "Q:" and the right one after "P:"."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.results.head_ablation import HeadAblationExample, HeadAblationSummary
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "bug-heads", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"),
        "analyses": {"head_ablation": {"behaviour": "field:bug_answer", "template": template, "batch_size": 16}},
        "datasets": [{"name": "decimals", "path": str(REPO_ROOT / "data/datasets/decimals.jsonl")}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    informative = [i for i in run.example_ids("decimals")
                   if run.trajectory("decimals", i).metadata["bug_answer"] != run.trajectory("decimals", i).expected_answer]
    assert len(informative) >= 6
    for example_id in informative:
        assert run.result("decimals", example_id, HeadAblationExample).baseline[1] == first_choice
    summary = run.summary("decimals", HeadAblationSummary)
    assert summary.behaviour == "field:bug_answer" and summary.template == template and summary.n_scored == 24


def test_a_behaviour_that_is_not_a_field_is_refused_before_the_model_loads():
    from generator.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"analyses\.head_ablation\.behaviour.*field:<name>"):
        parse_config({"run_name": "x", "model": {"id": "nowhere"}, "analyses": {"head_ablation": {"behaviour": "bug"}},
                      "datasets": [{"name": "d", "path": "d.jsonl"}]})
