"""Where a build may write: only inside the folders it owns."""

import os

import pytest

from generator.store.atomic import OutsideOwnedFolderError, owned_path


def test_a_page_path_is_written_only_inside_the_docs(tmp_path):
    docs = tmp_path / "docs"
    (docs / "runs").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", docs / "runs" / "out")
    os.symlink(docs / "runs", docs / "inside")
    assert owned_path(docs, "runs/r/d/index.md") == docs / "runs/r/d/index.md"
    assert owned_path(docs, "inside/r/page.md") == docs / "inside/r/page.md"  # a link that stays inside
    for relative in ("../x.md", "runs/../../x.md", "runs/out/page.md", ".", "runs/.."):
        with pytest.raises(OutsideOwnedFolderError, match="would be written outside"):
            owned_path(docs, relative)
