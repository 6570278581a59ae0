"""The pages outside the navigation built by MkDocs' own page functions, in worker processes.

MkDocs builds one page after another in one process; a site of a thousand examples spends most
of its build converting, indexing and templating example pages, none of which depends on another
example page. So the pages kept out of the navigation (example and comparison pages) are left
out of MkDocs' own loops (their files report "not modified" to a dirty build, which MkDocs then
skips), and after the navigation pages are written they are built by MkDocs' own
``_populate_page`` and ``_build_page`` in forked workers that inherit the config, files,
navigation and theme environment; each worker hands back the search entries its pages made,
and they are put into the search index in the order MkDocs would have written them. The site
is the same, byte for byte, as MkDocs building every page itself (a test compares both).

What MkDocs would have said stays the same too: each worker keeps the messages of MkDocs'
loggers instead of printing them, and hands them back with each page's anchors and the anchor
links it holds; the main process says them, in page order, then checks those links against
every page built (a worker's page may link to another worker's), so a strict build counts them
and stops as MkDocs would.

Used only where that is sure: the platform can fork, more than one job is asked for, and every
plugin is one known to keep no state across pages but the search index (others could miss the
pages a worker built).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
from dataclasses import dataclass
from typing import Any

from mkdocs.plugins import BasePlugin, event_priority
from tqdm import tqdm

from generator.render.workers import process_pool

KNOWN_PLUGINS = {"search", "material/search", "offline", "material/offline"}  # user plugins this works with
MIN_PAGES = 2  # below this, workers cost more than they save

_state: dict[str, Any] = {}  # what forked workers inherit: config, files, navigation, environment, the pages


def usable(config, jobs: int) -> bool:
    """Whether pages may be built in workers for this config and job count."""
    return (jobs > 1 and "fork" in multiprocessing.get_all_start_methods()
            and only_known_plugins(config) and mkdocs_page_functions_known())


def only_known_plugins(config) -> bool:
    """Whether mkdocs.yml names only plugins we know (none keeps state across pages but the search index,
    none writes a page or media file in place); checked before our own plugins are added."""
    return set(config.plugins.keys()) <= KNOWN_PLUGINS


PAGE_FUNCTIONS = {"_populate_page": ["page", "config", "files", "dirty"],
                  "_build_page": ["page", "config", "doc_files", "nav", "env", "dirty", "excluded"]}


def mkdocs_page_functions_known() -> bool:
    """Whether MkDocs' page functions are the ones this was written against (they are private: a MkDocs
    that changed them gets its own one-process build, not a broken one)."""
    import inspect

    from mkdocs.commands import build

    for name, parameters in PAGE_FUNCTIONS.items():
        function = getattr(build, name, None)
        if function is None or list(inspect.signature(function).parameters) != parameters:
            return False
    return True


class ParallelPagesPlugin(BasePlugin):
    """Takes the pages outside the navigation from MkDocs' loops and builds them in ``jobs`` workers.

    MkDocs must be run with ``dirty=True`` (into a fresh folder that equals a clean build); in an
    incremental build only the pages MkDocs would have rebuilt are built.
    """

    def __init__(self, jobs: int) -> None:
        super().__init__()
        self.jobs = jobs
        self.pending: list = []  # the files to build in workers, in MkDocs' order
        self.nav = None
        self.env = None
        self.files = None

    @event_priority(-200)  # after every other plugin changed the files
    def on_files(self, files, *, config):
        self.pending = []
        for file in files.documentation_pages():
            if file.inclusion.is_not_in_nav() and not file.inclusion.is_excluded():
                if file.is_modified():
                    self.pending.append(file)
                file.is_modified = _not_modified  # MkDocs' loops skip it; a worker builds it
        self.files = files
        return files

    @event_priority(-200)
    def on_nav(self, nav, *, config, files):
        self.nav = nav
        return nav

    @event_priority(-200)
    def on_env(self, env, *, config, files):
        self.env = env
        return env

    @event_priority(200)  # before the search plugin writes its index
    def on_post_build(self, *, config):
        if not self.pending:
            return
        index = search_index(config)
        _state.update(config=config, files=self.files, nav=self.nav, env=self.env, pending=self.pending,
                      index=index)
        chunks = _chunks(len(self.pending), self.jobs)
        entries: dict[str, list[dict]] = {}
        built_pages: list[BuiltPage] = []
        bar = tqdm(total=len(self.pending), desc="building pages", unit="page")
        gc.freeze()  # the workers' garbage collector leaves the inherited objects alone (no copy of every page)
        try:
            with process_pool(self.jobs, fork_only=True) as pool:  # they inherit the state above
                for built in pool.map(_build_chunk, chunks):
                    for page in built:
                        entries[page.url] = page.search_entries
                    built_pages += built
                    bar.update(len(built))
        finally:
            gc.unfreeze()
            bar.close()
            _state.clear()
        if index is not None:
            index.entries[:] = _in_site_order(index.entries, entries, self.files)
        _say_and_check(built_pages, self.files, config)


def _not_modified() -> bool:
    return False


def _chunks(count: int, jobs: int) -> list[range]:
    """Consecutive pages per task, several tasks per worker (so that a slow stretch does not hold one back)."""
    size = max(1, -(-count // (jobs * 8)))
    return [range(start, min(count, start + size)) for start in range(0, count, size)]


def search_index(config):
    """The search plugin's index (its ``entries`` are what it writes), or None without one."""
    for plugin in config.plugins.values():
        index = getattr(plugin, "search_index", None)
        if index is not None and isinstance(getattr(index, "entries", None), list):
            return index
    return None


