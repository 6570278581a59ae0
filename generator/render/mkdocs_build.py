"""MkDocs over the rendered docs: a whole build, or only the pages that changed since the last one.

MkDocs' own ``--dirty`` rebuilds the changed pages but leaves a search index that holds only
those pages, and draws their navigation with the titles of pages it did not read. Here a
rebuild is incremental only when it can equal a whole build byte for byte: the same mkdocs.yml,
MkDocs, theme and overrides, the same set of files, the same navigation titles and front matter.
The pages in the navigation (few: the index, runs and datasets; example pages are kept out of
it) are rebuilt when their bytes changed; the others are read for their front matter and keep
their last title and anchors (what their render gave from the same source), unless a Markdown
extension or plugin could put more than the page's source in its HTML (``pages_are_their_source``):
then every page of the navigation is rebuilt. The search index is
merged page by page into the last one, in the order a whole build writes it. Anything else falls
back to a whole build. When the rendered docs are the last build's byte for byte
(``docs_record``, kept in the build state), MkDocs is not run at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from stat import S_ISLNK

from mkdocs.plugins import BasePlugin, event_priority

from generator.render import plain_markdown, search_entries, shared_partials
from generator.render.figure_cache import cache_folder, template_bytecode
from generator.render.parallel_pages import ParallelPagesPlugin, only_known_plugins, usable
from generator.render.raw_html import OwnHtmlBlocksPlugin
from generator.render.theme_files import theme_files_pruned
from generator.store.atomic import DIR_MODE, atomic_write_text, link_or_copy, remove_stale, swap_in
from generator.store.plain_data import shown
from generator.store.run_directory import list_runs_reporting

STATE_VERSION = 2  # 2: the navigation's front matter is recorded with its titles
SEARCH_INDEX = Path("search") / "search_index.json"


class _NavigationChanged(Exception):
    """A navigation title differs from the last build's: unchanged pages would show the old one."""


def _page_of(entry: dict) -> str:
    return entry["location"].split("#", 1)[0]


def merge_search_index(previous: str, partial: str) -> str:
    """The last whole index with the entries of every rebuilt page replaced, in the same place.

    Serialised as mkdocs-material's search plugin writes it, so the result equals the index a
    whole build would write.
    """
    old, new = json.loads(previous), json.loads(partial)
    fresh: dict[str, list[dict]] = {}
    for entry in new["docs"]:
        fresh.setdefault(_page_of(entry), []).append(entry)
    merged, placed = [], set()
    for entry in old["docs"]:
        page = _page_of(entry)
        if page not in fresh:
            merged.append(entry)
        elif page not in placed:
            merged += fresh[page]
            placed.add(page)
    merged += [entry for page, entries in fresh.items() if page not in placed for entry in entries]
    return json.dumps({"config": new["config"], "docs": merged}, separators=(",", ":"), default=str)


