"""Theme partials drawn once per folder for pages outside the navigation give the site drawing each would give."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from tests.render.test_mkdocs_build import _project
from tests.render.mkdocs_shortcuts import difference_caught


@pytest.mark.slow
def test_a_partial_that_depends_on_the_page_is_caught_and_drawn_for_every_page(tiny_run, tmp_path, monkeypatch,
                                                                               caplog):
    from generator.render import shared_partials

    plugin = difference_caught(monkeypatch, caplog, _project(tmp_path, tiny_run), shared_partials,
                               "SharedPartialsPlugin", {"SHARED_PARTIALS": ("partials/content.html",)})  # per page
    assert plugin.reused == 0


def test_only_materials_own_partials_are_shared(tmp_path):
    from generator.render.mkdocs_build import load_mkdocs_config
    from generator.render.shared_partials import usable

    (tmp_path / "docs").mkdir()
    (tmp_path / "overrides").mkdir()
    docs = {"docs_dir": str(tmp_path / "docs")}
    ours = (REPO_ROOT / "mkdocs.yml").read_text()
    assert usable(load_mkdocs_config(REPO_ROOT / "mkdocs.yml", docs))
    for changed in (ours.replace("  name: material\n", f"  name: material\n  custom_dir: {tmp_path / 'overrides'}\n"),
                    ours.replace("  name: material\n", "  name: mkdocs\n").replace("  - offline", ""),
                    ours.replace("  - offline", "  - offline\n  - tags")):
        other = tmp_path / "mkdocs.yml"
        other.write_text(changed)
        assert not usable(load_mkdocs_config(other, docs))
