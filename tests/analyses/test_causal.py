"""Ablation, patching and prompt-format analyses recover what the shipped model was trained to do."""

from __future__ import annotations

import numpy as np
import pytest

from generator.analyses import AnalysisError
from generator.config import parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.render.site import build_site
from generator.results.ablation import AblationSummary
from generator.results.formats import FormatsSummary
from generator.results.patching import PatchingSummary
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # runs the shipped model on whole datasets: most of the suite's time

SHIPPED = str(REPO_ROOT / "data/models/atlas-arith-demo")


def run(tmp_path, datasets, analyses, name="causal"):
    written = parse_config({"run_name": name, "model": {"id": SHIPPED}, "datasets": datasets, "analyses": analyses,
                            "segmentation": {"answer_pattern": r"A:\s*(-?[0-9][0-9.]*)"},
                            "output_dir": str(tmp_path)})
    return load_run(execute_run(resolve_paths(written, REPO_ROOT), written.to_dict(), written.config_hash()).directory)


@pytest.fixture(scope="module")
def arithmetic_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("ablation"),
               [{"name": "three-step", "path": "data/datasets/three-step.jsonl", "limit": 10}],
               {"attention": {}, "ablation": {"methods": ["knockout", "zero", "mean", "resample"], "layers": [0, 2]}})


@pytest.fixture(scope="module")
def site_of(tmp_path_factory):
    """The site of a run, built once per module."""
    built = {}

    def build(run_):
        if run_.root not in built:
            out = tmp_path_factory.mktemp("site")
            built[run_.root] = build_site(run_.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=out / "site",
                                          docs_dir=out / "docs").site_dir
        return built[run_.root]
    return build


@pytest.fixture(scope="module")
def decimal_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("patching"),
               [{"name": "decimals", "path": "data/datasets/decimals.jsonl"}],
               {"formats": {}, "patching": {}})


def importance(run_, dataset, example_id, method_index=0, layer_index=0):
    tensors = run_.tensors(dataset, example_id, "ablation")
    return -tensors["delta_logprob"][method_index, layer_index]


@pytest.mark.parametrize("method_index,label", [(0, "knockout"), (1, "zero at layer 0")])
def test_ablating_the_step_that_carries_the_result_hurts_most(arithmetic_run, method_index, label):
    """The answer copies the last step's result: removing that step costs far more than step 1.

    (On the retrained model one example's zero ablation at layer 0 costs 0.54 nats, the others 10
    or more: every example must show the order, and the typical one a large effect.)
    """
    last = []
    for example_id in arithmetic_run.example_ids("three-step"):
        parts = importance(arithmetic_run, "three-step", example_id, method_index)
        assert parts[-1] > parts[0] + 0.25 and parts[-1] == parts.max(), (label, example_id, parts)
        last.append(parts[-1])
    assert np.median(last) > 5.0, (label, last)


def test_importance_summary_and_statistics_are_written(arithmetic_run):
    summary = arithmetic_run.summary("three-step", AblationSummary)
    assert summary.parts == ("step 1", "step 2", "step 3")
    knockout = summary.importance_by_position["knockout"]
    assert knockout["step 3"].mean > knockout["step 1"].mean
    assert knockout["step 3"].ci_low <= knockout["step 3"].mean <= knockout["step 3"].ci_high
    layers = summary.attention_vs_importance.by_layer
    assert len(layers) == arithmetic_run.manifest.model.num_layers
    assert all(entry.n == 30 for entry in layers)
    assert set(layers[0].by_position) == {"step 1", "step 2", "step 3"}
    import json

    statistics = json.loads((arithmetic_run.root / "summary_statistics.json").read_text())
    assert AblationSummary.from_json(statistics["three-step"]["ablation"], "summary_statistics.json") == summary


def test_planted_format_behaviour_is_recovered(decimal_run):
    rows = {r.format: r for r in decimal_run.summary("decimals", FormatsSummary).formats}
    assert rows["qa"].bug.rate >= 0.8, rows["qa"]
    assert rows["plain"].bug.rate <= 0.2 and rows["chat"].bug.rate <= 0.2
    assert rows["plain"].correct.rate >= 0.8
    assert rows["qa"].bug.n == 16


