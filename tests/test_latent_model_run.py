"""CODI checkpoints end to end: `atlas run` and `atlas build` on random-weight Llama and GPT-2 stand-ins saved in
CODI's key layout, with the latent analyses; and every sentence those pages print, checked on known numbers."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest
import yaml

from generator.analyses.statistics import layer_correlations, mean_with_ci, rate_with_ci
from generator.cli import main
from generator.render.page_data import read_page_data
from generator.render.sections.base import format_number, pooled_caveat
from generator.render.sections.latent_ablation import reading
from generator.results.ablation import AttentionImportance
from generator.results.latent_ablation import LatentAblationSummary, LatentCondition, ThoughtEffect
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT, write_dataset
from tests.latent_checkpoints import codi_checkpoint, codi_config

QUESTIONS = [("Janet has 3 apples and buys 4 more.", "7"), ("Tom had 12 marbles and lost 5.", "7"),
             ("A train goes 60 miles in 2 hours.", "30")]
ANALYSES = {"attention": {}, "ablation": {"methods": ["zero", "knockout"]},
            "latent_ablation": {"methods": ["zero", "mean", "resample"], "layers": [1], "pairs": True},
            "thought_lens": {"target_field": "intermediate"}}


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def codi_run(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"codi-{request.param}")
    stand_in = codi_checkpoint(base, request.param)
    write_dataset(base / "gsm.jsonl", [{"id": f"q{i}", "prompt": q, "answer": a, "intermediate": a}
                                       for i, (q, a) in enumerate(QUESTIONS)])
    analyses = dict(ANALYSES, thought_lens={}) if request.param == "gpt2" else ANALYSES  # with and without a target
    config = codi_config(stand_in, base / "gsm.jsonl", analyses=analyses, run_name=f"codi-{request.param}")
    config["output_dir"] = str(base / "runs")
    (base / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(base / "run.yaml")]) == 0
    return base, load_run(base / "runs" / config["run_name"]), stand_in


def test_each_thought_is_a_latent_segment_with_its_vector_stored(codi_run):
    _, run, stand_in = codi_run
    trajectory = run.trajectory("gsm", "q0")
    thoughts = trajectory.latent_segments
    assert [s.name for s in thoughts] == [f"thought {i}" for i in range(1, 7)]
    assert all(s.end == s.start + 1 for s in thoughts)
    assert trajectory.tokens[thoughts[0].start] == "⟨θ1⟩" and trajectory.tokens[thoughts[0].start - 1] == "⟨bot⟩"
    hidden = stand_in.reference.get_base_model().config.get_text_config().hidden_size
    assert trajectory.thoughts.inputs.shape == (6, hidden)
    file = run.layout.example_dir("gsm", "q0") / "thoughts.safetensors"
    from safetensors.numpy import load_file  # readable without our code

    assert np.array_equal(load_file(str(file))["inputs"], trajectory.thoughts.inputs)
    assert run.manifest.model.weights_sha256  # the checkpoint is part of what the run names


def test_the_latent_analyses_ran_on_every_thought(codi_run):
    _, run, _ = codi_run
    from generator.results.latent_ablation import LatentAblationExample
    from generator.results.thought_lens import ThoughtLensExample

    result = run.result("gsm", "q0", LatentAblationExample)
    # 3 methods x 2 sites x 2 rules x (6 thoughts + 15 pairs)
    assert result.answer_changed.shape == (3 * 2 * 2 * 21,) and result.attention.shape == (3, 6)
    assert np.isfinite(result.delta_logprob).all()
    lens = run.result("gsm", "q0", ThoughtLensExample)
    assert lens.top_ids.shape == (3, 6, 5)
    summary = run.summary("gsm", LatentAblationSummary)
    assert summary.thoughts == 6 and len(summary.conditions) == 12 and len(summary.conditions[0].pairs) == 15


def test_the_pages_show_thoughts_and_the_seed_figures(codi_run, tmp_path, monkeypatch):
    base, run, _ = codi_run
    monkeypatch.chdir(REPO_ROOT)
    assert main(["build", "--runs", str(base / "runs"), "--site-dir", str(tmp_path / "site")]) == 0
    page_dir = tmp_path / "site" / "runs" / run.name / "gsm"
    dataset_page = html.unescape((page_dir / "index.html").read_text())
    assert "Latent ablation" in dataset_page and "within each position" in dataset_page
    assert "What the thoughts decode to" in dataset_page
    for name in ("thought-importance-by-position", "thought-importance-heatmap", "thought-attention-vs-importance",
                 "thought-correlation-by-position"):
        assert (page_dir / "figures" / f"{name}.pdf").is_file()
    example = html.unescape((page_dir / "examples" / "q0.html").read_text())
    assert "What each thought decodes to" in example and "atlas-seg-latent" in example  # the segments table
    strip = read_page_data((page_dir / "examples" / "q0.data.js").read_text())[f"atlas-{run.name}-gsm-q0-tokens"]
    thought = strip["segments"][strip["owner"][20]]
    assert strip["tokens"][20] == "⟨θ1⟩" and thought == ["thought 1", "latent"]  # drawn as '#20 · thought 1'


def test_the_last_layers_lens_is_the_models_own_prediction(codi_run):
    import torch

    _, run, stand_in = codi_run
    from generator.results.thought_lens import ThoughtLensExample

    trajectory = run.trajectory("gsm", "q1")
    lens = run.result("gsm", "q1", ThoughtLensExample)
    model = stand_in.reference.merge_and_unload() if hasattr(stand_in.reference, "merge_and_unload") else None
    embeds = model.get_input_embeddings()(torch.tensor([trajectory.token_ids]))
    positions = [s.start for s in trajectory.latent_segments]
    embeds[0, positions] = torch.from_numpy(trajectory.thoughts.inputs)
    with torch.no_grad():  # each thought is made at the position before it
        logits = model(inputs_embeds=embeds).logits[0, [p - 1 for p in positions]]
    assert np.array_equal(lens.top_ids[-1, :, 0], logits.argmax(-1).numpy())


def _effect(label, drops, breaks, trials):
    return ThoughtEffect(label, rate_with_ci(breaks, trials), rate_with_ci(0, len(drops)), mean_with_ci(drops))


def _summary(singles, n_correct):
    condition = LatentCondition("zero", "layer 8", "recompute", tuple(singles), ())
    return LatentAblationSummary(thoughts=len(singles), n_examples=5, n_correct=n_correct, conditions=(condition,),
                                 example_ids=(), importance=(), attention_vs_importance=None)


def test_the_reading_names_the_thought_that_costs_most_with_its_interval():
    known = _summary([_effect("thought 1", [-0.1, 0.1, 0.0, -0.05, 0.05], 0, 4),
                      _effect("thought 2", [-2.0, -2.2, -1.8, -2.1, -1.9], 3, 4)], n_correct=4)
    text = reading(known)
    assert "replacing thought 2 lowers" in text and "-2.000 [-2.196, -1.804] (n = 5)" in text
    assert "excludes zero" in text and "inconclusive" not in text
    assert "after replacing thought 2, 3/4 = 75% [30%, 95%] of the 4 answered correctly" in text


def test_the_reading_says_inconclusive_when_the_interval_holds_zero_and_when_nothing_was_correct():
    unsure = _summary([_effect("thought 1", [-1.0, 0.5, -0.2], 0, 0), _effect("thought 2", [0.1, 0.2, 0.0], 0, 0)],
                      n_correct=0)
    text = reading(unsure)
    assert "replacing thought 1 lowers" in text and "inconclusive" in text
    assert "correct → wrong is not measured" in text


def test_pooled_correlation_is_reported_beside_the_correlation_within_each_position():
    # two positions: thought 1 is attended more and matters more, but within each position attention says nothing
    rng = np.random.default_rng(0)
    n = 40
    attention = np.zeros((n, 1, 2))
    attention[:, 0, 0] = 0.8 + rng.normal(0, 0.01, n)
    attention[:, 0, 1] = 0.2 + rng.normal(0, 0.01, n)
    importance = np.stack([2.0 + rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)], axis=1)
    (layer,) = layer_correlations(attention, importance, ["thought 1", "thought 2"])
    assert layer.pearson_r > 0.95 and layer.n == 2 * n
    for label in ("thought 1", "thought 2"):
        within = layer.by_position[label]
        assert within.n == n and abs(within.pearson_r) < 0.4 and within.pearson_p > 0.01
    assert json.dumps(layer.points.part[:2]) == '["thought 1", "thought 2"]'
    (line,) = pooled_caveat(AttentionImportance("x", "y", (layer,)))  # what the page prints beside the pooled r
    assert line.startswith(f"layer 0: pooled r = {format_number(layer.pearson_r)} (p = ")
    within = layer.by_position["thought 2"]
    assert (f"thought 2 r = {format_number(within.pearson_r)} (p = {format_number(within.pearson_p)}, n = 40)"
            in line)


def test_a_resumed_run_makes_the_missing_example_again_exactly(codi_run):
    import shutil

    base, run, _ = codi_run
    before = run.trajectory("gsm", "q2")
    shutil.rmtree(run.layout.example_dir("gsm", "q2"))
    state = json.loads((run.root / "atlas-run.json").read_text())
    state["state"] = "running"  # as a killed run leaves it
    (run.root / "atlas-run.json").write_text(json.dumps(state))
    (run.root / "manifest.json").unlink()
    assert main(["run", str(base / "run.yaml")]) == 0
    after = load_run(run.root).trajectory("gsm", "q2")
    assert after == before and np.array_equal(after.thoughts.inputs, before.thoughts.inputs)


def test_the_reading_does_not_call_a_rise_a_drop():
    text = reading(_summary([_effect("thought 1", [0.1, 0.2, 0.3], 0, 0), _effect("thought 2", [0.5, 0.4, 0.6], 0, 0)],
                            n_correct=0))
    assert "no replacement lowered" in text and "thought 1: +0.200" in text


def test_the_reading_says_when_no_answer_broke():
    text = reading(_summary([_effect("thought 1", [-1.0, -1.2, -0.9], 0, 20)], n_correct=20))
    assert "No replacement of one thought turned a right answer wrong (0 of 20 for each; Wilson upper bound 16%)" in text
