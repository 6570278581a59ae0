"""The theme's static files listed without its hidden folders: the same files MkDocs keeps its own way."""

import os

from generator.render.mkdocs_build import load_mkdocs_config
from generator.render.theme_files import _names, theme_files_pruned
from tests.conftest import REPO_ROOT


def _theme_files(config):
    from mkdocs.structure.files import Files

    files = Files([])
    files.add_files_from_theme(config.theme.get_env(), config)
    return [(file.src_uri, file.abs_src_path, file.dest_uri) for file in files]


def test_the_site_theme_gives_the_same_files_without_walking_its_icons(tmp_path):
    (tmp_path / "docs").mkdir()
    config = load_mkdocs_config(REPO_ROOT / "mkdocs.yml", {"docs_dir": str(tmp_path / "docs"),
                                                            "site_dir": str(tmp_path / "site")})
    theirs = _theme_files(config)
    with theme_files_pruned():
        ours = _theme_files(config)
    assert ours == theirs and len(theirs) > 20
    assert _theme_files(config) == theirs  # MkDocs' own method is back after the block


def test_hidden_folders_at_any_depth_and_links_as_jinja_lists_them(tmp_path):
    from jinja2 import FileSystemLoader

    for name in ("a.css", ".hidden.css", "sub/b.js", "sub/.c.js", ".icons/x.svg", "sub/.deep/y.svg", "sub/deeper/z.png",
                 "other/a.css"):
        (tmp_path / "t" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "t" / name).write_text("x")
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "a.css").write_text("another theme folder's copy")
    os.symlink(tmp_path / "t" / "sub", tmp_path / "t" / "linked")
    for followlinks in (False, True):
        loader = FileSystemLoader([str(tmp_path / "t"), str(tmp_path / "u") + os.sep], followlinks=followlinks)
        everything = loader.list_templates()
        visible = [name for name in everything if not any(part.startswith(".") for part in name.split("/"))]
        assert _names(loader.searchpath, followlinks) == [name for name in everything
                                                          if not any(p.startswith(".") for p in name.split("/")[:-1])]
        assert [name for name in _names(loader.searchpath, followlinks) if not name.split("/")[-1].startswith(".")] \
            == visible
        assert ("linked/b.js" in everything) is followlinks


def test_asked_otherwise_than_mkdocs_asks_the_listing_is_jinjas_own(tmp_path):
    from jinja2 import Environment, FileSystemLoader

    from generator.render.theme_files import _PrunedListing

    for name in ("a.css", ".icons/x.svg", "b.html"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    loader = FileSystemLoader(str(tmp_path))
    pruned, jinja = _PrunedListing(loader), Environment(loader=loader)
    assert pruned.list_templates() == jinja.list_templates() == [".icons/x.svg", "a.css", "b.html"]
    assert pruned.list_templates(extensions=["svg"]) == jinja.list_templates(extensions=["svg"]) == [".icons/x.svg"]
    assert pruned.list_templates(filter_func=lambda name: True) == ["a.css", "b.html"]  # a filter: hidden folders out