class IncrementalBuildPlugin(BasePlugin):
    """Added to the loaded config for every build: records what the navigation shows of each page in it (its
    title and front matter); on a rebuild, keeps the site exact.

    A rebuild builds only the changed pages. An unchanged page in the navigation is not built
    either (its HTML is the last site's): it is read for its front matter and given its last title,
    and if any page's title or front matter differs from the last build's, every page's navigation
    would differ, so the build is made whole (``_NavigationChanged``).
    """

    def __init__(self, incremental: bool, titles: list | None, previous_index: str | None,
                 unchanged: set[str] = frozenset(), anchors: object = None) -> None:
        super().__init__()
        self.incremental = incremental
        self.previous_titles = titles
        self.previous_index = previous_index
        self.unchanged = unchanged  # docs files whose bytes are the last build's (``unchanged_files``)
        self.previous_anchors = anchors if isinstance(anchors, dict) else {}
        self.titles: list = []
        self.anchors: dict[str, list[str]] = {}  # each navigation page's anchors: links to them are checked
        self._nav_pages: list = []

    def on_nav(self, nav, *, config, files):
        self._nav_pages = list(nav.pages)
        if self.incremental:
            known = {entry[0]: entry[1] for entry in self.previous_titles or () if isinstance(entry, list) and entry}
            for page in self._nav_pages:
                uri = page.file.src_uri
                if uri not in self.unchanged:  # by its bytes, not its time (a file restored with an old time)
                    page.file.is_modified = _modified  # MkDocs reads and builds it
                elif not page.file.is_modified():
                    if uri not in known:
                        raise _NavigationChanged()
                    page.read_source(config)  # its front matter: the navigation shows some of it (icon, subtitle)
                    page.title = known[uri]  # what its render gave last time, from the same source
                    anchors = self.previous_anchors.get(uri)
                    if isinstance(anchors, list):  # links to them are checked as if it were built again
                        page.present_anchor_ids = {str(anchor) for anchor in anchors}
        return nav

    def on_env(self, env, *, config, files):
        # every page is read by now and none is written yet
        self.titles = [[page.file.src_uri, page.title, json.dumps(page.meta, sort_keys=True, default=str)]
                       for page in self._nav_pages]
        self.anchors = {page.file.src_uri: sorted(page.present_anchor_ids) for page in self._nav_pages
                        if page.present_anchor_ids is not None}
        if self.incremental and self.titles != self.previous_titles:
            raise _NavigationChanged()
        return env

    @event_priority(-50)  # after the search plugin wrote its index, before the offline plugin inlines it
    def on_post_build(self, *, config):
        if not self.incremental:
            return
        path = Path(config.site_dir) / SEARCH_INDEX
        if path.is_file() and self.previous_index is not None:
            atomic_write_text(path, merge_search_index(self.previous_index, path.read_text(encoding="utf-8")))


def _modified() -> bool:
    return True


PURE_MARKDOWN = frozenset({  # extensions whose output is a function of the page's text and their settings alone
    "toc", "tables", "fenced_code", "attr_list", "md_in_html", "admonition", "footnotes", "def_list", "abbr",
    "sane_lists", "smarty", "meta", "nl2br", "codehilite", "legacy_attrs", "legacy_em", "wikilinks", "extra",
    "pymdownx.details", "pymdownx.superfences", "pymdownx.highlight", "pymdownx.inlinehilite", "pymdownx.tabbed",
    "pymdownx.arithmatex", "pymdownx.tasklist", "pymdownx.emoji", "pymdownx.mark", "pymdownx.caret",
    "pymdownx.tilde", "pymdownx.keys", "pymdownx.critic", "pymdownx.betterem", "pymdownx.smartsymbols",
    "pymdownx.magiclink", "pymdownx.saneheaders", "pymdownx.escapeall", "pymdownx.progressbar",
    "pymdownx.blocks.admonition", "pymdownx.blocks.details", "pymdownx.blocks.tab", "material.extensions.emoji",
})


def pages_are_their_source(config) -> bool:
    """Whether a page's HTML depends on nothing but its own source (and the site's settings): only then may an
    unchanged page in the navigation keep the last build's HTML. A Markdown extension that includes other files
    (``pymdownx.snippets``) or a plugin we do not know could put something else in it; checked before our own
    plugins are added."""
    names = [name.removeprefix("markdown.extensions.") if isinstance(name, str) else None
             for name in config.markdown_extensions]
    return only_known_plugins(config) and all(name in PURE_MARKDOWN for name in names)


class CompiledTemplatesPlugin(BasePlugin):
    """The theme's templates compiled once and kept in the build's cache (``figure_cache.template_bytecode``):
    MkDocs makes a new Jinja environment for every build, which compiles each template again (~0.2 s)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    @event_priority(-100)  # after any plugin that replaced the environment
    def on_env(self, env, *, config, files):
        if env.bytecode_cache is None:
            env.bytecode_cache = template_bytecode(self.folder)
        return env


class SpillPagesPlugin(BasePlugin):
    """Keeps pages outside the navigation on disk between MkDocs reading them and writing them.

    MkDocs reads every page before it writes any, so a whole build holds every page's HTML at
    once (about 0.3 MB per example page: 1.5 GB at 5,000). Pages in the navigation stay in
    memory (their titles and tables of contents draw the others); the rest wait in a scratch
    folder and come back just before their own page is written.
    """

    def __init__(self, scratch: Path) -> None:
        super().__init__()
        self.scratch = Path(scratch)
        self._spilled: dict[str, Path] = {}

    @event_priority(-100)  # after every other plugin changed the content
    def on_page_content(self, html, *, page, config, files):
        if page.file.inclusion.is_in_nav():
            return html
        path = self.scratch / f"{os.getpid()}-{len(self._spilled)}.html"  # workers share the folder
        path.write_text(html, encoding="utf-8")
        self._spilled[page.file.src_uri] = path
        page.markdown = ""  # not None: MkDocs reads that as "no title yet"
        return ""

    @event_priority(100)  # before the search plugin indexes the content
    def on_page_context(self, context, *, page, config, nav):
        path = self._spilled.pop(page.file.src_uri, None)
        if path is not None:
            page.content = path.read_text(encoding="utf-8")
            path.unlink()
        return context

    def on_post_page(self, output, *, page, config):
        if not page.file.inclusion.is_in_nav():
            page.content = None  # written: nothing later reads it
        return output


class _QuietDirtyWarning(logging.Filter):
    """MkDocs warns that a dirty build may be inaccurate; ours is checked to equal a whole build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'dirty' build is being performed" not in record.getMessage()


