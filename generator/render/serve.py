"""`atlas serve`: the site built as `atlas build` builds it, served with live reload.

`mkdocs serve` builds every page again, in one process, on each change (7 s for a run of 1,000
examples on a 2-core machine). Here the site is built by ``build_site`` (only the pages whose
inputs changed, in worker processes) into folders of its own, ``build/serve/docs`` and
``build/serve/site``, and served by MkDocs' live-reload server, which calls that build when a
watched path changes and then reloads the open browsers. Watched: mkdocs.yml, the project's own
docs and template folders, and a trigger file that the runs watcher rewrites when a run finishes
(a run writes its manifest last). The runs folder itself is not watched: the server's watcher
polls every file under a path, and a run holds thousands. The server keeps what it read of run
files by their version (``store/read_cache.py``): after one example changed, a rebuild reads
that example again, not the thousand others its dataset page sums up.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from generator.render.site import build_site, project_templates
from generator.render.watch import RunsWatcher
from generator.store import read_cache
from generator.store.atomic import atomic_write_text

SERVE_FOLDER = Path("build") / "serve"  # beside mkdocs.yml; `atlas build` uses build/docs and site/


@dataclass
class ServedSite:
    """The folders `atlas serve` builds into, and one build of them."""

    runs_dir: Path
    config_file: Path
    jobs: int | None = None

    @property
    def folder(self) -> Path:
        return self.config_file.parent / SERVE_FOLDER

    @property
    def docs_dir(self) -> Path:
        return self.folder / "docs"

    @property
    def site_dir(self) -> Path:
        return self.folder / "site"

    @property
    def trigger_dir(self) -> Path:
        return self.folder / "runs-changed"

    def build(self) -> str:
        """Build the site (errors propagate); what was built, in words."""
        built = build_site(self.runs_dir, self.config_file, site_dir=self.site_dir, docs_dir=self.docs_dir,
                           jobs=self.jobs)
        for problem in built.skipped:
            print(f"atlas serve: skipped a damaged run: {problem}", file=sys.stderr)
        how = "nothing new" if built.unchanged else "only changed pages built" if built.incremental else "whole site"
        return f"{built.pages} pages ({built.rendered} rendered now; {how})"

    def rebuild(self) -> None:
        """The server's builder: a failed build is said, and the last site is still served (it is left as it was)."""
        try:
            print(f"atlas serve: built {self.build()}; the browser reloads", flush=True)
        except Exception as exc:  # noqa: BLE001 - a broken run or config must not stop the server
            print(f"atlas serve: could not build the site ({type(exc).__name__}: {exc}); still serving the last one",
                  file=sys.stderr, flush=True)

    def runs_changed(self) -> None:
        """Called by the runs watcher: rewriting the trigger makes the server build again and reload."""
        self.trigger_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.trigger_dir / "changed", f"{time.time_ns()}\n")

    def watched(self) -> list[Path]:
        """What the server watches: mkdocs.yml, the project's docs and template folders, the runs trigger."""
        root = self.config_file.parent
        folders = [root / "docs", *map(Path, project_templates(self.config_file))]
        return [self.config_file, self.trigger_dir, *(folder for folder in folders if folder.is_dir())]


def parse_dev_addr(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8000`` for IPv6) as its parts; a ValueError naming what was expected."""
    host, separator, port = address.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--dev-addr: expected HOST:PORT (for example 127.0.0.1:8000), got {address!r}")
    return host.strip("[]"), int(port)


def serve(runs_dir: Path, config_file: Path, host: str, port: int, poll: float = 2.0, jobs: int | None = None) -> None:
    """Build, then serve the site at ``host:port`` until interrupted, building again when a watched path changes."""
    from mkdocs.livereload import LiveReloadServer

    site = ServedSite(Path(runs_dir), Path(config_file).resolve(), jobs)
    read_cache.enable()  # a long-lived process: each rebuild reads only the run files that changed
    print(f"atlas serve: built {site.build()}", flush=True)  # a first build that fails stops here, said by the CLI
    site.trigger_dir.mkdir(parents=True, exist_ok=True)
    server = LiveReloadServer(builder=site.rebuild, host=host, port=port, root=str(site.site_dir))
    server.error_handler = lambda code: _error_page(site.site_dir, code)
    for path in site.watched():
        server.watch(str(path))
    watcher = RunsWatcher(site.runs_dir, site.runs_changed, interval=poll)
    watcher.start()
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    print(f"Serving the site built in {site.site_dir} at http://{address}/ (Ctrl+C stops); runs that finish in "
          f"{site.runs_dir} appear without a restart (only their pages are rendered again; the browser reloads)",
          flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        server.shutdown()


def _error_page(site_dir: Path, code: int) -> bytes | None:
    """The site's own 404 page (MkDocs' theme writes one), as `mkdocs serve` shows it."""
    page = os.path.join(site_dir, f"{code}.html")
    if code in (404, 500) and os.path.isfile(page):
        with open(page, "rb") as handle:
            return handle.read()
    return None
