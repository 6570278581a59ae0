"""The readings of the dataset page on the shipped model, whose structure is known: the answer copies the
last step's result (so step 3 matters most and is attended most, and it is written through layer 2's
heads). Each sentence's interval is re-derived here from the per-example tensors."""

import re

import numpy as np
import pytest

from generator.intervals import t_interval
from generator.render.readings.attention import ablation_reading, entropy_reading, logit_reading, routing_reading, \
    salience_reading
from generator.results.ablation import AblationExample, AblationSummary
from generator.results.attention import AttentionExample, AttentionSummary
from generator.results.logit_attribution import LogitAttributionExample, LogitAttributionSummary
from generator.results.routing import RoutingExample, RoutingSummary
from generator.results.salience import SalienceExample, SalienceSummary
from tests.conftest import REPO_ROOT

DATASET = "three-step"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.render.site import build_site
    from generator.store.run_directory import load_run

    base = tmp_path_factory.mktemp("readings")
    config = parse_config({
        "run_name": "readings", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(base / "runs"),
        "analyses": {"attention": {}, "salience": {"layers": [1, 3]}, "ablation": {}, "logit_attribution": {},
                     "routing": {}},
        "datasets": [{"name": DATASET, "path": str(REPO_ROOT / f"data/datasets/{DATASET}.jsonl"), "limit": 12}]})
    run = load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)
    site = build_site(base / "runs", REPO_ROOT / "mkdocs.yml", site_dir=base / "site", docs_dir=base / "docs").site_dir
    return run, (site / f"runs/readings/{DATASET}/index.html").read_text(encoding="utf-8")


def per_example(run, result_type):
    return [(run.trajectory(DATASET, i), run.result(DATASET, i, result_type)) for i in run.example_ids(DATASET)]


def interval_text(values, signed=True) -> str:
    low, high = t_interval(values)
    return f"95% CI {low:+.3g} to {high:+.3g}" if signed else f"95% CI {low:.3g}–{high:.3g}"


def test_salience_names_the_step_that_carries_the_result(demo):
    run, _ = demo
    reading = salience_reading(run.summary(DATASET, SalienceSummary))
    assert reading.startswith("The answer attends most to step 3") and "least to step 1" in reading
    values = [result.salience[:, :, [t.segments[int(i)].name for i in result.step_segments].index("step 3")].mean()
              for t, result in per_example(run, SalienceExample)]
    assert f"{np.mean(values):.3g} ({interval_text(values, signed=False)}; n = 12)" in reading


def test_ablation_names_the_last_step_for_every_method(demo):
    run, _ = demo
    summary = run.summary(DATASET, AblationSummary)
    sentences = ablation_reading(summary)
    assert len(sentences) == len(summary.methods)
    assert all("removing step 3 lowers the answer's log-probability most" in s for s in sentences)
    values = [result.importance(0)[[t.segments[int(i)].name for i in result.part_segments].index("step 3")]
              for t, result in per_example(run, AblationExample)]
    assert interval_text(values) in sentences[0] and "the largest of 3 parts" in sentences[0]


def test_logit_attribution_names_the_largest_component_and_a_layer_2_head(demo):
    run, _ = demo
    reading = logit_reading(run.summary(DATASET, LogitAttributionSummary))
    results = [result for _, result in per_example(run, LogitAttributionExample)]
    components = {f"layer {i}'s attention": [r.attention[i] for r in results] for i in range(4)}
    components.update({f"layer {i}'s MLP": [r.mlp[i] for r in results] for i in range(4)})
    name = max(components, key=lambda key: abs(np.mean(components[key])))
    assert reading.startswith(f"The largest direct contribution is {name}: ")
    assert interval_text(components[name]) in reading and "of 8 layer components, chosen after looking" in reading
    head = re.search(r"The largest head is L(\d)H(\d)", reading)
    assert head and head.group(1) == "2"  # the answer is written from the last step through layer 2
    embedding = [float(r.embedding[0]) for r in results]
    assert f"The token embedding adds {np.mean(embedding):+.3g} ({interval_text(embedding)}" in reading


def test_entropy_interval_is_over_the_examples(demo):
    run, _ = demo
    reading = entropy_reading(run.summary(DATASET, AttentionSummary))
    by_layer = np.array([result.mean_entropy.mean(axis=1) for _, result in per_example(run, AttentionExample)])
    focused = int(np.argmin(by_layer.mean(axis=0)))
    low, high = t_interval(by_layer[:, focused])
    assert (f"most focused at layer {focused} ({by_layer[:, focused].mean():.2f} nats, 95% CI {low:.2f}–{high:.2f})"
            in reading)


def test_routing_peak_intervals_are_over_the_examples(demo):
    run, _ = demo
    reading = routing_reading(run.summary(DATASET, RoutingSummary))
    grids = [result.routing.mean(axis=(0, 1)) for _, result in per_example(run, RoutingExample)]
    longest = max(grid.shape[1] for grid in grids)  # question lengths differ: each position over those that have it
    values = [[grid[0, q] for grid in grids if grid.shape[1] > q] for q in range(longest)]
    position = int(np.argmax([np.mean(v) for v in values]))
    assert f"step 1 → q{position}, {np.mean(values[position]):.3g} (" \
           f"{interval_text(values[position], signed=False)}; n = {len(values[position])})" in reading


def test_every_reading_on_the_dataset_page_carries_an_interval(demo):
    _, page = demo
    readings = re.findall(r"<strong>Reading\.</strong>(.*?)</p>", page, flags=re.S)
    assert len(readings) == 5  # attention, ablation, salience, logit attribution, routing
    for reading in readings:
        assert "95% CI" in reading, reading
