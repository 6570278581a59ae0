"""The theme's static files, found without walking the folders MkDocs would leave out anyway.

Every build, MkDocs' ``Files.add_files_from_theme`` lists each file of the theme's folders
through Jinja, then keeps, by ``fnmatch``, the names that are neither templates nor hidden: for
mkdocs-material that is 14,500 names (its icons, under ``.icons/``) for 43 files kept, about
0.1 s of every build (and of every rebuild `atlas serve` makes). MkDocs' own patterns ``.*`` and
``*/.*`` drop every name with a part that starts with a dot, so a walk that does not enter such
folders lists every name that can be kept; inside ``theme_files_pruned()`` MkDocs filters that
list with its own filter, and keeps the same files in the same order. Used only where the
theme's loader is Jinja's own ``FileSystemLoader`` (any other: MkDocs' way, untouched).
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable


class _PrunedListing:
    """What ``Files.add_files_from_theme`` asks of the Jinja environment (``list_templates(filter_func=...)``), from
    a walk of the loader's folders that leaves out the folders whose name starts with a dot."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def list_templates(self, extensions=None, filter_func: Callable[[str], bool] | None = None) -> list[str]:
        if extensions is not None or filter_func is None:  # not how MkDocs asks (it filters by its patterns),
            from jinja2 import Environment  # so Jinja's own listing, every name

            return Environment(loader=self.loader).list_templates(extensions, filter_func)
        return [name for name in _names(self.loader.searchpath, self.loader.followlinks) if filter_func(name)]


def _names(searchpaths: list[str], followlinks: bool) -> list[str]:
    """Jinja's ``FileSystemLoader.list_templates`` (each file's path under its search folder, with slashes, sorted,
    each once), without the files under a folder whose name starts with a dot."""
    found: set[str] = set()
    for searchpath in searchpaths:
        for folder, subfolders, filenames in os.walk(searchpath, followlinks=followlinks):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            for filename in filenames:
                name = os.path.join(folder, filename)[len(searchpath):].strip(os.path.sep).replace(os.path.sep, "/")
                found.add(name[2:] if name[:2] == "./" else name)
    return sorted(found)


@contextlib.contextmanager
def theme_files_pruned():
    """MkDocs builds inside this block list the theme's files without its hidden folders (same files kept)."""
    from jinja2 import FileSystemLoader
    from mkdocs.structure.files import Files

    original = Files.add_files_from_theme

    def add_files_from_theme(files, env, config) -> None:
        if type(env.loader) is FileSystemLoader:
            env = _PrunedListing(env.loader)
        original(files, env, config)

    Files.add_files_from_theme = add_files_from_theme
    try:
        yield
    finally:
        Files.add_files_from_theme = original