def test_patching_the_format_token_flips_and_an_unrelated_site_does_not(decimal_run):
    summary = decimal_run.summary("decimals", PatchingSummary)
    assert summary.informative_items >= 12
    flips = np.array(summary.flip_rate)  # [layer, component]; components resid_pre, attn_out, mlp_out
    assert flips[0, 0] == 1.0  # the residual stream entering layer 0 at the differing token is the format itself
    assert summary.head_flip_rate is not None


def test_patching_at_a_position_where_the_prompts_agree_does_nothing(tmp_path):
    result = run(tmp_path, [{"name": "decimals", "path": "data/datasets/decimals.jsonl"}],
                 {"patching": {"positions": "last", "heads": False}}, name="unrelated")
    summary = result.summary("decimals", PatchingSummary)
    assert summary.informative_items >= 3
    assert np.array(summary.flip_rate)[0, 0] == 0.0  # same token, same embedding: nothing changes


def test_prompts_of_different_lengths_are_refused_by_item(tmp_path):
    with pytest.raises(AnalysisError, match=r"decimals/decimals-000: the clean and corrupted prompts have \d+ and \d+"):
        run(tmp_path, [{"name": "decimals", "path": "data/datasets/decimals.jsonl", "limit": 1}],
            {"patching": {"corrupted_template": "Question: {question}"}}, name="misaligned")
    assert not (tmp_path / "misaligned").exists()


def test_empty_and_out_of_range_ablations_are_refused(tmp_path):
    with pytest.raises(AnalysisError, match=r"analyses.ablation.layers\[0\]: layer 9 is out of range"):
        run(tmp_path, [{"name": "three-step", "path": "data/datasets/three-step.jsonl", "limit": 1}],
            {"ablation": {"layers": [9]}}, name="range")
    with pytest.raises(AnalysisError, match="three-step/three-step-000: part 'answer #"):
        run(tmp_path, [{"name": "three-step", "path": "data/datasets/three-step.jsonl", "limit": 1}],
            {"ablation": {"parts": "tokens:answer"}}, name="empty")


@pytest.mark.parametrize("fixture,page,expected", [
    ("decimal_run", "runs/causal/decimals/index.html", ["Activation patching", "Generalisation across items",
                                                          "Prompt formats", "95% CI"]),
    ("arithmetic_run", "runs/causal/three-step/index.html", ["Ablation importance", "Attention versus importance",
                                                                  "Pooled over positions, read with care"]),
    ("arithmetic_run", "runs/causal/three-step/examples/three-step-000.html", ["Ablation effect per part"]),
])
def test_causal_sections_render(request, site_of, fixture, page, expected):
    html = (site_of(request.getfixturevalue(fixture)) / page).read_text()
    for text in expected:
        assert text in html


def test_patching_batches_change_no_logit():
    """Sites patched in batches of any size give the logits of one batch with every site."""
    from generator.analyses.patching import patch_all
    from generator.capture.interventions import Site
    from tests.conftest import tiny_llama

    model = tiny_llama(num_layers=2, num_heads=4, num_kv_heads=2, seed=5)
    clean, corrupted = [1, 17, 5, 33, 8, 21], [1, 18, 5, 33, 8, 21]
    sites = [Site(layer, component) for layer in range(2) for component in ("resid_pre", "attn_out", "mlp_out")]
    sites += [Site(1, "head", head) for head in range(4)]
    whole = patch_all(model, clean, corrupted, sites, np.array([1]), batch_size=64)
    np.testing.assert_allclose(patch_all(model, clean, corrupted, sites, np.array([1]), batch_size=3).numpy(),
                               whole.numpy(), atol=1e-5)
    assert whole.shape[0] == len(sites)


def test_ablation_batches_of_any_size_give_the_same_numbers(tmp_path):
    from generator.results.ablation import AblationExample

    datasets = [{"name": "three-step", "path": "data/datasets/three-step.jsonl", "limit": 2}]
    results = []
    for index, extra in enumerate(({"batch_size": 3}, {"batched": False})):
        options = {"methods": ["knockout", "zero", "mean"], "layers": [0, 2], **extra}
        ran = run(tmp_path / str(index), datasets, {"ablation": options})
        results.append([ran.result("three-step", i, AblationExample) for i in ran.example_ids("three-step")])
    for a, b in zip(*results):
        np.testing.assert_allclose(a.delta_logprob, b.delta_logprob, atol=1e-4)
        np.testing.assert_array_equal(a.stays_correct, b.stays_correct)
