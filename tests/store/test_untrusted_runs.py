"""Run directories from strangers: every damaged field is named and skipped, nothing is written elsewhere.

A healthy run sits beside the damaged one in every case and must always be built. The
property tests damage one field of one file at random (types, NaN, huge values, names with
separators and '..', control and bidirectional characters, truncation, links out of the
project); ``ATLAS_THOROUGH=1`` runs many more examples (docs/run-format.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.render.site import render_docs
from tests.json_damage import json_paths, replaced

THOROUGH = os.environ.get("ATLAS_THOROUGH") == "1"
SETTINGS = settings(max_examples=400 if THOROUGH else 10, deadline=None, derandomize=not THOROUGH,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PAYLOAD = "<img src=x onerror=alert(97)>"
HOSTILE_STRINGS = ["../../../../../../README", "../x", "a/b", "..", ".", "", "index", "README", PAYLOAD,
                   "x\u202ey", "a\x00b", "#?%&", "\ud800", " ", "A" * 5000, "[x](javascript:alert(1))"]
VALUES = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.integers(min_value=-3, max_value=10**30), st.none(),
                   st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                   st.lists(st.integers(min_value=-2, max_value=3), max_size=3),
                   st.dictionaries(st.sampled_from(["a", "name", "datasets"]), st.integers(), max_size=2))


def snapshot(folder: Path, skip: Path) -> dict[str, str]:
    """Every file under ``folder`` (but ``skip``) by its bytes: what a build may not change."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if skip in path.parents or path == skip or path.is_dir():
            continue
        found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "?"
    return found


@pytest.fixture
def project(tiny_run, tmp_path):
    return make_project(tiny_run, tmp_path)


def make_project(tiny_run: Path, base: Path) -> Path:
    """outer/{README.md, secret.json} and outer/project/{README.md, data/runs/{healthy, damaged}}."""
    outer = base / "outer"
    root = outer / "project"
    runs = root / "data" / "runs"
    shutil.copytree(tiny_run, runs / "healthy")
    shutil.copytree(tiny_run, runs / "damaged")
    (outer / "README.md").write_text("outside the project\n")
    (root / "README.md").write_text("the project's own README\n")
    shutil.copyfile(tiny_run / "examples/beta/b-0/trajectory.json", outer / "secret.json")
    return root


def build_and_check(root: Path) -> list[str]:
    """Render every run; the healthy one is always built, nothing outside build/ changes, no payload runs."""
    outer = root.parent
    docs = root / "build" / "docs"
    before = snapshot(outer, root / "build")
    rendered = render_docs(root / "data" / "runs", docs, None, jobs=1)
    assert snapshot(outer, root / "build") == before, "a build wrote outside build/"
    assert (docs / "runs/healthy/alpha/examples/a-0.md").is_file()
    assert (docs / "runs/healthy/beta/index.md").is_file()
    for page in docs.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert "<img src=x" not in text and "\u202e" not in text and "\x00" not in text, page
    if (root / "data/runs/damaged").is_dir() and not (docs / "runs/damaged/index.md").is_file():
        assert any("damaged" in problem for problem in rendered.skipped), rendered.skipped
    assert all("healthy" not in problem for problem in rendered.skipped), rendered.skipped
    # every damage is found by the reader, named by file and field, not by a renderer tripping over it
    assert not [problem for problem in rendered.skipped if "could not be rendered" in problem], rendered.skipped
    return rendered.skipped


JSON_FILES = ["manifest.json", "examples/alpha/a-0/trajectory.json", "examples/beta/b-0/trajectory.json",
              "datasets/alpha/attention.json"]


@SETTINGS
@given(data=st.data())
def test_one_damaged_json_field_is_named_and_skipped(tiny_run, data):
    with tempfile.TemporaryDirectory() as base:
        damage_one_field(make_project(tiny_run, Path(base)), data)


def damage_one_field(project: Path, data) -> None:
    damaged = project / "data/runs/damaged"
    name = data.draw(st.sampled_from(JSON_FILES), label="file")
    original = json.loads((damaged / name).read_text())
    path = data.draw(st.sampled_from(list(json_paths(original, max_items=4))), label="key")
    value = data.draw(VALUES, label="value")
    (damaged / name).write_text(json.dumps(replaced(original, path, value)), encoding="utf-8")
    build_and_check(project)


@SETTINGS
@given(data=st.data())
def test_truncated_or_swapped_files_are_named_and_skipped(tiny_run, data):
    with tempfile.TemporaryDirectory() as base:
        damage_one_file(make_project(tiny_run, Path(base)), data)


def damage_one_file(project: Path, data) -> None:
    damaged = project / "data/runs/damaged"
    name = data.draw(st.sampled_from(JSON_FILES + ["examples/alpha/a-1/attention.safetensors"]), label="file")
    how = data.draw(st.sampled_from(["truncate", "empty", "latin-1", "link out", "folder"]), label="damage")
    target = damaged / name
    raw = target.read_bytes()
    if how == "truncate":
        target.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")])
    elif how == "empty":
        target.write_bytes(b"")
    elif how == "latin-1":
        target.write_bytes(raw.replace(b'"', b'"\xe9', 1))
    elif how == "link out":
        target.unlink()
        target.symlink_to(project.parent / "secret.json")
    else:
        target.unlink()
        target.mkdir()
    skipped = build_and_check(project)
    if how == "link out":
        assert any("leads out of the run directory" in problem for problem in skipped), skipped


