"""Page kinds' inputs: the run files whose versions decide whether a page is rendered again."""

import os
from pathlib import Path

import pytest

from generator.render.pages import _matching_files


@pytest.mark.parametrize("pattern", ["*", "*/*", "*/*/trajectory.json", "a/*", "*/.hidden"])
def test_inputs_are_the_files_pathlib_glob_finds(tmp_path, pattern):
    for name in ("top.json", ".hidden", "a/x.json", "a/.hidden", "a/sub/trajectory.json", "b/trajectory.json/inner",
                 ".h/c/trajectory.json", "d/e/trajectory.json", "d/e/other.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    os.symlink(tmp_path / "d", tmp_path / "linked-folder")  # followed, as pathlib's glob follows it
    os.symlink(tmp_path / "top.json", tmp_path / "a" / "linked.json")
    os.symlink(tmp_path / "missing", tmp_path / "a" / "dangling.json")  # not a file
    expected = sorted(str(path) for path in Path(tmp_path).glob(pattern) if path.is_file())
    assert sorted(_matching_files(str(tmp_path), pattern)) == expected and expected
    assert _matching_files(str(tmp_path / "absent"), pattern) == []


def test_a_pass_over_every_unit_lists_each_folder_and_looks_at_each_file_once(tiny_run, tmp_path, monkeypatch):
    """The fingerprints of one pass (folders listed once, files looked at once) are those made one unit at a time."""
    import shutil

    from generator.render import pages
    from generator.render.pages import PAGE_KINDS, listings_remembered
    from generator.render.reuse import unit_fingerprint
    from generator.render.units import PageUnit
    from generator.store.run_directory import load_run

    run = load_run(Path(shutil.copytree(tiny_run, tmp_path / "tiny")))
    units = [PageUnit(kind, str(run.root), dataset, example_id) for kind, page_kind in PAGE_KINDS.items()
             for dataset, example_id in page_kind.units(run)]
    listed: list[str] = []
    scandir = os.scandir
    monkeypatch.setattr(pages.os, "scandir", lambda root: listed.append(root) or scandir(root))
    alone = [unit_fingerprint(unit, run, "code") for unit in units]
    listed_alone = len(listed)
    listed.clear()
    with listings_remembered():
        together = [unit_fingerprint(unit, run, "code", {}) for unit in units]
    assert together == alone and len(set(alone)) == len(units)
    assert sorted(listed) == sorted(set(listed)) and len(listed) < listed_alone  # each folder listed once
    changed = units.index(PageUnit("example", str(run.root), "alpha", "a-0"))
    path = run.layout.example_dir("alpha", "a-0") / "trajectory.json"
    path.write_text(path.read_text() + " ")  # a later build's pass sees it: nothing is remembered between passes
    with listings_remembered():
        again = [unit_fingerprint(unit, run, "code", {}) for unit in units]
    assert [unit.example_id or unit.dataset or unit.kind for unit, a, b in zip(units, alone, again) if a != b] == [
        "run", "alpha", "a-0"]
    assert again[changed] != alone[changed]
