"""A build replaces only what it made, and only when it is complete; a killed one leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from generator.render import mkdocs_build
from generator.render.mkdocs_build import SITE_MARKER, SiteError
from generator.render.site import build_site
from tests.conftest import REPO_ROOT


@pytest.fixture
def project(tiny_run, tmp_path):
    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(tiny_run, tmp_path / "data/runs/tiny")
    return tmp_path


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_site_folder_of_someone_elses_is_refused_before_anything_is_written(project):
    (project / "mine/sub").mkdir(parents=True)
    (project / "mine/thesis.tex").write_text("\\documentclass{article}")
    (project / "mine/sub/data.csv").write_text("a,b\n")
    with pytest.raises(SiteError, match="holds files Attention Atlas did not write"):
        build_site(project / "data/runs", project / "mkdocs.yml", site_dir=project / "mine")
    assert sorted(files(project / "mine")) == ["sub/data.csv", "thesis.tex"]
    assert not list((project / "build/docs").iterdir()), "pages were rendered before the refusal"


def test_our_own_site_is_replaced_and_marked(project):
    built = build_site(project / "data/runs", project / "mkdocs.yml")
    assert (built.site_dir / SITE_MARKER).is_file() and (built.site_dir / "index.html").is_file()
    again = build_site(project / "data/runs", project / "mkdocs.yml", full=True)
    assert again.site_dir == built.site_dir and (again.site_dir / "runs/tiny/index.html").is_file()


@pytest.mark.parametrize("full", [True, False])
def test_a_build_that_fails_inside_mkdocs_leaves_the_last_site_whole(project, monkeypatch, full):
    build_site(project / "data/runs", project / "mkdocs.yml")
    site = project / "site"
    before = files(site)
    real_build = mkdocs_build.__dict__.get("build")
    assert real_build is None  # MkDocs' build is imported inside run_mkdocs; patch it where it lives

    def half_a_build(config, dirty=False):
        (mkdocs_build.Path(config["site_dir"]) / "index.html").write_text("half written")
        raise KeyboardInterrupt  # as a user's Ctrl+C, or a kill, would stop it

    monkeypatch.setattr("mkdocs.commands.build.build", half_a_build)
    (project / "data/runs/tiny/manifest.json").touch()  # something changed: the build has work to do
    with pytest.raises(KeyboardInterrupt):
        build_site(project / "data/runs", project / "mkdocs.yml", full=full)
    assert files(site) == before
    assert not [p.name for p in project.iterdir() if p.name.startswith(".site.")]


def test_what_a_killed_build_left_is_removed_by_the_next(project):
    (project / ".site.abc123.building").mkdir()
    (project / ".site.abc123.building/index.html").write_text("stale")
    (project / "build/.docs.xyz.tmp").mkdir(parents=True)
    build_site(project / "data/runs", project / "mkdocs.yml")
    assert not (project / ".site.abc123.building").exists() and not (project / "build/.docs.xyz.tmp").exists()


def test_render_workers_end_with_a_killed_build(project):
    script = ("import sys; from pathlib import Path; from generator.render.site import build_site; "
              "build_site(Path(sys.argv[1]) / 'data/runs', Path(sys.argv[1]) / 'mkdocs.yml', jobs=2, full=True)")
    for copy in range(3):  # enough pages that rendering is under way when it is killed
        shutil.copytree(project / "data/runs/tiny", project / f"data/runs/tiny-{copy}")
    process = subprocess.Popen([sys.executable, "-c", script, str(project)], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 60
    workers = []
    while time.monotonic() < deadline and len(workers) < 2 and process.poll() is None:
        workers = [p for p in parent.children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
        time.sleep(0.05)
    assert len(workers) >= 2, "the build ended before its workers were seen"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived the build: {alive}"