def rewrite(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


MANIFEST, TRAJECTORY = "manifest.json", "examples/beta/b-0/trajectory.json"
CASES = [  # (file, change, what the message names)
    (TRAJECTORY, lambda d: d.update(example_id="../../../../../../README"), "key 'example_id'"),
    (MANIFEST, lambda d: d["datasets"][0].update(name="../../escape"), "datasets[0].name"),
    (MANIFEST, lambda d: d["datasets"][0]["example_ids"].__setitem__(0, "../../x"), "example_ids[0]"),
    (MANIFEST, lambda d: d["datasets"][0].update(name=PAYLOAD), "datasets[0].name"),
    (MANIFEST, lambda d: d.update(config=[1, 2]), "key 'config'"),
    (MANIFEST, lambda d: d["datasets"][1].update(name=7), "datasets[1].name"),
    (MANIFEST, lambda d: d.update(created="yesterday"), "key 'created'"),
    (MANIFEST, lambda d: d.update(created=12345), "key 'created'"),
    (MANIFEST, lambda d: d.update(datasets={}), "key 'datasets'"),
    (MANIFEST, lambda d: d.update(datasets=[]), "key 'datasets'"),
    (MANIFEST, lambda d: d["model"].update(num_layers="four"), "model.num_layers"),
    (MANIFEST, lambda d: d["datasets"][0].update(example_ids=["a-0", "a-0"]), "listed twice"),
    (MANIFEST, lambda d: d["datasets"][0].update(example_ids=["README", "index"]), "reserved"),
    (MANIFEST, lambda d: d["datasets"][0].update(name="index.md"), "reserved"),
    (TRAJECTORY, lambda d: d.update(metadata=[1]), "key 'metadata'"),
    (TRAJECTORY, lambda d: d.update(correct="yes"), "key 'correct'"),
    (TRAJECTORY, lambda d: d.update(token_offsets=d["token_offsets"][:3]), "key 'token_offsets'"),
    (TRAJECTORY, lambda d: d["segments"][0].update(end=10_000), "segments[0]"),
    (TRAJECTORY, lambda d: d["token_offsets"].__setitem__(0, [0, 10_000]), "token_offsets[0]"),
    (TRAJECTORY, lambda d: d.update(dataset="alpha"), "key 'dataset'"),
]


@pytest.mark.parametrize("name,change,named", CASES)
def test_reported_damage_is_named_and_skipped(project, name, change, named):
    rewrite(project / "data/runs/damaged" / name, change)
    skipped = build_and_check(project)
    assert len(skipped) == 1 and named in skipped[0] and "damaged" in skipped[0], skipped
    assert (project / "README.md").read_text() == "the project's own README\n"


@pytest.mark.parametrize("raw,named", [
    ("NaN", "NaN is not valid JSON"), ("Infinity", "Infinity is not valid JSON"), ("[" * 100_000, "nested"),
])
def test_non_json_numbers_and_deep_nesting_in_a_summary_are_refused(project, raw, named):
    path = project / "data/runs/damaged/datasets/alpha/attention.json"
    text = path.read_text()
    key = next(iter(json.loads(text)))
    data = json.loads(text)
    path.write_text(json.dumps({**data, key: "@@"}).replace('"@@"', raw))
    skipped = build_and_check(project)
    assert len(skipped) == 1 and named in skipped[0] and "attention.json" in skipped[0], skipped


def test_non_utf8_manifest_is_named(project):
    path = project / "data/runs/damaged/manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"tiny"', b'"ti\xffny"', 1))
    skipped = build_and_check(project)
    assert len(skipped) == 1 and "manifest.json: not UTF-8" in skipped[0], skipped


@pytest.mark.parametrize("value,named", [(np.inf, "infinite values"), (np.nan, None)])
def test_non_finite_tensors(project, value, named):
    """Infinity is refused; NaN means "not measured" and renders (shown as missing)."""
    from safetensors.numpy import load_file, save_file

    path = project / "data/runs/damaged/examples/alpha/a-1/attention.safetensors"
    tensors = load_file(str(path))
    for key, array in tensors.items():
        if array.dtype.kind == "f":
            array.reshape(-1)[0] = value
    save_file(tensors, str(path), metadata={"atlas.result": "AttentionExample"})
    skipped = build_and_check(project)
    if named:
        assert len(skipped) == 1 and named in skipped[0], skipped
    else:
        assert skipped == []


def test_run_folder_with_a_hostile_name_is_named_and_skipped(project):
    runs = project / "data/runs"
    odd = "odd name #?%&<img src=x onerror=alert(99)>'\""
    (runs / "damaged").rename(runs / odd)
    skipped = build_and_check(project)
    assert len(skipped) == 1 and "run folder name" in skipped[0], skipped
    assert not list((project / "build/docs/runs").glob("odd*"))


def test_correctness_is_read_alone_and_a_damaged_flag_is_named(tiny_run, tmp_path):
    import json
    import shutil

    from generator.store.run_directory import RunFormatError, load_run

    run_dir = tmp_path / "tiny"
    shutil.copytree(tiny_run, run_dir)
    run = load_run(run_dir)
    assert run.correctness("alpha") == [t.correct for t in run.trajectories("alpha")]
    path = run_dir / "examples/alpha/a-0/trajectory.json"
    data = json.loads(path.read_text())
    data["correct"] = "yes"
    path.write_text(json.dumps(data))
    with pytest.raises(RunFormatError, match="trajectory.json: key 'correct': expected true, false or null, got 'yes'"):
        load_run(run_dir).correctness("alpha")
