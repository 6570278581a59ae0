"""Routing and token classes equal sums of the model's own eager attention; a run shows both sections."""

from __future__ import annotations

import numpy as np
import pytest

from generator.analyses.routing import mass_on_groups
from generator.analyses.token_classes import token_class_ids
from tests.conftest import REPO_ROOT, tiny_llama


def test_mass_on_groups_is_the_eager_attention_summed_over_each_group():
    import torch

    model = tiny_llama(num_layers=2, num_heads=4, num_kv_heads=2, seed=7)
    model.config._attn_implementation = "eager"
    ids = torch.tensor([[1, 17, 5, 33, 8, 21, 40, 12, 3, 9]])
    groups = np.array([-1, 0, 0, 1, 2, -1, 1, 2, 2, -1])
    with torch.no_grad():
        weights = torch.stack(model(input_ids=ids, output_attentions=True).attentions)[:, 0].numpy()  # [L, H, T, T]
    expected = np.stack([weights[..., groups == g].sum(-1) for g in range(3)], axis=-1)
    np.testing.assert_allclose(mass_on_groups(model, ids, groups, 3), expected, atol=1e-5)


def test_each_token_joins_the_first_class_that_matches():
    classes = {"digits": r"^\s*[0-9]+\s*$", "point": r"^\.$", "letters": r"[a-z]"}
    assert token_class_ids(["9", ".", "11", " vs", "?", "<bos>"], classes).tolist() == [0, 1, 0, 2, -1, 2]


@pytest.fixture(scope="module")
def mechanism_run(tmp_path_factory):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.store.run_directory import load_run

    base = tmp_path_factory.mktemp("routing")
    config = parse_config({
        "run_name": "routes", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(base / "runs"),
        "analyses": {"routing": {}, "token_classes": {"classes": {"digits": "^[0-9]$", "operators": "^[-+*]$"}}},
        "datasets": [{"name": "three-step", "path": str(REPO_ROOT / "data/datasets/three-step.jsonl"), "limit": 3}]})
    return load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)


def test_routing_and_token_classes_through_a_run_and_pages(mechanism_run, tmp_path):
    from generator.render.site import build_site
    from generator.results.routing import RoutingExample, RoutingSummary
    from generator.results.token_classes import TokenClassesSummary

    example_id = mechanism_run.example_ids("three-step")[0]
    trajectory = mechanism_run.trajectory("three-step", example_id)
    routing = mechanism_run.result("three-step", example_id, RoutingExample).routing
    question = next(s for s in trajectory.segments if s.kind == "question")
    assert routing.shape[2:] == (sum(s.kind == "step" for s in trajectory.segments), question.end - question.start)
    assert (routing.sum(-1) <= 1 + 1e-5).all()
    assert len(mechanism_run.summary("three-step", RoutingSummary).by_position) == 3
    classes = mechanism_run.summary("three-step", TokenClassesSummary)
    assert classes.classes == ("digits", "operators") and len(classes.mass_by_layer[0]) == 4
    site = build_site(mechanism_run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = (site / "runs/routes/three-step/index.html").read_text()
    assert "Question-to-step routing" in page and "Attention to token classes" in page
    assert "Question-to-step routing" in (site / f"runs/routes/three-step/examples/{example_id}.html").read_text()


def test_a_missing_query_segment_is_named():
    from generator.analyses.token_classes import query_positions
    from generator.store.records import Segment, Trajectory

    trajectory = Trajectory("e1", "d", "p", "", "ab", ("a", "b"), ((0, 1), (1, 2)), (1, 2), 1,
                            (Segment("question", "question", 0, 2, 0, 2),), None, None, None, {})
    assert query_positions(trajectory, "answer").size == 0 and query_positions(trajectory, "last").tolist() == [1]
