import dataclasses
import json
import os

import numpy as np
import pytest

from generator.store import kept_reads, read_cache
from generator.store.kept_reads import BASE, DELTA, kept
from generator.store.records import DatasetEntry
from generator.store.run_directory import Run, load_run, write_run
from tests.store.test_run_directory import MANIFEST, TRAJECTORY, StoredExample, StoredSummary

IDS = [f"ex-{i}" for i in range(16)]


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test starts as a new build process would: nothing seen, no cache of the process."""
    monkeypatch.setattr(kept_reads, "_seen", {})
    before = read_cache.use(None)
    yield
    read_cache.use(before)


@pytest.fixture
def reads(monkeypatch):
    """The run files actually read (trajectories and results), by example id."""
    done: list[str] = []
    trajectory, result = Run._read_trajectory, Run._read_result

    def read_trajectory(self, path, dataset, example_id):
        done.append(example_id)
        return trajectory(self, path, dataset, example_id)

    def read_result(self, path, kind):
        done.append(path.parent.name)
        return result(self, path, kind)

    monkeypatch.setattr(Run, "_read_trajectory", read_trajectory)
    monkeypatch.setattr(Run, "_read_result", read_result)
    return done


def _run(path):
    def fill(writer):
        for index, example_id in enumerate(IDS):
            writer.write_trajectory(dataclasses.replace(TRAJECTORY, example_id=example_id))
            writer.write_result("set", example_id, StoredExample(np.full((1, 1, 3), index, np.float32)))
        writer.write_summary("set", StoredSummary((1.0, 2.0)))
        writer.write_manifest(dataclasses.replace(MANIFEST, datasets=(DatasetEntry("set", "set.jsonl",
                                                                                   tuple(IDS)),)))
    return write_run(path, fill)


def _read_all(root):
    run = load_run(root)
    return [(run.trajectory("set", i), run.result("set", i, StoredExample)) for i in IDS]


def _change(root, example_id, difficulty):
    path = root / "examples" / "set" / example_id / "trajectory.json"
    data = json.loads(path.read_text())
    data["metadata"]["difficulty"] = difficulty
    new = path.with_name("new.json")
    new.write_text(json.dumps(data))
    os.replace(new, path)  # run files are replaced whole


def _as_new_process(monkeypatch):
    monkeypatch.setattr(kept_reads, "_seen", {})


def test_a_later_build_reads_only_what_changed_and_writes_only_that(tmp_path, reads, monkeypatch):
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with kept(folder):
        first = _read_all(root)
    assert len(reads) == 32 and (folder / BASE).is_file() and not (folder / DELTA).exists()
    base = (folder / BASE).stat()
    _as_new_process(monkeypatch)
    reads.clear()
    _change(root, "ex-3", "changed")
    with kept(folder):
        again = _read_all(root)
    assert reads == ["ex-3"]  # its trajectory; every other record came from the folder
    assert again[3][0].metadata["difficulty"] == "changed" and again[4][0] == first[4][0]
    assert np.array_equal(again[5][1].entropy, first[5][1].entropy)
    assert (folder / BASE).stat().st_mtime_ns == base.st_mtime_ns  # the base is not written again
    _as_new_process(monkeypatch)
    reads.clear()
    with kept(folder):
        third = _read_all(root)
    assert reads == [] and third[3][0].metadata["difficulty"] == "changed"


def test_kept_arrays_are_read_only_as_read_ones_are(tmp_path, monkeypatch):
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with kept(folder):
        _read_all(root)
    _as_new_process(monkeypatch)
    with kept(folder):
        record = load_run(root).result("set", "ex-2", StoredExample)
    with pytest.raises(ValueError, match="read-only"):
        record.entropy[0, 0, 0] = 5.0


def test_the_base_is_written_again_when_the_delta_grows_or_examples_go(tmp_path, reads, monkeypatch):
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with kept(folder):
        _read_all(root)
    for example_id in IDS[:3]:  # 3 of 16 changed: the delta (3) is past an eighth of the base (16 records x 2)
        _change(root, example_id, "changed")
    _as_new_process(monkeypatch)
    with kept(folder):
        _read_all(root)
    assert (folder / BASE).is_file() and (folder / DELTA).is_file()  # 3 x 8 = 24 <= 32: still a delta
    for example_id in IDS[3:6]:
        _change(root, example_id, "changed")
    _as_new_process(monkeypatch)
    with kept(folder):
        _read_all(root)
    assert not (folder / DELTA).exists()  # 6 x 8 > 32: one base again
    _as_new_process(monkeypatch)
    reads.clear()
    with kept(folder):
        load_run(root).trajectory("set", "ex-0")  # a page that now reads one example: the rest no longer used
    assert reads == [] and not (folder / DELTA).exists()
    _as_new_process(monkeypatch)
    reads.clear()
    with kept(folder):
        _read_all(root)
    assert len(reads) == 31 and reads.count("ex-0") == 1  # only what the last block used was kept: ex-0's trajectory


def test_other_code_a_damaged_file_or_a_link_means_every_file_is_read_again(tmp_path, reads, monkeypatch):
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with kept(folder):
        _read_all(root)
    saved = (folder / BASE).read_bytes()
    header = json.loads(saved.split(b"\n", 1)[0])
    assert header["code"] == kept_reads._package_code()  # the store's and results' sources, Python's, numpy's
    assert list(header["modules"]) == [StoredExample.__module__]  # and a record's own module, kept elsewhere
    cases = {
        "other store code": lambda: monkeypatch.setattr(kept_reads, "_package_code", lambda: "0" * 64),
        "other record code": lambda: monkeypatch.setattr(kept_reads, "_module_digest", lambda name: "0" * 64),
        "damaged": lambda: (folder / BASE).write_bytes(saved[:len(saved) // 2]),
        "not ours": lambda: (folder / BASE).write_bytes(b"[]\n" + saved.split(b"\n", 1)[1]),
        "a link": lambda: (os.replace(folder / BASE, tmp_path / "elsewhere"), (folder / BASE).symlink_to(
            tmp_path / "elsewhere")),
    }
    for name, spoil in cases.items():
        with monkeypatch.context() as patch:
            patch.setattr(kept_reads, "_seen", {})
            (folder / BASE).unlink(missing_ok=True)
            (folder / BASE).write_bytes(saved)
            spoil()
            reads.clear()
            with kept(folder):
                _read_all(root)
            assert len(reads) == 32, name


def test_the_server_fills_its_cache_from_the_folder_once(tmp_path, reads, monkeypatch):
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with kept(folder):
        _read_all(root)  # an earlier `atlas build`
    _as_new_process(monkeypatch)
    read_cache.enable(1 << 24)
    loads = []
    load = kept_reads._load
    monkeypatch.setattr(kept_reads, "_load", lambda *args: loads.append(1) or load(*args))
    reads.clear()
    with kept(folder):
        _read_all(root)
    assert reads == [] and len(read_cache.active()) == 32  # its first rebuild is warm
    _change(root, "ex-7", "changed")
    with kept(folder):
        _read_all(root)
    assert reads == ["ex-7"] and loads == [1]  # its own save: not loaded again
    assert read_cache.active().used is None  # nothing tracked outside a block


def test_loading_pauses_the_collector_and_leaves_it_as_it_was(tmp_path, monkeypatch):
    import gc

    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with kept(folder):
        _read_all(root)
    during = []
    load = kept_reads.pickle.load
    monkeypatch.setattr(kept_reads.pickle, "load", lambda handle: during.append(gc.isenabled()) or load(handle))
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            assert len(kept_reads._read(folder / BASE)) == 32 and gc.isenabled() is enabled
        finally:
            gc.enable()
    assert during == [False, False]


def test_past_its_bound_a_page_reads_again_what_it_could_not_keep(tmp_path, reads, monkeypatch):
    """A dataset larger than the bound (least recently used records dropped): correct records, more reads."""
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    monkeypatch.setattr(kept_reads, "MAX_BYTES", 1)  # smaller than any record
    with kept(folder):
        first = _read_all(root)
    _as_new_process(monkeypatch)
    reads.clear()
    with kept(folder):
        again = _read_all(root)
    assert len(reads) == 32 and [t for t, _ in again] == [t for t, _ in first]


def test_records_whose_code_cannot_be_checked_are_not_kept_and_a_refused_pickle_fails_nothing(tmp_path, monkeypatch):
    root, folder = _run(tmp_path / "r"), tmp_path / "kept"
    folder.mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(kept_reads, "_module_digest", lambda name: None)  # e.g. a class made in a notebook
        with kept(folder):
            _read_all(root)
    assert not (folder / BASE).exists()
    with monkeypatch.context() as patch:
        patch.setattr(kept_reads.pickle, "dumps", lambda *args, **kwargs: (_ for _ in ()).throw(RecursionError()))
        with kept(folder):
            assert len(_read_all(root)) == len(IDS)
    assert not (folder / BASE).exists()
