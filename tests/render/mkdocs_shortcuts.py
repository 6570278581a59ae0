"""Checks shared by the tests of the shortcuts to MkDocs' own output (plain_markdown, search_entries,
shared_partials): a site built with one equals the site built without it, and one made to differ is caught."""

from __future__ import annotations


def site_files(project, name, jobs):
    from generator.render.site import build_site

    built = build_site(project / "runs", project / "mkdocs.yml", site_dir=project / name / "site",
                       docs_dir=project / name / "docs", jobs=jobs, full=True)
    return {p.relative_to(built.site_dir).as_posix(): p.read_bytes() for p in built.site_dir.rglob("*") if p.is_file()}


def recording_plugins(monkeypatch, module, name: str) -> list:
    """Every instance of ``module.name`` (a plugin class) made from now on."""
    made = []

    class Recorded(getattr(module, name)):
        def __init__(self):
            super().__init__()
            made.append(self)

    monkeypatch.setattr(module, name, Recorded)
    return made


def same_site_with_and_without(monkeypatch, project, module, plugin: str, jobs: int):
    """Build the site with ``module``'s plugin and without it (its ``usable`` false): the same files, byte for
    byte. The plugin as the main process left it."""
    made = recording_plugins(monkeypatch, module, plugin)
    ours = site_files(project, "ours", jobs)
    monkeypatch.setattr(module, "usable", lambda config: False)
    theirs = site_files(project, "theirs", jobs)
    assert ours.keys() == theirs.keys() and "runs/tiny/alpha/examples/a-0.html" in ours
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert len(made) == 1 and made[0].trusted
    return made[0]


def difference_caught(monkeypatch, caplog, project, module, plugin: str, spoil: dict):
    """Build without ``module``'s plugin, then with it after ``spoil`` (names of ``module`` -> what replaces them)
    made it differ: it noticed and said so, and the site is the one built without it. The plugin as it ended."""
    monkeypatch.setattr(module, "usable", lambda config: False)
    theirs = site_files(project, "theirs", 1)
    monkeypatch.setattr(module, "usable", lambda config: True)
    for name, value in spoil.items():
        monkeypatch.setattr(module, name, value)
    made = recording_plugins(monkeypatch, module, plugin)
    with caplog.at_level("INFO"):
        ours = site_files(project, "ours", 1)
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert any("differed" in record.getMessage() for record in caplog.records)
    assert not made[0].trusted
    return made[0]
