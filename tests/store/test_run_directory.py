import json
from dataclasses import dataclass

import numpy as np
import pytest

from generator.store.atomic import atomic_write_text, replace_directory
from generator.store.records import (SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, ModelInfo, Segment,
                                     Trajectory)
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value
from generator.store.run_directory import RunFormatError, load_run, write_run


@dataclass(frozen=True, eq=False)
class StoredExample(ExampleResult):
    analysis = "stored"
    entropy: np.ndarray = tensor("[L, H, T]", "entropy")
    maps: np.ndarray | None = tensor("[T, T]", "maps", optional=True)


@dataclass(frozen=True)
class StoredSummary(DatasetSummary):
    analysis = "stored"
    mean: tuple[float, ...] = value("means")
    note: str | None = value("a note", default=None)


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
    datasets=(DatasetEntry("set", "set.jsonl", ("ex-1",)),),
    analyses=(AnalysisEntry("stored", "StoredExample", "StoredSummary"),),
)


def write_example_run(path, result):
    def fill(writer):
        writer.write_trajectory(TRAJECTORY)
        writer.write_result("set", "ex-1", result)
        writer.write_summary("set", StoredSummary((1.0, 2.0)))
        writer.write_manifest(MANIFEST)
    return write_run(path, fill)


def test_round_trip_is_exact(tmp_path):
    result = StoredExample(np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.eye(3, dtype=np.float32))
    run = load_run(write_example_run(tmp_path / "r", result))
    assert run.manifest == MANIFEST
    assert run.trajectory("set", "ex-1") == TRAJECTORY
    assert run.result("set", "ex-1", StoredExample) == result
    assert run.result("set", "ex-1", StoredExample) != StoredExample(result.entropy + 1, result.maps)
    assert run.summary("set", StoredSummary) == StoredSummary((1.0, 2.0))
    loaded = run.tensors("set", "ex-1", "stored")  # the raw arrays, as a notebook sees them
    assert set(loaded) == {"entropy", "maps"} and loaded["maps"].dtype == np.float32


def test_absent_optional_tensors_and_results(tmp_path):
    run = load_run(write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32))))
    assert run.result("set", "ex-1", StoredExample).maps is None
    assert set(run.tensors("set", "ex-1", "stored")) == {"entropy"}

    @dataclass(frozen=True, eq=False)
    class Missing(ExampleResult):
        analysis = "missing"
        x: np.ndarray = tensor("[n]", "x")

    assert run.result("set", "ex-1", Missing) is None


@pytest.mark.parametrize("damage,message", [
    (lambda root: (root / "examples/set/ex-1/stored.safetensors").write_bytes(b"\x00" * 10),
     "stored.safetensors: not a readable safetensors file"),
    (lambda root: (root / "datasets/set/stored.json").write_text('{"mean": "high"}'),
     "stored.json: key 'mean': expected a list of a number"),
    (lambda root: (root / "datasets/set/stored.json").write_text('{"mean": [1], "extra": 2}'),
     "stored.json: key 'extra': unknown key"),
])
def test_damaged_results_name_the_file_and_key(tmp_path, damage, message):
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    damage(root)
    run = load_run(root)
    with pytest.raises(RunFormatError, match=message):
        run.result("set", "ex-1", StoredExample)
        run.summary("set", StoredSummary)


def test_a_tensor_of_the_wrong_rank_is_refused(tmp_path):
    @dataclass(frozen=True, eq=False)
    class Flat(ExampleResult):
        analysis = "stored"
        entropy: np.ndarray = tensor("[n]", "entropy")

    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    with pytest.raises(RunFormatError, match=r"key 'entropy': expected shape \[n\], got \[1, 1, 3\]"):
        load_run(root).result("set", "ex-1", Flat)


def test_run_loads_with_json_and_safetensors_alone(tmp_path):
    from safetensors.numpy import load_file

    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), dtype=np.float32)))
    manifest = json.loads((root / "manifest.json").read_text())
    trajectory = json.loads((root / "examples/set/ex-1/trajectory.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["analyses"] == [{"name": "stored", "example_result": "StoredExample",
                                     "dataset_summary": "StoredSummary"}]
    assert trajectory["segments"][1]["kind"] == "answer"
    assert load_file(str(root / "examples/set/ex-1/stored.safetensors"))["entropy"].shape == (1, 1, 3)
    assert json.loads((root / "datasets/set/stored.json").read_text()) == {"mean": [1.0, 2.0], "note": None}


def test_failed_run_leaves_previous_run_intact(tmp_path):
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), dtype=np.float32)))
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
    (lambda m: m.update(schema_version=99), "key 'schema_version': expected one of 1, 2, got 99"),
    (lambda m: m.pop("model"), "key 'model': required"),
])
def test_bad_manifests_are_named(tmp_path, mutate, message):
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), dtype=np.float32)))
    data = json.loads((root / "manifest.json").read_text())
    mutate(data)
    (root / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(RunFormatError, match=message):
        load_run(root)


def test_names_cannot_escape_the_run_directory(tmp_path):
    bad = Trajectory(**{**TRAJECTORY.__dict__, "example_id": "../../etc"})
    with pytest.raises(RunFormatError, match="example id"):
        write_run(tmp_path / "r", lambda writer: writer.write_trajectory(bad))


def test_a_path_through_a_link_out_of_the_run_is_refused_however_often_its_folder_was_read(tmp_path):
    """``confined`` remembers each folder's real path; a linked file or folder still leads out and is refused."""
    import os

    from generator.store.layout import RunFormatError, RunLayout

    (tmp_path / "run/examples/d/e").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "run/examples/d/e/trajectory.json").write_text("{}")
    os.symlink(tmp_path / "outside/secret.json", tmp_path / "run/examples/d/e/attention.safetensors")
    os.symlink(tmp_path / "outside", tmp_path / "run/examples/d/linked")
    os.symlink(tmp_path / "run/examples/d/e", tmp_path / "run/examples/d/inside")  # a link within the run: fine
    (tmp_path / "outside/e").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "run/examples/far")  # a link two folders above the file
    layout = RunLayout(tmp_path / "run")
    cases = {"examples/d/e/trajectory.json": True, "examples/d/e/attention.safetensors": False,
             "examples/d/linked/trajectory.json": False, "examples/d/inside/trajectory.json": True,
             "examples/d/e/../e/trajectory.json": True, "examples/d/missing/x.json": True,
             "examples/far/e/trajectory.json": False, "examples/d/inside/../e/trajectory.json": True}
    for _ in range(2):  # the second time from the remembered folders
        for relative, inside in cases.items():
            path = tmp_path / "run" / relative
            assert layout._real(os.fspath(path)) == os.path.realpath(path)
            if inside:
                assert layout.confined(path) == path
            else:
                with pytest.raises(RunFormatError, match="leads out of the run directory"):
                    layout.confined(path)
