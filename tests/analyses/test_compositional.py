"""Compositional ablation: the batched pairs equal ablating them one by one; a run and a page."""

from __future__ import annotations

import numpy as np
import pytest

from generator.analyses.compositional import ablate_groups
from tests.conftest import REPO_ROOT, tiny_llama

IDS = [1, 17, 5, 33, 8, 21, 40, 12, 3, 9]


def test_a_batch_of_groups_equals_each_group_alone():
    model = tiny_llama(num_layers=2, num_heads=4, num_kv_heads=2, seed=11)
    groups = [np.array([1, 2]), np.array([4]), np.array([1, 2, 4])]
    base, together = ablate_groups(model, IDS, 7, 1, groups)
    for group, score in zip(groups, together):
        alone_base, (alone,) = ablate_groups(model, IDS, 7, 1, [group])
        assert alone_base == pytest.approx(base) and alone == pytest.approx(score, abs=1e-5)
    assert all(abs(score - base) > 1e-6 for score in together)
    _, in_pairs = ablate_groups(model, IDS, 7, 1, groups, batch_size=2)  # a batch of 2, then 1
    np.testing.assert_allclose(in_pairs, together, atol=1e-5)


def test_three_step_pairs_and_triplets_through_a_run_and_a_page(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from generator.results.compositional import CompositionalExample, CompositionalSummary
    from generator.store.run_directory import load_run

    config = parse_config({
        "run_name": "pairs", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(tmp_path / "runs"), "analyses": {"compositional": {"layer": 0, "triplets": True}},
        "datasets": [{"name": "three-step", "path": str(REPO_ROOT / "data/datasets/three-step.jsonl"), "limit": 3}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    result = run.result("three-step", run.example_ids("three-step")[0], CompositionalExample)
    assert result.pair.shape == (3, 3) and not np.isnan(result.pair[0, 1]) and np.isnan(result.pair[1, 0])
    np.testing.assert_allclose(result.interaction[0, 2], result.pair[0, 2] - result.single[0] - result.single[2],
                               atol=1e-5)
    assert not np.isnan(result.triplet[0, 1, 2])
    summary = run.summary("three-step", CompositionalSummary)
    assert summary.n_scored == 3 and len(summary.mean_interaction) == 3
    site = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    assert "Compositional ablation" in (site / "runs/pairs/three-step/index.html").read_text()
    page = site / f"runs/pairs/three-step/examples/{run.example_ids('three-step')[0]}.html"
    plots = page.with_suffix(".data.js").read_text()  # the plots' data, beside the page
    assert ">Compositional ablation</h2>" in page.read_text() and "Interaction: pair minus" in plots  # title wrapped
