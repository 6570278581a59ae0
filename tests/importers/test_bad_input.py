"""Malformed input: every importer names the file and field, and leaves no run directory behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.importers import IMPORTERS, ImportValidationError, import_run
from tests.importers.test_importers import FEATURES, LEGACY, activation_dump, trajectory_file, write_salient

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_refused(tmp_path, kind, source, *fragments):
    runs = tmp_path / "runs"
    with pytest.raises(ImportValidationError) as info:
        import_run(IMPORTERS.get(kind), source, "bad", runs)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert not (runs / "bad").exists()
    assert not runs.exists() or not any(runs.iterdir()), "a failed import left files behind"


@pytest.mark.parametrize("array,fragments", [
    (np.zeros((7, 28)), ["aime_0/salient_thoughts.npy", "field 'array'", "3-D"]),
    (np.full((2, 2, 2), np.nan), ["field 'array'", "NaN or infinity"]),
    (np.array([[[np.inf]]]), ["NaN or infinity"]),
])
def test_salient_thoughts_bad_arrays(tmp_path, array, fragments):
    source = write_salient(tmp_path / "logs", {"aime_0": array})
    assert_refused(tmp_path, "salient-thoughts", source, *fragments)


def test_salient_thoughts_bad_trees(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_refused(tmp_path, "salient-thoughts", tmp_path / "empty", "no <dataset>_<index>/salient_thoughts.npy")
    source = write_salient(tmp_path / "mixed", {"aime_0": np.ones((7, 4, 3)), "aime_1": np.ones((5, 4, 3))})
    assert_refused(tmp_path, "salient-thoughts", source, "aime_1/salient_thoughts.npy", "(layers, heads) = (7, 4)")
    source = write_salient(tmp_path / "names", {"noindex": np.ones((2, 2, 2))})
    assert_refused(tmp_path, "salient-thoughts", source, "folder name 'noindex'")
    (tmp_path / "notnpy/aime_0").mkdir(parents=True)
    (tmp_path / "notnpy/aime_0/salient_thoughts.npy").write_text("not numpy")
    assert_refused(tmp_path, "salient-thoughts", tmp_path / "notnpy", "not a NumPy .npy array")


@pytest.mark.parametrize("results,fragments", [
    ([{**LEGACY, "counts": [[1.0, 2.0]]}], ["results[0]", "field 'counts'", "5 values (one per token)"]),
    ([{**LEGACY, "tokens": "abc"}], ["results[0]", "field 'tokens'"]),
    ([{k: v for k, v in LEGACY.items() if k != "tokens"}], ["field 'tokens': missing"]),
    ([{k: v for k, v in LEGACY.items() if k != "counts"}], ["field 'features': missing"]),
    ([{**FEATURES, "features": [{"feature_id": 1, "activations": [1.0]}]}], ["features[0]", "3 values (one per token)"]),
    ([{**FEATURES, "features": [{"activations": [1.0, 2.0, 3.0]}]}], ["features[0]", "field 'feature_id'"]),
    ([{**LEGACY, "counts": [[1.0, float("nan"), 0, 0, 0]]}], ["NaN or infinity"]),
    ([], ["field 'results': expected at least one"]),
    (["not an object"], ["results[0]: expected an object"]),
])
def test_activation_dumps(tmp_path, results, fragments):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(activation_dump(results)))
    assert_refused(tmp_path, "activations", path, "dump.json", *fragments)


def test_activation_dump_that_is_not_json(tmp_path):
    path = tmp_path / "dump.json"
    path.write_text("{\"results\": [")
    assert_refused(tmp_path, "activations", path, "dump.json: not valid JSON")


@pytest.mark.parametrize("mutate,fragments", [
    (lambda d: d["attention_data"].update(attention_matrix=[[1.0, 0.0], [0.5, 0.5]]), ["expected 3 x 3"]),
    (lambda d: d["attention_data"].pop("tokens"), ["field 'tokens': missing"]),
    (lambda d: d.pop("test_case"), ["field 'test_case': missing"]),
    (lambda d: d["attention_data"].update(attention_matrix=[[1.0, 0, 0], [0.5, 0.5, 0], [0, -1.0, 2.0]]), ["negative"]),
])
def test_trajectory_files(tmp_path, mutate, fragments):
    source = tmp_path / "traj"
    source.mkdir()
    data = trajectory_file()
    mutate(data)
    (source / "trajectory_1.json").write_text(json.dumps(data))
    assert_refused(tmp_path, "trajectories", source, "trajectory_1.json", *fragments)


def test_trajectory_manifest_naming_a_missing_file(tmp_path):
    source = tmp_path / "traj"
    source.mkdir()
    (source / "manifest.json").write_text(json.dumps(["trajectory_missing.json"]))
    assert_refused(tmp_path, "trajectories", source, "manifest.json", "trajectory_missing.json")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


@SETTINGS
@given(value=json_values)
def test_any_json_dump_is_imported_or_refused_cleanly(tmp_path_factory, value):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"results": [value]}))
    runs = tmp_path / "runs"
    try:
        import_run(IMPORTERS.get("activations"), path, "fuzz", runs)
    except ImportValidationError as exc:
        assert "dump.json" in str(exc)
        assert not (runs / "fuzz").exists()


@SETTINGS
@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=4),
       fill=st.sampled_from([0.5, np.nan, np.inf, -np.inf]))
def test_any_npy_shape_is_imported_or_refused_cleanly(tmp_path_factory, shape, fill):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    source = write_salient(tmp_path / "logs", {"set_0": np.full(shape, fill)})
    runs = tmp_path / "runs"
    valid = len(shape) == 3 and all(shape) and np.isfinite(fill)
    if valid:
        import_run(IMPORTERS.get("salient-thoughts"), source, "ok", runs)
        assert (runs / "ok" / "manifest.json").is_file()
    else:
        with pytest.raises(ImportValidationError, match="set_0/salient_thoughts.npy"):
            import_run(IMPORTERS.get("salient-thoughts"), source, "bad", runs)
        assert not (runs / "bad").exists()


@SETTINGS
@given(matrix=st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=4),
                       min_size=0, max_size=4))
def test_any_attention_matrix_is_imported_or_refused_cleanly(tmp_path_factory, matrix):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    source = tmp_path / "traj"
    source.mkdir()
    data = trajectory_file()
    data["attention_data"]["attention_matrix"] = matrix
    (source / "trajectory_1.json").write_text(json.dumps(data))
    runs = tmp_path / "runs"
    try:
        import_run(IMPORTERS.get("trajectories"), source, "fuzz", runs)
        assert np.asarray(matrix).shape == (3, 3)
    except ImportValidationError as exc:
        assert "trajectory_1.json" in str(exc)
        assert not (runs / "fuzz").exists()


def test_a_npy_header_that_claims_more_than_the_file_holds_is_refused(tmp_path):
    """A 128-byte header may claim (1e5, 1e5, 1e5) float32s (3.55 PiB): refused without allocating them."""
    source = write_salient(tmp_path / "logs", {"aime_0": np.ones((2, 2, 2), dtype=np.float32)})
    path = source / "aime_0" / "salient_thoughts.npy"
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (100_000, 100_000, 100_000)})
        handle.write(np.ones(8, dtype=np.float32).tobytes())
    assert path.stat().st_size == 128 + 32
    assert_refused(tmp_path, "salient-thoughts", source, "aime_0/salient_thoughts.npy", "not a NumPy .npy array")


@pytest.mark.parametrize("text,fragment", [("[" * 100_000, "nested more than"), ('{"a": "\\ud800"}', "lone surrogate")])
def test_activation_dumps_nested_too_deeply_or_with_lone_surrogates_are_refused(tmp_path, text, fragment):
    (tmp_path / "dump.json").write_text(text)
    assert_refused(tmp_path, "activations", tmp_path / "dump.json", "dump.json", fragment)
