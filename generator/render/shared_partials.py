"""Theme partials drawn once per folder for the pages outside the navigation, not once per page.

mkdocs-material draws the whole site navigation, the search form and the palette toggle into
every page: about half of the ~1.5 ms its templates take for an example page. For a page that
is not in the navigation, those partials depend on the page only through the folder its URL is
in (links are made relative to it): every example page of a dataset gets the same HTML. So
``SHARED_PARTIALS`` are drawn once per folder and reused for the other pages outside the
navigation in it; a navigation page (whose item is marked active) is always drawn.

Only with material's own templates (no ``custom_dir`` overriding them) and plugins we know;
each process draws its first ``CHECKED`` reuses again and compares, and draws every partial
for the rest of the build if any differs; tests compare whole sites built with and without.
"""

from __future__ import annotations

import logging
import posixpath
from typing import Callable, Iterator

from jinja2 import TemplateNotFound
from mkdocs.plugins import BasePlugin, event_priority

from generator.render.parallel_pages import only_known_plugins

SHARED_PARTIALS = ("partials/nav.html", "partials/search.html", "partials/palette.html")
CHECKED = 2  # reuses each process draws again and compares before it trusts the others


def usable(config) -> bool:
    """Whether the partials are material's own and no plugin we do not know could change what they draw."""
    return config.theme.name == "material" and not config.theme.custom_dir and only_known_plugins(config)


class SharedPartialsPlugin(BasePlugin):
    """Wraps ``SHARED_PARTIALS`` in the build's template environment with a per-folder memory."""

    def __init__(self) -> None:
        super().__init__()
        self.navigation: set[str] = set()  # the pages in the navigation (by source path): always drawn
        self.drawn: dict[tuple[str, str], str] = {}  # (partial, folder) -> its HTML
        self.checked = 0
        self.trusted = True
        self.reused = 0

    @event_priority(-100)
    def on_nav(self, nav, *, config, files):
        self.navigation = {page.file.src_uri for page in nav.pages}
        return nav

    @event_priority(-100)
    def on_env(self, env, *, config, files):
        for name in SHARED_PARTIALS:
            try:
                template = env.get_template(name)
            except TemplateNotFound:
                continue
            template.root_render_func = self._wrapped(name, template.root_render_func)
        return env

    def _wrapped(self, name: str, draw: Callable) -> Callable[..., Iterator[str]]:
        def drawn_once_per_folder(context) -> Iterator[str]:
            page = context.get("page")
            if not self.trusted or page is None or page.file.src_uri in self.navigation:
                yield from draw(context)
                return
            key = (name, posixpath.dirname(page.url))
            kept = self.drawn.get(key)
            if kept is None or self.checked < CHECKED:
                html = "".join(draw(context))
                if kept is not None:
                    self._check(kept, html, page)
                self.drawn.setdefault(key, html)
                yield html
                return
            self.reused += 1
            yield kept

        return drawn_once_per_folder

    def _check(self, kept: str, html: str, page) -> None:
        self.checked += 1
        if kept == html:
            self.reused += 1
            return
        self.trusted = False
        logging.getLogger(__name__).info("Theme partials are drawn for every page for the rest of this build: "
                                         "a shared partial drawn for %s differed (please report it)",
                                         page.file.src_uri)
