import json

import numpy as np
import pytest

from generator.store.atomic import atomic_write_text, replace_directory
from generator.store.records import SCHEMA_VERSION, DatasetEntry, Manifest, ModelInfo, Segment, Trajectory
from generator.store.run_directory import RunFormatError, load_run, write_run

TRAJECTORY = Trajectory(
    example_id="ex-1", dataset="set", prompt="Q: 1+2*3=", generated_text=" T: 2*3=6; A: 7",
    text="Q: 1+2*3= T: 2*3=6; A: 7", tokens=("<bos>", "Q", ":"), token_offsets=((0, 0), (0, 1), (1, 2)),
    token_ids=(1, 56, 81), n_prompt_tokens=2,
    segments=(Segment("question", "question", 0, 2, 0, 1), Segment("answer", "answer", 2, 3, 1, 2)),
    expected_answer="7", parsed_answer="7", correct=True, metadata={"difficulty": "2 steps"},
)
MANIFEST = Manifest(
    schema_version=SCHEMA_VERSION, run_name="r", created="2026-01-01T00:00:00+00:00",
    model=ModelInfo("m", None, "abc", "LlamaForCausalLM", 2, 4, "float32", "cpu"),
    config={"run_name": "r"}, config_sha256="0" * 64, library_versions={"torch": "2"},
    datasets=(DatasetEntry("set", "set.jsonl", ("ex-1",)),), analyses=("attention",),
)


def write_example_run(path, tensors):
    def fill(writer):
        writer.write_trajectory(TRAJECTORY)
        writer.write_tensors("set", "ex-1", "attention", tensors)
        writer.write_dataset_result("set", "attention", {"mean": [1.0, 2.0]})
        writer.write_manifest(MANIFEST)
    return write_run(path, fill)


def test_round_trip_is_exact(tmp_path):
    tensors = {"entropy": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "maps": np.eye(3, dtype=np.float32)}
    run = load_run(write_example_run(tmp_path / "r", tensors))
    assert run.manifest == MANIFEST
    assert run.trajectory("set", "ex-1") == TRAJECTORY
    loaded = run.tensors("set", "ex-1", "attention")
    assert set(loaded) == set(tensors)
    for key in tensors:
        np.testing.assert_array_equal(loaded[key], tensors[key])
        assert loaded[key].dtype == tensors[key].dtype
    assert run.dataset_result("set", "attention") == {"mean": [1.0, 2.0]}


def test_run_loads_with_json_and_safetensors_alone(tmp_path):
    from safetensors.numpy import load_file

    root = write_example_run(tmp_path / "r", {"entropy": np.ones((1, 1, 3), dtype=np.float32)})
    manifest = json.loads((root / "manifest.json").read_text())
    trajectory = json.loads((root / "examples/set/ex-1/trajectory.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert trajectory["segments"][1]["kind"] == "answer"
    assert load_file(str(root / "examples/set/ex-1/attention.safetensors"))["entropy"].shape == (1, 1, 3)


def test_failed_run_leaves_previous_run_intact(tmp_path):
    root = write_example_run(tmp_path / "r", {"entropy": np.ones(3, dtype=np.float32)})
    before = (root / "manifest.json").read_bytes()

    def explode(writer):
        writer.write_trajectory(TRAJECTORY)
        raise RuntimeError("model crashed half-way")

    with pytest.raises(RuntimeError):
        write_run(root, explode)
    assert (root / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"], "temporary directories were left behind"


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "file.txt"
    atomic_write_text(path, "old")

    class Boom(str):
        def encode(self, *args):
            raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write_text(path, Boom("new"))
    assert path.read_text() == "old"
    with pytest.raises(ValueError):
        replace_directory(tmp_path / "d", lambda tmp: (_ for _ in ()).throw(ValueError("bad")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.parametrize("mutate,message", [
    (lambda m: m.update(schema_version=99), "field 'schema_version': expected 1, got 99"),
    (lambda m: m.pop("model"), "does not match schema"),
])
def test_bad_manifests_are_named(tmp_path, mutate, message):
    root = write_example_run(tmp_path / "r", {"entropy": np.ones(3, dtype=np.float32)})
    data = json.loads((root / "manifest.json").read_text())
    mutate(data)
    (root / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(RunFormatError, match=message):
        load_run(root)


def test_names_cannot_escape_the_run_directory(tmp_path):
    bad = Trajectory(**{**TRAJECTORY.__dict__, "example_id": "../../etc"})
    with pytest.raises(RunFormatError, match="example id"):
        write_run(tmp_path / "r", lambda writer: writer.write_trajectory(bad))
