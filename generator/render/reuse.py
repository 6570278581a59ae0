"""Incremental builds: a page whose inputs did not change since the last build is copied, not rendered.

Each unit's fingerprint covers the run files its page kind reads (by path, size and
modification time) and everything else that shapes a page (templates, the renderer's code and
assets, the code it runs outside ``render/``: reading run files, the result types, the
intervals pages print; bokeh's version, the build's options). The last build's fingerprints and the files
each unit wrote are kept in ``RENDER_STATE`` inside the docs folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

from generator.render import plot_data
from generator.render.jinja import template_folders
from generator.render.pages import PAGE_KINDS
from generator.render.units import PageUnit, RenderedUnit, RenderOptions
from generator.results import declarations
from generator.store.atomic import link_or_copy
from generator.store.run_directory import Run

PACKAGE = Path(__file__).resolve().parents[1]
# what the renderer runs outside render/ (tests/render/test_reuse.py checks this against its imports)
RENDER_DEPENDENCIES = ("store", "results", "intervals.py", "registry.py", "shipped.py")
RENDER_STATE = ".atlas-render.json"  # per unit: the fingerprint of its inputs and the files it wrote
SPECS_STATE = "plot specifications"  # the entry of the state for the plots' shared specs (not a unit key)


def unit_key(unit: PageUnit) -> str:
    return "|".join((unit.kind, Path(unit.run_root).name, unit.dataset or "", unit.example_id or ""))


def code_fingerprint(options: RenderOptions) -> str:
    """Everything besides run files that shapes a page: templates, the renderer's code and assets, options."""
    import bokeh

    digest = hashlib.sha256(f"{bokeh.__version__}|{options.example_figures}|{plot_data.INLINE_BYTES}|"
                            f"{options.site}".encode())
    folders = [*template_folders(options.templates), PACKAGE]
    for path in render_code_files(options.templates) + _section_modules():
        digest.update(code_name(path, folders).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_name(path: Path, folders: list[Path]) -> str:
    """A code file's name in the fingerprint: relative to the first of ``folders`` that holds it (with that
    folder's place), so that a project moved or cloned elsewhere keeps its pages; absolute otherwise."""
    for place, folder in enumerate(folders):
        if path.is_relative_to(folder):
            return f"{place}:{path.relative_to(folder).as_posix()}"
    return path.as_posix()


def render_code_files(templates: tuple[str, ...] = ()) -> list[Path]:
    """The templates, and the package's code and assets that make pages (``render/`` and what it imports)."""
    folders = [*template_folders(templates), Path(__file__).parent]
    files = [path for folder in folders for path in sorted(Path(folder).rglob("*"))
             if path.is_file() and path.suffix in (".j2", ".py", ".js", ".css")]
    for name in RENDER_DEPENDENCIES:
        found = PACKAGE / name
        files += sorted(found.rglob("*.py")) if found.is_dir() else [found]
    return files


def _section_modules() -> list[Path]:
    """The source files of every declared section (a plugin's live outside this folder)."""
    names = {path.partition(":")[0] for d in declarations() for path in (d.dataset_section, d.example_section) if path}
    found = [importlib.util.find_spec(name) for name in sorted(names)]
    return [Path(spec.origin) for spec in found if spec is not None and spec.origin and Path(spec.origin).is_file()]


def unit_fingerprint(unit: PageUnit, run: Run, code: str, seen: dict[str, bytes] | None = None) -> str:
    """The unit's inputs by path, size and modification time (run files are only ever replaced whole). ``seen``:
    what the files already looked at in this pass over a build's units gave (a file is the input of many units:
    a dataset's summaries, of each of its examples)."""
    digest = hashlib.sha256(f"{code}|{unit_key(unit)}".encode())
    root = os.path.join(str(run.root), "")
    for path in map(str, PAGE_KINDS.get(unit.kind).inputs(run, unit.dataset, unit.example_id)):
        if not path.startswith(root):
            raise ValueError(f"{path}: not a file of the run {run.root}")  # inputs come from its layout
        line = seen.get(path) if seen is not None else None
        if line is None:
            stat = os.lstat(path)  # strings: a thousand units' Path objects cost more than their stats
            line = f"{path[len(root):].replace(os.sep, '/')}|{stat.st_size}|{stat.st_mtime_ns}".encode()
            if seen is not None:
                seen[path] = line
        digest.update(line)
    return digest.hexdigest()


def previous_state(docs_dir: Path) -> dict:
    state = read_own_json(Path(docs_dir) / RENDER_STATE)
    return state if isinstance(state, dict) else {}


def read_own_json(path: Path):
    """A state file a build of ours wrote, or None when it is missing or unreadable (the work is done again)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def reuse_unit(previous: dict | None, fingerprint: str, old_docs: Path, new_docs: Path) -> RenderedUnit | None:
    """The unit's files copied from the last build when its inputs are unchanged; None to render it."""
    return RenderedUnit.from_json(previous) if reuse_files(previous, fingerprint, old_docs, new_docs) else None


def reuse_files(previous: dict | None, fingerprint: str, old_docs: Path, new_docs: Path) -> bool:
    """Whether the files a state entry lists were copied from the last build (its fingerprint is unchanged and
    every file is there); the caller writes them otherwise."""
    if not isinstance(previous, dict) or previous.get("fingerprint") != fingerprint:
        return False
    old, new = os.fspath(old_docs), os.fspath(new_docs)  # strings: a thousand units' Path objects cost more
    sources = [os.path.join(old, name) for name in previous["files"]]  # than linking their files
    if not all(os.path.isfile(source) for source in sources):
        return False
    for name, source in zip(previous["files"], sources):
        target = os.path.join(new, name)
        try:  # the old docs are removed after the build
            link_or_copy(source, target)
        except FileNotFoundError:  # its folder is made only when missing (a thousand units share one)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            link_or_copy(source, target)
    return True
