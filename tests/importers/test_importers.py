"""Each importer on small files in every documented format, rendered with the normal templates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generator.importers import IMPORTERS, import_run
from generator.importers.base import ImportValidationError
from generator.results.attention import AttentionExample
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT
from generator.results.features import FeaturesSummary
from generator.results.salience import SalienceSummary


def write_salient(root, arrays: dict[str, np.ndarray]):
    for folder, array in arrays.items():
        (root / folder).mkdir(parents=True)
        np.save(root / folder / "salient_thoughts.npy", array)
    return root


def activation_dump(results):
    return {"model": "some-model", "results": results}


LEGACY = {"probe_id": "probe_0_Dallas", "prompt": "entity: A city in Texas, USA is Dallas",
          "tokens": ["<bos>", "entity", ":", " A", " city"], "counts": [[9813.0, 72.0, 0.0, 3.0, 1.0], [0, 0, 5.5, 0, 0]]}
FEATURES = {"probe_id": "probe 1/Austin", "prompt": "Austin",
            "tokens": ["<bos>", "Aus", "tin"], "features": [
                {"feature_id": 41, "activations": [0.0, 2.0, 4.0], "label": "Texas cities"},
                {"index": 7, "activations": [1.0, 0.0, 0.5]}]}


def trajectory_file(identifier="20250914_123456", tokens=("What", " is", " 2"), matrix=None):
    n = len(tokens)
    matrix = matrix if matrix is not None else np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    return {"id": identifier, "timestamp": "2025-09-14 12:34:56",
            "test_case": {"category": "Math", "query": "What is 2", "description": "demo"},
            "response": "2", "tokens": list(tokens),
            "attention_data": {"tokens": list(tokens), "attention_matrix": np.asarray(matrix).tolist(),
                               "num_layers": 1, "num_heads": 16}, "metadata": {}}


def test_salient_thoughts_with_seed_layer_numbers(tmp_path):
    rng = np.random.default_rng(0)
    source = write_salient(tmp_path / "logs", {"aime_1": rng.random((7, 28, 3)), "aime_0": rng.random((7, 28, 3)),
                                               "math-algebra_0": rng.random((7, 28, 2))})
    run = load_run(import_run(IMPORTERS.get("salient-thoughts"), source, "seeds", tmp_path / "runs"))
    assert run.dataset_names() == ["aime", "math-algebra"]
    assert run.example_ids("aime") == ["aime_0", "aime_1"]
    tensors = run.tensors("aime", "aime_1", "salience")
    np.testing.assert_allclose(tensors["salience"], np.load(source / "aime_1/salient_thoughts.npy"), rtol=1e-6)
    assert tensors["layers"].tolist() == [1, 5, 9, 13, 17, 21, 25]
    summary = run.summary("aime", SalienceSummary)
    assert list(summary.mean_by_step) == ["step 1", "step 2", "step 3"]


def test_activations_in_both_formats(tmp_path):
    path = tmp_path / "activations_dump.json"
    path.write_text(json.dumps(activation_dump([LEGACY, FEATURES])))
    run = load_run(import_run(IMPORTERS.get("activations"), path, "acts", tmp_path / "runs"))
    (dataset,) = run.dataset_names()
    assert run.example_ids(dataset) == ["probe_0_Dallas", "probe-1-Austin"]
    legacy = run.tensors(dataset, "probe_0_Dallas", "features")
    np.testing.assert_array_equal(legacy["activations"], np.array(LEGACY["counts"], dtype=np.float32).T)
    named = run.tensors(dataset, "probe-1-Austin", "features")
    assert named["feature_ids"].tolist() == [41, 7]
    assert run.trajectory(dataset, "probe-1-Austin").tokens == ("<bos>", "Aus", "tin")
    assert run.summary(dataset, FeaturesSummary).feature_labels == {"41": "Texas cities"}


def test_trajectories_with_manifest(tmp_path):
    source = tmp_path / "trajectories"
    source.mkdir()
    for name in ("trajectory_20250914_123456.json", "trajectory_20250914_130000.json"):
        (source / name).write_text(json.dumps(trajectory_file(name[11:-5])))
    (source / "manifest.json").write_text(json.dumps({"trajectories": [
        {"filename": "trajectory_20250914_130000.json"}, {"filename": "trajectory_20250914_123456.json"}]}))
    run = load_run(import_run(IMPORTERS.get("trajectories"), source, "agent", tmp_path / "runs"))
    assert run.example_ids("Math") == ["20250914_130000", "20250914_123456"]
    tensors = run.tensors("Math", "20250914_123456", "attention")
    assert tensors["maps"].shape == (1, 1, 3, 3)
    np.testing.assert_allclose(tensors["entropy"][0, 0], [0.0, np.log(2), np.log(3)], rtol=1e-6)


def test_imported_runs_render_with_the_normal_templates(tmp_path):
    from generator.render.site import build_site

    rng = np.random.default_rng(1)
    write_salient(tmp_path / "logs", {"aime_0": rng.random((7, 4, 3))})
    import_run(IMPORTERS.get("salient-thoughts"), tmp_path / "logs", "seeds", tmp_path / "runs")
    (tmp_path / "dump.json").write_text(json.dumps(activation_dump([LEGACY, FEATURES])))
    import_run(IMPORTERS.get("activations"), tmp_path / "dump.json", "acts", tmp_path / "runs")
    (tmp_path / "traj").mkdir()
    (tmp_path / "traj" / "trajectory_1.json").write_text(json.dumps(trajectory_file("t1", ("<b>", "{{x}}", "ok"))))
    import_run(IMPORTERS.get("trajectories"), tmp_path / "traj", "agent", tmp_path / "runs")
    built = build_site(tmp_path / "runs", REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site", docs_dir=tmp_path / "docs")
    site = built.site_dir
    assert "Thought salience" in (site / "runs/seeds/aime/index.html").read_text()
    assert "Texas cities" in (site / "runs/acts/dump/examples/probe-1-Austin.html").read_text()
    agent = (site / "runs/agent/Math/examples/t1.html").read_text()
    assert "&#60;b&#62;" in agent and "<b>ok" not in agent
    index = json.loads((site / "atlas-index.json").read_text())
    assert {"seeds", "acts", "agent"} <= {e["run"] for e in index["entries"]}


def test_trajectories_keep_every_layer_and_head_in_the_file(tmp_path):
    source = tmp_path / "trajectories"
    source.mkdir()
    n = 3
    causal = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    maps = np.stack([np.stack([np.eye(n) if (layer + head) % 2 else causal for head in range(3)])
                     for layer in range(2)])  # [2 layers, 3 heads, n, n]
    data = trajectory_file(matrix=maps)
    data["attention_data"].update(num_layers=2, num_heads=3)
    (source / "trajectory_1.json").write_text(json.dumps(data))
    run = load_run(import_run(IMPORTERS.get("trajectories"), source, "many", tmp_path / "runs"))
    (dataset,) = run.dataset_names()
    stored = run.result(dataset, "20250914_123456", AttentionExample)
    np.testing.assert_allclose(stored.maps, maps, rtol=1e-6)
    assert (run.manifest.model.num_layers, run.manifest.model.num_heads) == (2, 3)
    assert run.trajectory(dataset, "20250914_123456").metadata["category"] == "Math"


@pytest.mark.parametrize("change,message", [
    (lambda d: d["attention_data"].update(num_heads=4), "attention_data.num_heads': says 4, but the matrix has 3"),
    (lambda d: d["attention_data"].update(attention_matrix=np.zeros((2, 3, 3, 2)).tolist()), "expected 3 x 3 maps"),
])
def test_a_multi_head_file_that_disagrees_with_itself_is_refused(tmp_path, change, message):
    source = tmp_path / "trajectories"
    source.mkdir()
    data = trajectory_file(matrix=np.ones((2, 3, 3, 3)) / 3)
    data["attention_data"].update(num_layers=2, num_heads=3)
    change(data)
    (source / "trajectory_1.json").write_text(json.dumps(data))
    with pytest.raises(ImportValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_run(IMPORTERS.get("trajectories"), source, "bad", tmp_path / "runs")