def _state_path(docs_dir: Path) -> Path:
    return docs_dir.parent / f".{docs_dir.name}.site.json"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _tree_digest(folder: Path | None) -> str:
    """Every file's relative path, size and time (a theme override folder)."""
    digest = hashlib.sha256()
    if folder is None or not Path(folder).is_dir():
        return digest.hexdigest()
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(top) / name
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            stat = path.stat()
            digest.update(f"{stat.st_size}|{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _site_key(config, config_file: Path, overrides: dict, docs: dict[str, list]) -> dict:
    """What must be equal for a rebuild to touch only the changed pages (``docs``: the docs' record, whose
    file names count)."""
    settings = hashlib.sha256(Path(config_file).read_bytes())
    settings.update(json.dumps(overrides, sort_keys=True).encode())
    settings.update("|".join(_version(package) for package in SITE_PACKAGES).encode())
    for module in MKDOCS_SIDE_CODE:  # our plugins shape the HTML too
        settings.update((Path(__file__).parent / module).read_bytes())
    custom_dir = config.theme.custom_dir
    settings.update(_tree_digest(Path(custom_dir) if custom_dir else None).encode())
    return {"version": STATE_VERSION, "settings": settings.hexdigest(), "site_dir": str(config.site_dir),
            "files": hashlib.sha256("\0".join(sorted(docs)).encode()).hexdigest()}


MKDOCS_SIDE_CODE = ("mkdocs_build.py", "parallel_pages.py", "raw_html.py", "plain_markdown.py", "search_entries.py",
                    "shared_partials.py", "figure_cache.py")
SITE_PACKAGES = ("mkdocs", "mkdocs-material", "markdown", "pymdown-extensions", "jinja2")  # what turns docs into HTML


def docs_record(docs_dir: Path, previous: object = None) -> dict[str, list]:
    """Every file of the docs by relative path: ``[size, mtime_ns, inode, sha256 or None]``.

    Our files are replaced whole (a new inode) and a build links the last build's unchanged ones
    (the same inode), so a file whose size, time and inode equal ``previous``'s record is the same
    file and keeps its hash unread. Another file is hashed, except a run's page files in a build
    with no record to compare with (thousands of them, the same inodes in the next build when
    unchanged): their hash stays unknown, which never compares equal.
    """
    known = previous if isinstance(previous, dict) else {}
    record: dict[str, list] = {}
    for top, dirs, names in os.walk(docs_dir):  # links are neither followed nor hashed through
        for name in names:
            path = os.path.join(top, name)
            stat = os.lstat(path)
            relative = os.path.relpath(path, docs_dir)
            old = known.get(relative)
            identity = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
            if isinstance(old, list) and len(old) == 4 and old[:3] == identity:
                digest = old[3]
            elif os.path.islink(path):
                digest = "link:" + os.readlink(path)
            elif not known and relative.startswith("runs" + os.sep):
                digest = None
            else:
                digest = _file_sha256(path)
            record[relative] = [*identity, digest]
    return record


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()  # hashlib.file_digest is Python 3.11+; we support 3.10
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def same_docs(record: dict[str, list], previous: object) -> bool:
    """Whether two records name the same files with the same bytes (the same file, or equal known hashes)."""
    if not isinstance(previous, dict) or previous.keys() != record.keys():
        return False
    return all(same_file(record[name], old) for name, old in previous.items())


def same_file(new: list, old: object) -> bool:
    """Whether two records of a file are the same bytes: the same file, or equal known hashes."""
    return isinstance(old, list) and len(old) == 4 and (old[:3] == new[:3] or (old[3] is not None
                                                                               and old[3] == new[3]))


def unchanged_files(record: dict[str, list], previous: object) -> set[str]:
    """The docs files (as MkDocs names them, with '/') whose bytes are the last build's."""
    known = previous if isinstance(previous, dict) else {}
    return {name.replace(os.sep, "/") for name, new in record.items() if same_file(new, known.get(name))}


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


SITE_MARKER = ".atlas-site"  # in every site folder we build: only such a folder is ever emptied or replaced


class SiteError(RuntimeError):
    """The site cannot be built where asked (a folder of someone else's, a broken mkdocs.yml); nothing was changed."""


def check_site_dir(site_dir: Path) -> None:
    """Only an absent or empty folder, or a site of ours, may become the site: MkDocs empties its site_dir."""
    site_dir = Path(site_dir)
    if not site_dir.exists():
        return
    if not site_dir.is_dir() or site_dir.is_symlink():
        raise SiteError(f"{site_dir}: not a folder; choose a new or empty folder for the site (nothing was changed)")
    ours = (site_dir / SITE_MARKER).is_file() or (site_dir / "atlas-index.json").is_file()  # the latter: older builds
    if not ours and any(site_dir.iterdir()):
        raise SiteError(f"{site_dir}: holds files Attention Atlas did not write (no {SITE_MARKER} marker), and "
                        "building there would delete them; choose a new or empty folder for the site "
                        "(nothing was changed)")


def load_mkdocs_config(config_file: Path, overrides: dict):
    """MkDocs' config, with every way it can be broken as one SiteError naming the file."""
    import yaml
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    errors: list[str] = []
    handler = _Collect(errors)
    logging.getLogger("mkdocs").addHandler(handler)
    try:
        return load_config(str(config_file), **overrides)
    except (MkDocsException, yaml.YAMLError, OSError, ValueError) as exc:
        reason = " ".join(("; ".join(errors) or str(exc)).split())  # MkDocs logs each problem, raises a generic Abort
        raise SiteError(f"{config_file}: not a usable MkDocs config ({shown(reason, 300)[1:-1]})") from exc
    finally:
        logging.getLogger("mkdocs").removeHandler(handler)


class _Collect(logging.Handler):
    """Keeps the text of MkDocs' error records, for one message naming what is wrong."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(" ".join(record.getMessage().split()))


def run_mkdocs(config_file: Path, overrides: dict, runs_dir: Path, full: bool = False,
               jobs: int = 1, config=None) -> tuple[Path, str]:
    """Build the site with MkDocs; returns its folder and how: ``whole``, ``incremental``, or ``unchanged`` (the
    rendered docs are the last build's, byte for byte: MkDocs is not run and the site is left as it is).

    ``full`` forces a whole build; ``jobs`` processes build the pages outside the navigation
    where that gives the same site (``parallel_pages.py``). MkDocs writes into a temporary
    folder beside the site (a copy of the last site, for an incremental build), which replaces
    the site only when the build has finished: a build that fails or is killed leaves the last
    site as it was. The state that allows the next incremental build is written only after a
    build succeeds, and removed before one starts. ``config``: the MkDocs config loaded from
    ``config_file`` with ``overrides``, when the caller has just loaded it (and not built with it).
    """
    from mkdocs.commands.build import build
    from mkdocs.exceptions import Abort

    config = config if config is not None else load_mkdocs_config(config_file, overrides)
    docs_dir = Path(config.docs_dir)
    site_dir = Path(config.site_dir)
    check_site_dir(site_dir)
    for left in (f".{site_dir.name}.*.building", f".{site_dir.name}.*.old"):  # what a killed build left
        remove_stale(site_dir.parent, left)
    state_path = _state_path(docs_dir)
    state = _read_state(state_path)
    docs = docs_record(docs_dir, state.get("docs"))
    key = _site_key(config, config_file, overrides, docs)
    index_file = site_dir / SEARCH_INDEX
    incremental = not full and state.get("key") == key and _last_site_whole(site_dir)
    if incremental and _nothing_new(config, docs, state):
        atomic_write_text(state_path, json.dumps({**state, "docs": docs}) + "\n")  # the new inodes, same bytes
        return site_dir, "unchanged"
    previous_index = index_file.read_text(encoding="utf-8") if incremental else None
    state_path.unlink(missing_ok=True)
    quiet = _QuietDirtyWarning()
    logging.getLogger("mkdocs.commands.build").addFilter(quiet)
    made: list[Path] = []  # the staging folders this build created: the only ones it removes
    staging = _new_staging(site_dir, made)
    try:
        if incremental:  # a dirty build writes only the changed pages over the last site
            shutil.copytree(site_dir, staging, dirs_exist_ok=True, symlinks=True,
                            copy_function=_LinkUnchangedExamples(config, site_dir))
        workers = jobs if usable(config, jobs) else 0
        with _build_date(runs_dir), theme_files_pruned(), tempfile.TemporaryDirectory(prefix="atlas-pages-") as scratch:
            try:
                plugin = _add_plugins(config, Path(scratch), incremental, state.get("titles"), previous_index, workers,
                                      unchanged_files(docs, state.get("docs")), state.get("anchors"))
                config["site_dir"] = str(staging)
                build(config, dirty=incremental or workers > 0)  # into a fresh folder, dirty equals clean
            except _NavigationChanged:
                incremental = False
                staging = _new_staging(site_dir, made)  # a whole build starts from an empty folder
                config = load_mkdocs_config(config_file, overrides)
                plugin = _add_plugins(config, Path(scratch), False, None, None, workers)
                config["site_dir"] = str(staging)
                build(config, dirty=workers > 0)
        atomic_write_text(staging / SITE_MARKER, "Built by Attention Atlas; `atlas build` replaces this folder.\n")
        swap_in(staging, site_dir)
        made.remove(staging)
    except Abort as exc:  # a SystemExit to MkDocs' command line; to us, a build that did not finish
        raise SiteError(f"{config_file}: MkDocs stopped the build ({shown(exc.format_message(), 200)[1:-1]}; "
                        "the messages above say why); the last site was left as it was") from None
    finally:
        logging.getLogger("mkdocs.commands.build").removeFilter(quiet)
        for left in made:  # a failed build's folder, or the copy a whole build replaced
            shutil.rmtree(left, ignore_errors=True)
    atomic_write_text(state_path, json.dumps({"key": key, "titles": plugin.titles, "anchors": plugin.anchors,
                                              "docs": docs}) + "\n")
    return site_dir, "incremental" if incremental else "whole"


def _last_site_whole(site_dir: Path) -> bool:
    """Whether the last site is there to rebuild from: its front page, its search index and our marker."""
    return all((site_dir / name).is_file() for name in (SEARCH_INDEX, "index.html", SITE_MARKER))


def _nothing_new(config, docs: dict[str, list], state: dict) -> bool:
    """Whether MkDocs would write the last site again: the docs have its bytes, and every page's HTML depends
    on its own bytes alone (with an extension that includes other files, it might not)."""
    return same_docs(docs, state.get("docs")) and pages_are_their_source(config)


def _new_staging(site_dir: Path, made: list[Path]) -> Path:
    """A new, empty folder beside the site (named as ``remove_stale`` finds it), recorded in ``made``."""
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}.", suffix=".building", dir=site_dir.parent))
    made.append(staging)
    os.chmod(staging, DIR_MODE)
    return staging


class _LinkUnchangedExamples:
    """Copies the last site into the staging folder, hard-linking the files of example pages MkDocs will not write.

    A dirty build writes a page whose source is newer than its output (MkDocs opens that output and writes
    into it, which through a link would change the last site too): those are copied. Links are used only
    when every plugin is one we know writes no page in place, and only for files under
    ``runs/*/*/examples/`` whose source in the docs is not newer (a copy keeps the time, and so does a link).
    """

    def __init__(self, config, site_dir: Path) -> None:
        self.site_prefix = os.path.join(str(site_dir), "")  # strings: this runs for every file of the site
        self.docs_dir = str(config.docs_dir)
        self.enabled = not config.use_directory_urls and only_known_plugins(config)

    def __call__(self, source: str, target: str) -> None:
        if self.enabled and self._unchanged_example_file(source):
            link_or_copy(source, target)
        else:
            shutil.copy2(source, target)

    def _unchanged_example_file(self, output: str) -> bool:
        if not output.startswith(self.site_prefix):
            return False
        relative = output[len(self.site_prefix):]
        parts = relative.split(os.sep)
        if len(parts) < 5 or parts[0] != "runs" or parts[3] != "examples":
            return False
        stem, suffix = os.path.splitext(relative)
        source = os.path.join(self.docs_dir, stem + ".md" if suffix == ".html" else relative)
        try:
            source_stat = os.lstat(source)
            return (not S_ISLNK(source_stat.st_mode)
                    and source_stat.st_mtime_ns <= os.lstat(output).st_mtime_ns)
        except OSError:
            return False


class LinkedMediaPlugin(BasePlugin):
    """The docs' own media (figures, page data, per-head scripts: thousands of files on a large site)
    hard-linked into the site instead of copied; a file already at the target is removed first, so
    nothing is ever written through a link. Every file we write is replaced whole, never changed in
    place, so a link is as good as a copy. Used only with the plugins we know (none writes media)."""

    @event_priority(-200)
    def on_files(self, files, *, config):
        docs = os.path.join(os.path.abspath(config.docs_dir), "")
        for file in files:
            if (not file.is_documentation_page() and file.abs_src_path
                    and os.path.abspath(file.abs_src_path).startswith(docs)):
                file.copy_file = functools.partial(_link_media, file)
        return files


def _link_media(file, dirty: bool = False) -> None:
    if dirty and not file.is_modified():
        return
    target = file.abs_dest_path
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target):
        os.unlink(target)  # never written through: it may be linked to the last site
    link_or_copy(file.abs_src_path, target)


def _add_plugins(config, scratch: Path, incremental: bool, titles: list | None, previous_index: str | None,
                 workers: int, unchanged: set[str] = frozenset(), anchors: object = None) -> IncrementalBuildPlugin:
    link_media = only_known_plugins(config)  # before ours are added
    plain_pages = plain_markdown.usable(config)
    fast_search = search_entries.usable(config)
    partials_once = shared_partials.usable(config)
    if not pages_are_their_source(config):
        unchanged = frozenset()  # every page of the navigation is built again
    plugin = IncrementalBuildPlugin(incremental, titles, previous_index, unchanged, anchors)
    config.plugins["atlas-compiled-templates"] = CompiledTemplatesPlugin(cache_folder(Path(config.docs_dir)))
    if workers:  # the pages outside the navigation are built one at a time in workers: nothing to spill
        config.plugins["atlas-parallel-pages"] = ParallelPagesPlugin(workers)
    else:
        config.plugins["atlas-spill-pages"] = SpillPagesPlugin(scratch)
    config.plugins["atlas-incremental"] = plugin
    config.plugins["atlas-own-html"] = OwnHtmlBlocksPlugin()
    if plain_pages:
        config.plugins["atlas-plain-markdown"] = plain_markdown.PlainMarkdownPlugin()
    if fast_search:
        config.plugins["atlas-search-entries"] = search_entries.SearchEntriesPlugin()
    if partials_once:
        config.plugins["atlas-shared-partials"] = shared_partials.SharedPartialsPlugin()
    if link_media:
        config.plugins["atlas-linked-media"] = LinkedMediaPlugin()
    return plugin


@contextlib.contextmanager
def _build_date(runs_dir: Path):
    """MkDocs stamps the sitemap with the build date; make it the newest run's, so a rebuild is byte-identical.

    A SOURCE_DATE_EPOCH the user set wins (the reproducible-builds convention MkDocs follows).
    """
    if "SOURCE_DATE_EPOCH" in os.environ:
        yield
        return
    runs, _ = list_runs_reporting(runs_dir)
    created = [_aware(dt.datetime.fromisoformat(run.manifest.created)) for run in runs]
    os.environ["SOURCE_DATE_EPOCH"] = str(int(max(created).timestamp()) if created else 0)
    try:
        yield
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]


def _aware(moment: dt.datetime) -> dt.datetime:
    """A time without a zone is read as UTC (runs we write always carry one)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