@dataclass
class BuiltPage:
    """What a worker hands back of one page it built: all the main process needs of it."""

    src_uri: str
    url: str
    search_entries: list[dict]
    anchors: set[str] | None  # the anchors it has (None: MkDocs did not record them)
    links_to_anchors: dict[str, dict[str, str]]  # the page linked to (its src_uri) -> anchor -> the link as written
    messages: list[tuple[str, int, str]]  # what MkDocs' loggers said while it was built: (logger, level, text)


class _KeptMessages(logging.Handler):
    """Keeps what MkDocs' loggers say in a worker, for the main process to say (and a strict build to count)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.name, record.levelno, record.getMessage()))


def _build_chunk(pages: range) -> list[BuiltPage]:
    """In a worker: build these pending pages as MkDocs would; what each page's build made and said."""
    from mkdocs.commands.build import _build_page, _populate_page
    from mkdocs.structure.files import InclusionLevel

    config, files, nav, env, index = (_state[k] for k in ("config", "files", "nav", "env", "index"))
    doc_files = files.documentation_pages(inclusion=InclusionLevel.is_included)
    kept = _KeptMessages()
    logger = logging.getLogger("mkdocs")
    logger.handlers, logger.propagate = [kept], False  # a forked worker: said by the main process instead
    built = []
    for position in pages:
        page = _state["pending"][position].page
        before = len(index.entries) if index is not None else 0
        kept.messages = []
        _populate_page(page, config, files)
        _build_page(page, config, doc_files, nav, env, excluded=page.file.inclusion.is_excluded())
        links = {target.src_uri: dict(anchors) for target, anchors in (page.links_to_anchors or {}).items()}
        built.append(BuiltPage(page.file.src_uri, page.url, index.entries[before:] if index is not None else [],
                               page.present_anchor_ids, links, kept.messages))
        page.content = page.markdown = None  # written: nothing later reads them
    return built


def _say_and_check(built: list[BuiltPage], files, config) -> None:
    """In the main process: say what the workers' MkDocs said, page by page, then check the anchor links MkDocs
    would have checked: those of the pages built in workers, and the navigation's links to them (MkDocs checked
    those before the workers ran, against pages not yet built, and skipped them)."""
    for page in built:
        for name, level, text in page.messages:
            logging.getLogger(name).log(level, "%s", text)
    pages = _with_their_anchors(built, files)
    level = config.validation.links.anchors
    for mkdocs_page, page in pages.values():
        targets = {target: anchors for uri, anchors in page.links_to_anchors.items()
                   if (target := files.get_file_from_path(uri)) is not None}
        _check_links(mkdocs_page, targets, files, level)
    for file in files.documentation_pages():
        if file.page is not None and file.src_uri not in pages and file.page.links_to_anchors:
            _check_links(file.page, {target: anchors for target, anchors in file.page.links_to_anchors.items()
                                     if target.src_uri in pages}, files, level)


def _with_their_anchors(built: list[BuiltPage], files) -> dict[str, tuple[Any, BuiltPage]]:
    """The main process's page object of each page built in a worker (by its src_uri), given the anchors the
    worker found in it."""
    pages = {}
    for page in built:
        file = files.get_file_from_path(page.src_uri)
        if file is not None and file.page is not None:
            file.page.present_anchor_ids = page.anchors
            pages[page.src_uri] = (file.page, page)
    return pages


def _check_links(page, links: dict, files, level: int) -> None:
    """MkDocs' own check of ``page``'s anchor links, on ``links`` only (its record of them is put back after)."""
    if not links:
        return
    kept, page.links_to_anchors = page.links_to_anchors, links
    try:
        page.validate_anchor_links(files=files, log_level=level)
    finally:
        page.links_to_anchors = kept


def _in_site_order(main: list[dict], workers: dict[str, list[dict]], files) -> list[dict]:
    """The search entries in the order MkDocs writes them: page by page, as the files are ordered."""
    by_page: dict[str, list[dict]] = {}
    for entry in main:
        by_page.setdefault(entry["location"].split("#", 1)[0], []).append(entry)
    by_page.update(workers)
    ordered, placed = [], set()
    for file in files.documentation_pages():
        url = file.page.url if file.page is not None else file.url
        if url in by_page and url not in placed:
            ordered += by_page[url]
            placed.add(url)
    ordered += [entry for url, entries in by_page.items() if url not in placed for entry in entries]
    return ordered
