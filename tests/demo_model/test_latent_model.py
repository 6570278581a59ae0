"""The shipped latent model's known structure, read back through `atlas run` and the latent analyses.

The model (generator/demo_model/latent.py) was trained so that thought 1 carries the partial sum
(a+b) mod 10 and thought 2 the answer, which is read after the end token. So, on held-out problems:
thought 1's logit lens gives the partial sum and thought 2's the answer; replacing thought 2 breaks
answers; replacing thought 1 breaks them when thought 2 is made again from the edit (recompute)
and far less when thought 2 is kept; and the page says which thought costs most, with its interval.
"""

from __future__ import annotations

import html

import pytest

from generator.config import load_config
from generator.pipeline import execute_run
from generator.render.site import build_site
from generator.results.latent_ablation import LatentAblationSummary
from generator.results.salience import SalienceExample
from generator.results.thought_lens import ThoughtLensSummary
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the shipped model on 60 examples: about a minute


@pytest.fixture(scope="module")
def latent_run(tmp_path_factory):
    config = load_config(REPO_ROOT / "configs" / "demo-latent.yaml")
    out = tmp_path_factory.mktemp("latent-demo")
    summary = execute_run(config, config.to_dict(), config.config_hash(), output_dir=out)
    return load_run(summary.directory), summary


def _effect(summary: LatentAblationSummary, method: str, site: str, later: str, thought: str):
    condition = next(c for c in summary.conditions if (c.method, c.site, c.later) == (method, site, later))
    return next(e for e in condition.singles + condition.pairs if e.thought == thought)


def test_the_model_answers_after_its_thoughts(latent_run):
    run, summary = latent_run
    assert summary.accuracy_by_dataset["sums"] >= 0.8  # 51/60 when shipped
    trajectory = run.trajectory("sums", run.example_ids("sums")[0])
    assert [s.name for s in trajectory.latent_segments] == ["thought 1", "thought 2"]
    assert trajectory.segment("answer").kind == "answer"


def test_each_thought_decodes_to_the_value_it_was_trained_to_carry(latent_run):
    run, _ = latent_run
    lens = run.summary("sums", ThoughtLensSummary)
    last = lens.layers - 1
    partial = next(c for c in lens.cells if c.thought == "thought 1" and c.layer == last)
    assert partial.target.n == 60 and partial.target.ci_low >= 0.8  # Wilson 95% lower bound


def test_replacing_a_thought_breaks_the_answer_where_the_structure_says(latent_run):
    run, _ = latent_run
    summary = run.summary("sums", LatentAblationSummary)
    assert summary.n_correct >= 45
    for method in ("zero", "mean", "resample"):
        second = _effect(summary, method, "input", "recompute", "thought 2").breaks
        first_recomputed = _effect(summary, method, "input", "recompute", "thought 1").breaks
        first_kept = _effect(summary, method, "input", "keep", "thought 1").breaks
        assert second.ci_low >= 0.5 and first_recomputed.ci_low >= 0.5, method
        assert first_kept.ci_high < first_recomputed.ci_low, method  # kept, thought 2 still carries the answer
    # thought 2 is read at the answer's first layer: its residual entering layer 1 is read by nobody
    assert _effect(summary, "zero", "layer 1", "keep", "thought 2").breaks.k == 0


def test_salience_comes_out_as_layers_by_heads_by_thoughts(latent_run):
    run, _ = latent_run
    result = run.result("sums", run.example_ids("sums")[0], SalienceExample)
    assert result.salience.shape == (3, 4, 2)


def test_the_dataset_page_reads_the_result(latent_run, tmp_path):
    run, _ = latent_run
    site = build_site(run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = html.unescape((site / "runs" / run.name / "sums" / "index.html").read_text())
    assert "its interval excludes zero" in page
    assert "thought 1 at layer 2 decodes to the example's partial most often" in page
