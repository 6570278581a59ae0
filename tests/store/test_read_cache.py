import json
import os

import numpy as np
import pytest

from generator.store import read_cache
from generator.store.read_cache import ReadCache, file_version
from generator.store.run_directory import RunFormatError, load_run
from tests.store.test_run_directory import StoredExample, write_example_run


@pytest.fixture
def cache():
    read_cache.enable(1 << 20)
    yield read_cache.active()
    read_cache.disable()


def test_a_record_is_given_back_only_for_the_version_it_was_read_from():
    cache = ReadCache(1000)
    cache.put("a", ((1, 2, 3, 4),), "record", 10)
    assert cache.get("a", ((1, 2, 3, 4),)) == "record"
    assert cache.get("a", ((1, 2, 3, 5),)) is None  # the file was replaced
    assert cache.get("a", None) is None and cache.get("b", ((1, 2, 3, 4),)) is None


def test_the_least_recently_used_records_go_first_and_an_oversized_one_is_not_kept():
    cache = ReadCache(100)
    for key in "abc":
        cache.put(key, (1,), key, 40)
    assert cache.get("a", (1,)) is None and cache.get("c", (1,)) == "c" and cache.size == 80
    cache.get("b", (1,))
    cache.put("d", (1,), "d", 40)  # "c" was used least recently
    assert cache.get("c", (1,)) is None and cache.get("b", (1,)) == "b"
    cache.put("e", (1,), "e", 101)
    assert cache.get("e", (1,)) is None and cache.size <= 100
    cache.put("b", None, "b", 40)  # a record read from a file that could not be looked at is dropped
    assert cache.get("b", (1,)) is None and cache.size == 40


def test_a_file_version_names_each_file_and_a_missing_one(tmp_path):
    present = tmp_path / "a"
    present.write_text("x")
    version = file_version(present, tmp_path / "missing")
    assert version[1] is None and version[0][0] == 1
    assert file_version(tmp_path / "missing") is None
    os.replace(_written(tmp_path / "b", "x"), present)  # replaced whole: a new inode
    assert file_version(present, tmp_path / "missing") != version


def _written(path, text):
    path.write_text(text)
    return path


def test_off_by_default_and_then_every_read_is_a_new_record(tmp_path):
    assert read_cache.active() is None
    run = load_run(write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32))))
    assert run.trajectory("set", "ex-1") is not run.trajectory("set", "ex-1")


def test_with_the_cache_a_run_file_is_read_once_per_version(tmp_path, cache):
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    run = load_run(root)
    first, result = run.trajectory("set", "ex-1"), run.result("set", "ex-1", StoredExample)
    again = load_run(root)  # a later build opens the run again
    assert again.trajectory("set", "ex-1") is first and again.result("set", "ex-1", StoredExample) is result
    path = root / "examples" / "set" / "ex-1" / "trajectory.json"
    data = json.loads(path.read_text())
    data["metadata"]["difficulty"] = "changed"
    os.replace(_written(tmp_path / "new.json", json.dumps(data)), path)
    changed = again.trajectory("set", "ex-1")
    assert changed is not first and changed.metadata["difficulty"] == "changed"


def test_result_arrays_are_read_only_so_a_shared_record_cannot_be_changed(tmp_path):
    run = load_run(write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32))))
    with pytest.raises(ValueError, match="read-only"):
        run.result("set", "ex-1", StoredExample).entropy[0, 0, 0] = 2.0


def test_a_damaged_file_is_said_every_time_it_is_read(tmp_path, cache):
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    (root / "examples" / "set" / "ex-1" / "trajectory.json").write_text("{")
    run = load_run(root)
    for _ in range(2):
        with pytest.raises(RunFormatError, match="trajectory.json"):
            run.trajectory("set", "ex-1")
    assert len(cache) == 0


def test_a_file_replaced_by_a_link_out_of_the_run_is_refused_though_it_was_read_before(tmp_path, cache):
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    path = root / "examples" / "set" / "ex-1" / "trajectory.json"
    load_run(root).trajectory("set", "ex-1")
    outside = tmp_path / "outside.json"
    outside.write_bytes(path.read_bytes())  # the same bytes, elsewhere
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(RunFormatError, match="leads out of the run directory"):
        load_run(root).trajectory("set", "ex-1")


def _move_files_out(folder, outside):
    for name in ("trajectory.json", "stored.safetensors"):
        os.replace(folder / name, outside / name)
        (folder / name).symlink_to(outside / name)


def _move_folder_out(folder, outside):
    os.replace(folder, outside / "moved")
    folder.symlink_to(outside / "moved")


@pytest.mark.parametrize("move", [_move_files_out, _move_folder_out], ids=["its files", "its folder"])
def test_what_was_read_and_is_now_reached_through_a_link_out_of_the_run_is_refused(tmp_path, cache, move):
    """The very files that were read, moved out of the run and linked back (the files themselves, or their folder):
    the same versions (the same inodes), still refused."""
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    run = load_run(root)
    run.trajectory("set", "ex-1")
    run.result("set", "ex-1", StoredExample)
    move(root / "examples" / "set" / "ex-1", tmp_path)
    with pytest.raises(RunFormatError, match="leads out of the run directory"):
        load_run(root).trajectory("set", "ex-1")
    with pytest.raises(RunFormatError, match="leads out of the run directory"):
        load_run(root).result("set", "ex-1", StoredExample)


def test_a_file_that_is_a_link_inside_the_run_is_read_every_time(tmp_path, cache):
    """A link's target can change under the same link: no version, nothing kept."""
    root = write_example_run(tmp_path / "r", StoredExample(np.ones((1, 1, 3), np.float32)))
    path = root / "examples" / "set" / "ex-1" / "trajectory.json"
    os.replace(path, root / "examples" / "set" / "kept.json")
    path.symlink_to(root / "examples" / "set" / "kept.json")
    assert file_version(path) is None
    run = load_run(root)
    assert run.trajectory("set", "ex-1") is not run.trajectory("set", "ex-1") and len(cache) == 0
