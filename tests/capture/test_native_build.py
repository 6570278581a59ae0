import subprocess

import pytest

from generator.capture import native_build
from generator.capture.native_build import BuildError, build, load

SOURCE = "int atlas_answer(void) { return 42; }\n"


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "answer.c"
    path.write_text(SOURCE)
    return path


def test_builds_loads_and_caches(source, monkeypatch):
    assert load(source).atlas_answer() == 42
    library = build(source)
    assert library.parent == native_build.cache_dir() and library.name.startswith("answer-")

    def no_compiling(*args, **kwargs):
        raise AssertionError("the cached library should have been used")

    monkeypatch.setattr(subprocess, "run", no_compiling)
    assert build(source) == library


def test_a_changed_source_is_rebuilt(source):
    first = build(source)
    source.write_text(SOURCE.replace("42", "43"))
    assert build(source) != first
    assert load(source).atlas_answer() == 43


def test_a_failing_compiler_names_the_file_and_leaves_nothing(source, monkeypatch):
    source.write_text("this is not C\n")
    with pytest.raises(BuildError, match="could not build answer.c: .*error"):
        build(source)
    assert list(native_build.cache_dir().iterdir()) == []


def test_no_compiler_is_a_clear_error(source, monkeypatch):
    monkeypatch.setenv("CC", "")
    monkeypatch.setattr(native_build.shutil, "which", lambda name: None)
    with pytest.raises(BuildError, match="no C compiler found"):
        build(source)
