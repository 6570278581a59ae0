"""The result types: the documented format is the written one, old runs read, every record round-trips."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from generator.results import RESULT_TYPES
from generator.results.attention import AttentionExample, summaries_from_weights
from generator.format_doc import DOC, generated_block, updated
from generator.store.records import SCHEMA_VERSION
from generator.store.result_types import ResultFormatError
from generator.store.run_directory import load_run, write_run

V1_RUN = Path(__file__).resolve().parents[1] / "data" / "run-v1"  # written by the code before schema 2


def test_run_format_doc_matches_the_types():
    text = DOC.read_text(encoding="utf-8")
    assert updated(text) == text, "docs/run-format.md is stale: run `python -m generator.format_doc`"
    for types in RESULT_TYPES.names():
        assert f"### `{types}`" in generated_block()


def test_every_analysis_documents_every_field():
    for _, types in RESULT_TYPES.items():
        for record in (types.example, types.summary):
            for f in dataclasses.fields(record):
                assert f.metadata.get("doc"), f"{record.__name__}.{f.name} has no doc"


def test_a_schema_1_run_loads_as_typed_records():
    run = load_run(V1_RUN)
    assert run.manifest.schema_version == 1 and SCHEMA_VERSION == 2
    assert run.manifest.analysis_names == ("attention", "ablation", "salience", "features", "formats", "patching")
    loaded = 0
    for dataset in run.dataset_names():
        for example_id in run.example_ids(dataset):
            for name in run.manifest.analysis_names:
                loaded += run.result(dataset, example_id, RESULT_TYPES.get(name).example) is not None
        for name in run.manifest.analysis_names:
            run.summary(dataset, RESULT_TYPES.get(name).summary)
    assert loaded == 14


def records_added_after_schema_1(source):
    """Analyses newer than the v1 fixture: records made here (the round trip is what is tested)."""
    import numpy as np

    from generator.results.agent import AgentExample, AgentSummary
    from generator.results.head_ablation import HeadAblationExample, HeadAblationSummary, TopHead
    from generator.results.logit_attribution import LogitAttributionExample, LogitAttributionSummary
    from generator.results.routing import RoutingExample, RoutingSummary
    from generator.results.token_classes import TokenClassesExample, TokenClassesSummary
    from generator.results.scaling import ScalingExample, ScalingSummary
    from generator.results.transplant import TransplantExample, TransplantSummary
    from generator.results.compositional import CompositionalExample, CompositionalSummary

    dataset = source.dataset_names()[0]
    example_id = source.example_ids(dataset)[0]
    rng = np.random.default_rng(0)
    agent = AgentExample(rng.random((4, 4, 5, 5), dtype=np.float32), rng.random((4, 4, 5), dtype=np.float32),
                         rng.random((4, 4, 5), dtype=np.float32), rng.random((4, 4, 5), dtype=np.float32),
                         np.array([3], dtype=np.int64), np.array([41.0, 48.0, 41.0, np.nan]))
    summary = AgentSummary(2, 1, 1, 4, 1, 1, 1, {"answer": {"observation": 0.5, "question": 0.125}})
    heads = HeadAblationExample(rng.random((4, 4), dtype=np.float32), np.ones((4, 4), dtype=np.uint8),
                                np.array([-0.25, 1.0]))
    head_summary = HeadAblationSummary("mean", 3, 1.0, ((-0.5, 0.0),) * 4, ((1.0, 0.5),) * 4,
                                       (TopHead(1, 2, -0.5, 0.5), TopHead(0, 0, 0.0, 1.0)))
    logits = LogitAttributionExample(rng.random(4, dtype=np.float32), rng.random(4, dtype=np.float32),
                                     rng.random((4, 4), dtype=np.float32), np.array([0.5], dtype=np.float32),
                                     np.array([3.25], dtype=np.float32))
    logit_summary = LogitAttributionSummary(3, "frozen norm", (0.5,) * 4, (0.25,) * 4, ((0.125,) * 4,) * 4, 0.5)
    return [(dataset, example_id, agent), (dataset, None, summary), (dataset, example_id, heads),
            (dataset, None, head_summary), (dataset, example_id, logits), (dataset, None, logit_summary),
            (dataset, example_id, ScalingExample(np.array([[1.0, 0.0], [np.nan, 1.0]], dtype=np.float32),
                                                 np.array([1.0], dtype=np.float32))),
            (dataset, None, ScalingSummary("field:bug_answer", ("L0 attn_out", "L1 head 2"), (0.0, 2.0), 2, 0.5,
                                           ((1.0, 0.0), (0.5, 1.0)), 0.5)),
            (dataset, example_id, RoutingExample(rng.random((4, 4, 2, 3), dtype=np.float32))),
            (dataset, None, RoutingSummary(2, ((0.5, None), (0.25, 0.125)))),
            (dataset, example_id, TokenClassesExample(rng.random((4, 4, 2), dtype=np.float32),
                                                      np.array([3, 1], dtype=np.int64))),
            (dataset, None, TokenClassesSummary(("digits", "point"), "answer", 2, ((0.5,) * 4, (0.25,) * 4),
                                                (((0.5, 0.25),) * 4,) * 4)),
            (dataset, example_id, TransplantExample(np.array([1.0], dtype=np.float32),
                                                    np.array([[0.0, 1.0]] * 5, dtype=np.float32))),
            (dataset, None, TransplantSummary("P: {question}", "Q: {question}", ("layer 0", "all layers"), 3, 2,
                                              ((0.0, 0.5), (1.0, 1.0)))),
            (dataset, example_id, CompositionalExample(np.array([-1.0, -2.0], dtype=np.float32),
                                                       np.array([[np.nan, -4.0], [np.nan, np.nan]], dtype=np.float32),
                                                       np.array([[np.nan, -1.0], [np.nan, np.nan]], dtype=np.float32))),
            (dataset, None, CompositionalSummary(0, 2, (-1.0, None), ((None, -1.0), (None, None))))] + latent_records(
                dataset, example_id)


def latent_records(dataset, example_id):
    import numpy as np

    from generator.analyses.statistics import layer_correlations, mean_with_ci, rate_with_ci
    from generator.results.ablation import AttentionImportance
    from generator.results.latent_ablation import (LatentAblationExample, LatentAblationSummary, LatentCondition,
                                                   ThoughtEffect)
    from generator.results.thought_lens import LensCell, ThoughtLensExample, ThoughtLensSummary

    ints = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    floats = lambda *v: np.array(v, dtype=np.float32)  # noqa: E731
    ablated = LatentAblationExample(ints(0, 1), ints(-1, 8), ints(1, 0), np.array([[0, -1], [0, 1]], dtype=np.int64),
                                    floats(1, 0), floats(0, np.nan), floats(-2.5, 0.25), floats(1),
                                    np.full((2, 2), 0.25, dtype=np.float32))
    effect = ThoughtEffect("thought 1", rate_with_ci(3, 4), rate_with_ci(1, 5), mean_with_ci([-1.0, -2.0, -0.5]))
    correlations = layer_correlations(np.arange(12, dtype=float).reshape(3, 2, 2) ** 1.5, np.array(
        [[1.0, np.nan], [2.0, 0.5], [0.0, 0.25]]), ["thought 1", "thought 2"])
    summary = LatentAblationSummary(2, 3, 1, (LatentCondition("zero", "input", "recompute", (effect,), (effect,)),),
                                    ("a", "b", "c"), ((0.5, None), (1.0, 2.0), (None, None)),
                                    AttentionImportance("x", "y", correlations))
    lens = ThoughtLensExample(np.zeros((2, 2, 3), dtype=np.int64), np.full((2, 2, 3), 0.25, dtype=np.float32),
                              np.array([[1, 0], [np.nan, np.nan]], dtype=np.float32))
    lens_summary = ThoughtLensSummary(2, 2, 3, "intermediate", (LensCell("thought 1", 0, "<7>", 2, rate_with_ci(2, 3)),
                                                                LensCell("thought 2", 1, "&", 1, None)))
    return [(dataset, example_id, ablated), (dataset, None, summary), (dataset, example_id, lens),
            (dataset, None, lens_summary)]


def test_every_record_of_a_run_round_trips_exactly(tmp_path):
    """load(save(x)) == x for each analysis's example result and dataset summary."""
    source = load_run(V1_RUN)
    records = []
    for dataset in source.dataset_names():
        for example_id in source.example_ids(dataset):
            for _, types in RESULT_TYPES.items():
                result = source.result(dataset, example_id, types.example)
                if result is not None:
                    records.append((dataset, example_id, result))
        for _, types in RESULT_TYPES.items():
            summary = source.summary(dataset, types.summary)
            if summary is not None:
                records.append((dataset, None, summary))
    records += records_added_after_schema_1(source)
    assert {type(r).__name__ for _, _, r in records} == {
        t.__name__ for _, types in RESULT_TYPES.items() for t in (types.example, types.summary)}

    def fill(writer):
        for dataset, example_id, record in records:
            if example_id is None:
                writer.write_summary(dataset, record)
            else:
                writer.write_result(dataset, example_id, record)
        (writer.root / "manifest.json").write_text((V1_RUN / "manifest.json").read_text())

    copy = load_run(write_run(tmp_path / "copy", fill))
    for dataset, example_id, record in records:
        again = copy.summary(dataset, type(record)) if example_id is None else copy.result(dataset, example_id, type(record))
        assert again == record


