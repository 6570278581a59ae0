"""The attention analysis on the shipped model, whose structure we know from its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.analyses import get_analysis, list_analyses
from generator.config import parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT
from generator.results.attention import AttentionSummary

SHIPPED = REPO_ROOT / "data/models/atlas-arith-demo"


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    written = parse_config({
        "run_name": "known",
        "model": {"id": str(SHIPPED)},
        "datasets": [{"name": "two-step", "path": "data/datasets/two-step.jsonl", "limit": 12},
                     {"name": "three-step", "path": "data/datasets/three-step.jsonl", "limit": 12}],
        "output_dir": str(tmp_path_factory.mktemp("runs")),
    })
    summary = execute_run(resolve_paths(written, REPO_ROOT), written.to_dict(), written.config_hash())
    return load_run(summary.directory)


def test_registry_lists_attention_and_refuses_duplicates():
    from generator.analyses import register_analysis

    assert "attention" in list_analyses()
    with pytest.raises(ValueError, match="registered twice"):
        register_analysis(type(get_analysis("attention")))


def test_shipped_model_solves_the_shipped_datasets(shipped_run):
    for dataset in shipped_run.dataset_names():
        scored = [t.correct for t in shipped_run.trajectories(dataset)]
        assert sum(scored) / len(scored) >= 0.9, dataset


def test_segments_follow_the_trained_format(shipped_run):
    for t in shipped_run.trajectories("three-step"):
        assert [s.kind for s in t.segments] == ["question", "step", "step", "step", "answer"]


def test_answer_attends_to_the_step_that_carries_the_result(shipped_run):
    """The answer copies the last step's result, so its strongest head looks there, not at step 1."""
    for dataset in shipped_run.dataset_names():
        for t in shipped_run.trajectories(dataset):
            mass = shipped_run.tensors(dataset, t.example_id, "attention")["answer_segment_mass"]
            steps = [i for i, s in enumerate(t.segments) if s.kind == "step"]
            assert mass[:, :, steps[-1]].max() > mass[:, :, steps[0]].max(), t.example_id


def test_stored_summaries_are_consistent(shipped_run):
    t = next(shipped_run.trajectories("two-step"))
    tensors = shipped_run.tensors("two-step", t.example_id, "attention")
    n_layers, n_heads = shipped_run.manifest.model.num_layers, shipped_run.manifest.model.num_heads
    T = len(t.tokens)
    assert tensors["maps"].shape == (n_layers, n_heads, T, T)
    np.testing.assert_allclose(tensors["maps"].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(tensors["segment_mass"].sum(-1), 1.0, atol=1e-5)  # every token is in a segment
    answer = t.segment("answer")
    expected = tensors["segment_mass"][:, :, answer.start:answer.end].mean(2)
    np.testing.assert_allclose(tensors["answer_segment_mass"], expected, atol=1e-6)
    summary = shipped_run.summary("two-step", AttentionSummary)
    assert len(summary.mean_entropy_by_layer) == n_layers


def test_capture_on_the_shipped_model_matches_its_eager_attention(shipped_run):
    from transformers import AutoModelForCausalLM

    t = next(shipped_run.trajectories("three-step"))
    stored = shipped_run.tensors("three-step", t.example_id, "attention")["maps"]
    model = AutoModelForCausalLM.from_pretrained(SHIPPED, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([t.token_ids]), output_attentions=True)
    reference = np.stack([a[0].numpy() for a in out.attentions])
    assert np.abs(stored - reference).max() <= 1e-5


def test_long_sequences_skip_full_maps(tmp_path):
    from generator.analyses.base import ExampleContext
    from generator.store.records import Segment, Trajectory
    from tests.conftest import tiny_llama

    analysis = get_analysis("attention")
    options = analysis.parse_options({"max_map_tokens": 4})
    tokens = tuple("abcdef")
    trajectory = Trajectory("x", "d", "abc", "def", "abcdef", tokens, tuple((i, i + 1) for i in range(6)),
                            tuple(range(6)), 3, (Segment("question", "question", 0, 3, 0, 3),
                                                 Segment("answer", "answer", 3, 6, 3, 6)), None, None, None)
    result = analysis.analyze_example(ExampleContext(tiny_llama(), None, torch.tensor([list(range(1, 7))]), trajectory,
                                                     np.array([0, 0, 0, 1, 1, 1])), options)
    assert result.maps is None
    assert result.segment_mass.shape == (2, 4, 6, 2)
    np.testing.assert_allclose(result.segment_pair_mass[:, :, 1], result.segment_mass[:, :, 3:6].mean(axis=2))
    np.testing.assert_allclose(result.segment_pair_mass[:, :, 0], result.segment_mass[:, :, 0:3].mean(axis=2))
    # a budget smaller than [L, H, T, S] keeps only the per-segment averages (long agent runs)
    small = analysis.analyze_example(
        ExampleContext(tiny_llama(), None, torch.tensor([list(range(1, 7))]), trajectory, np.array([0, 0, 0, 1, 1, 1])),
        analysis.parse_options({"max_map_tokens": 4, "max_segment_mass_mib": 0.0001}))
    assert small.segment_mass is None
    np.testing.assert_allclose(small.segment_pair_mass, result.segment_pair_mass, atol=1e-6)
    np.testing.assert_allclose(small.answer_segment_mass, result.answer_segment_mass, atol=1e-6)


def test_capture_engine_option_is_checked_and_passed_on():
    from generator.analyses import AnalysisError

    analysis = get_analysis("attention")
    assert analysis.parse_options({"engine": "torch"}).capture_options().engine == "torch"
    with pytest.raises(AnalysisError, match="run.yaml: key 'analyses.attention.engine': expected one of 'auto'"):
        analysis.parse_options({"engine": "flash"}, source="run.yaml")


def test_capture_runs_after_generation_by_default():
    """Measured cheaper on the CPU (docs/capture.md): plain generation, then one forward pass per sequence."""
    from generator.analyses.attention import AttentionAnalysis, AttentionOptions

    assert AttentionAnalysis().capture_during_generation(AttentionOptions()) is None
    assert AttentionAnalysis().capture_during_generation(AttentionOptions(during_generation=True)) is not None
