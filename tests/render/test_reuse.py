"""What a reused page's fingerprint covers: every file of the package's code that can change a page."""

from generator.render.reuse import PACKAGE, render_code_files
from tests.test_import_graph import graph, modules


def test_the_code_fingerprint_covers_everything_the_renderer_imports():
    """A change to how run files are read, to a result type or to an interval formula renders every page again,
    as a change under render/ does: the fingerprint reads each module render/ imports, at any depth."""
    edges, paths = graph(), modules()
    reached, todo = set(), [name for name in paths if name.startswith("generator.render")]
    while todo:
        name = todo.pop()
        if name in reached or name not in paths:
            continue
        reached.add(name)
        todo += edges.get(name, ())
    covered = {path.resolve() for path in render_code_files()}
    missing = sorted(name for name in reached if paths[name].resolve() not in covered and name != "generator")
    assert missing == []
    assert {PACKAGE / "intervals.py", PACKAGE / "store" / "run_directory.py"} <= covered


def test_the_code_fingerprint_names_files_by_where_they_sit_not_by_absolute_path(tmp_path):
    """A project moved or cloned elsewhere keeps its pages: its own templates and the package's code are named
    relative to their folders; their bytes and names still count."""
    from generator.render.reuse import code_fingerprint, code_name
    from generator.render.units import RenderOptions

    def project(where: str, name: str = "example.md.j2", text: str = "# {{ example.id }}\n") -> str:
        folder = tmp_path / where / "templates"
        folder.mkdir(parents=True)
        (folder / name).write_text(text)
        return str(folder)

    here, moved = project("here"), project("elsewhere/moved")
    assert code_fingerprint(RenderOptions(templates=(here,))) == code_fingerprint(RenderOptions(templates=(moved,)))
    assert code_fingerprint(RenderOptions(templates=(here,))) != code_fingerprint(
        RenderOptions(templates=(project("changed", text="# {{ example.id }}!\n"),)))
    assert code_fingerprint(RenderOptions(templates=(here,))) != code_fingerprint(
        RenderOptions(templates=(project("renamed", name="dataset.md.j2"),)))
    assert code_name(PACKAGE / "store" / "run_directory.py", [tmp_path, PACKAGE]) == "1:store/run_directory.py"
    assert code_name(tmp_path / "plugin.py", [PACKAGE]) == (tmp_path / "plugin.py").as_posix()  # outside: as it is