def test_summaries_are_plain_json():
    summary = json.loads((V1_RUN / "datasets/two-step/ablation.json").read_text())
    assert set(summary) >= {"methods", "parts", "importance_by_position"}


def test_records_are_checked_when_made():
    ones = np.ones((1, 1, 3), np.float32)
    with pytest.raises(ResultFormatError, match="AttentionExample: key 'entropy': expected shape \\[L, H, T\\]"):
        AttentionExample(ones[0], ones, np.ones((1, 1, 1), np.float32), np.ones((1, 1), np.float32),
                         np.ones((1, 1, 3, 1), np.float32))
    with pytest.raises(ResultFormatError, match="key 'mean_entropy': expected float32, got float64"):
        AttentionExample(ones, ones, np.ones((1, 1, 1), np.float32), np.ones((1, 1)),
                         np.ones((1, 1, 3, 1), np.float32))


def test_summaries_from_weights_on_a_known_map():
    maps = np.array([[[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.25, 0.25, 0.5]]]])
    mass, entropy, max_weight = summaries_from_weights(maps, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(mass[0, 0], [[1, 0], [1, 0], [0.5, 0.5]])
    np.testing.assert_allclose(entropy[0, 0], [0, np.log(2), 1.5 * np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(max_weight[0, 0], [1, 0.5, 0.5])
