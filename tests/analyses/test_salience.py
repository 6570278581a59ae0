import numpy as np
import pytest

from generator.config import parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT
from generator.results.salience import SalienceSummary


@pytest.fixture(scope="module")
def salience_run(tmp_path_factory):
    written = parse_config({
        "run_name": "salience", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "datasets": [{"name": "three-step", "path": "data/datasets/three-step.jsonl", "limit": 6}],
        "analyses": {"attention": {}, "salience": {"layers": [1, 3]}}, "output_dir": str(tmp_path_factory.mktemp("s")),
    })
    return load_run(execute_run(resolve_paths(written, REPO_ROOT), written.to_dict(), "x").directory)


def test_salience_is_the_answers_attention_to_each_step(salience_run):
    for example_id in salience_run.example_ids("three-step"):
        salience = salience_run.tensors("three-step", example_id, "salience")
        attention = salience_run.tensors("three-step", example_id, "attention")
        assert salience["salience"].shape == (2, 4, 3)  # chosen layers x heads x steps
        expected = attention["answer_segment_mass"][[1, 3]][:, :, salience["step_segments"]]
        np.testing.assert_allclose(salience["salience"], expected, atol=1e-6)


def test_dataset_mean_per_step_and_known_structure(salience_run):
    summary = salience_run.summary("three-step", SalienceSummary)
    assert list(summary.mean_by_step) == ["step 1", "step 2", "step 3"]
    means = {k: np.array(v) for k, v in summary.mean_by_step.items()}
    assert means["step 3"].max() > means["step 1"].max()  # the answer reads the step carrying the result
    assert summary.layers == (1, 3)
