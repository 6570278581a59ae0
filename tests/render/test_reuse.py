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
