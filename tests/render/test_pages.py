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
