import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import build_parser, main
from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset

COMMANDS = ["demo", "run", "build", "serve", "import", "train-demo-model"]


def test_help_lists_every_command():
    console_script = Path(sys.executable).parent / "atlas"
    for argv in ([str(console_script), "--help"], [sys.executable, "-m", "generator", "--help"]):
        out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
        for command in COMMANDS:
            assert command in out


def test_demo_config_is_valid():
    from generator.config import load_config

    config = load_config(REPO_ROOT / "configs/demo.yaml")
    assert {d.name for d in config.datasets} == {"two-step", "three-step", "decimals", "agent"}
    assert set(config.analyses) == {"attention", "ablation", "salience", "features", "formats", "patching", "agent",
                                    "head_ablation", "logit_attribution", "scaling", "routing", "token_classes",
                                    "transplant", "compositional"}
    other = load_config(REPO_ROOT / "configs/demo-calc-only.yaml")
    assert other.datasets[0].agent.tools == ("calc",) and other.datasets[0].path == config.datasets[3].path


def test_run_then_build_prints_where_output_went(tmp_path, capsys, monkeypatch):
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "e1", "prompt": "Q: 1+2=", "answer": "3"}])
    (tmp_path / "run.yaml").write_text(
        "run_name: cli\nmodel: {id: ./model}\ndatasets: [{name: d, path: d.jsonl}]\n"
        "generation: {max_new_tokens: 4}\noutput_dir: runs\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 0
    assert f"to {(tmp_path / 'runs/cli').resolve()}" in capsys.readouterr().out
    monkeypatch.chdir(REPO_ROOT)
    assert main(["build", "--runs", str(tmp_path / "runs"), "--site-dir", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    assert f"Open {tmp_path / 'site' / 'index.html'}" in out
    assert (tmp_path / "site/runs/cli/d/examples/e1.html").is_file()
    assert main(["build", "--runs", str(tmp_path / "runs"), "--site-dir", str(tmp_path / "site")]) == 0
    assert "0 rendered now; nothing new since the last build: site left as it was" in capsys.readouterr().out


@pytest.mark.parametrize("setup,message", [
    ("model: {id: does-not-exist-anywhere}", "model.id 'does-not-exist-anywhere': not a local path, not in the"),
    ("model: {id: ./missing-folder}", "missing-folder: model.id: no such local checkpoint directory"),
    ("model: {id: m}\nanalyses: {attention: {max_map_tokens: x}}", "analyses.attention.max_map_tokens"),
])
def test_run_errors_are_clear(tmp_path, capsys, setup, message):
    write_dataset(tmp_path / "d.jsonl", [{"id": "e1", "prompt": "p"}])
    (tmp_path / "run.yaml").write_text(f"run_name: bad\n{setup}\ndatasets: [{{name: d, path: d.jsonl}}]\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("analyses,message", [
    ("{patching: {positions: diferring}}", "analyses.patching.positions': expected one of 'differing'"),
    ("{features: {sae_site: mlp_outt}}", "analyses.features.sae_site': expected one of 'resid_pre', 'mlp_out'"),
    ("{ablation: {methods: [zeros]}}", "analyses.ablation.methods[0]': expected one of 'zero'"),
])
def test_misspelt_options_fail_before_the_model_loads(tmp_path, capsys, monkeypatch, analyses, message):
    import generator.pipeline

    monkeypatch.setattr(generator.pipeline, "load_model", lambda spec: pytest.fail("the model was loaded"))
    write_dataset(tmp_path / "d.jsonl", [{"id": "e1", "prompt": "p"}])
    (tmp_path / "run.yaml").write_text(f"run_name: bad\nmodel: {{id: ./m}}\ndatasets: [{{name: d, path: d.jsonl}}]\n"
                                       f"analyses: {analyses}\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"run.yaml: key '{message}" in err and len(err.strip().splitlines()) == 1


def test_build_without_runs_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    assert main(["build", "--runs", str(tmp_path / "nothing")]) == 2
    assert "atlas run" in capsys.readouterr().err


def test_parser_requires_a_command():
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_map_heads_out_of_range_fail_before_any_example_runs(tmp_path, capsys):
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "e1", "prompt": "Q: 1+2="}])
    (tmp_path / "run.yaml").write_text(
        "run_name: heads\nmodel: {id: ./model}\ndatasets: [{name: d, path: d.jsonl}]\n"
        "analyses: {attention: {map_heads: [[0, 1], [7, 0]]}}\noutput_dir: runs\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 2
    assert "analyses.attention.map_heads[1]: layer 7, head 0 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_import_prints_where_the_run_went_and_refuses_bad_input(tmp_path, capsys):

    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"results": [{"probe_id": "p", "tokens": ["a", "b"], "counts": [[1.0, 2.0]]}]}))
    assert main(["import", "activations", str(dump), "--run", "acts", "--runs", str(tmp_path / "runs")]) == 0
    assert f"into {(tmp_path / 'runs/acts').resolve()}" in capsys.readouterr().out
    dump.write_text(json.dumps({"results": [{"probe_id": "p", "tokens": ["a"], "counts": [[1.0, 2.0]]}]}))
    assert main(["import", "activations", str(dump), "--run", "bad", "--runs", str(tmp_path / "runs")]) == 2
    assert "field 'counts': expected rows of 1 values" in capsys.readouterr().err
    assert not (tmp_path / "runs/bad").exists()


def _tree(root):
    """Every file under ``root`` with its bytes: what a refused command must leave exactly as it was."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


RUN = "run_name: r\nmodel: {id: ./model}\ndatasets: [{name: d, path: d.jsonl}]\noutput_dir: runs\n"


def _bad_weights(project):
    path = project / "model" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def _wrong_shape(project):
    config = json.loads((project / "model" / "config.json").read_text())
    config["hidden_size"] = 48
    (project / "model" / "config.json").write_text(json.dumps(config))


def _escaping_manifest(project):
    (project / "secret.json").write_text(json.dumps({"test_case": {"query": "q"}}))
    (project / "traj").mkdir()
    (project / "traj" / "manifest.json").write_text(json.dumps(["../secret.json"]))


def _users_site_dir(project):
    import shutil

    shutil.copyfile(REPO_ROOT / "mkdocs.yml", project / "mkdocs.yml")
    (project / "runs").mkdir()
    (project / "mine" / "sub").mkdir(parents=True)
    (project / "mine" / "thesis.tex").write_text("\\documentclass{article}")
    (project / "mine" / "sub" / "data.csv").write_text("a,b\n")


BAD_INPUTS = [
    # (what, prepare the project, argv after "atlas", expected words in the one error line)
    ("config not UTF-8", lambda p: (p / "run.yaml").write_bytes(RUN.encode().replace(b"run_name: r", b"run_name: r\xff")),
     ["run", "run.yaml"], "run.yaml:1: not UTF-8 text (byte 0xff"),
    ("dataset is a directory", lambda p: ((p / "d.jsonl").unlink(), (p / "d.jsonl").mkdir()),
     ["run", "run.yaml"], "d.jsonl: is a directory; expected a JSONL file"),
    ("NaN in metadata", lambda p: (p / "d.jsonl").write_text('{"id": "a", "prompt": "p", "score": NaN}\n'),
     ["run", "run.yaml"], "d.jsonl:1: NaN is not valid JSON"),
    ("id of 100,000 characters", lambda p: (p / "d.jsonl").write_text(json.dumps({"id": "x" * 100_000, "prompt": "p"})),
     ["run", "run.yaml"], "d.jsonl:1: field 'id': expected 1 to 128 letters"),
    ("id ending in a newline", lambda p: (p / "d.jsonl").write_text(json.dumps({"id": "a\n", "prompt": "p"})),
     ["run", "run.yaml"], "d.jsonl:1: field 'id'"),
    ("run name ending in a newline", lambda p: (p / "run.yaml").write_text(RUN.replace("run_name: r", 'run_name: "r\\n"')),
     ["run", "run.yaml"], "key 'run_name'"),
    ("dataset name ending in a newline",
     lambda p: (p / "run.yaml").write_text(RUN.replace("name: d,", 'name: "d\\n",')), ["run", "run.yaml"],
     "key 'datasets[0].name'"),
    ("truncated weights", _bad_weights, ["run", "run.yaml"], "model: could not load the model"),
    ("weights of the wrong shape", _wrong_shape, ["run", "run.yaml"], "the weights do not fit the model's config"),
    ("missing local model", lambda p: (p / "run.yaml").write_text(RUN.replace("./model", "./nowhere")),
     ["run", "run.yaml"], "nowhere: model.id: no such local checkpoint directory"),
    ("run over a folder not ours", lambda p: (p / "run.yaml").write_text(
        RUN.replace("run_name: r", "run_name: templates").replace("output_dir: runs", "output_dir: .")),
     ["run", "run.yaml"], "templates: exists and is not a run of Attention Atlas; nothing was written"),
    ("import over a folder not ours", lambda p: (p / "dump.json").write_text(json.dumps(
        {"results": [{"probe_id": "p", "tokens": ["a"], "counts": [[1.0]]}]})),
     ["import", "activations", "dump.json", "--runs", ".", "--run", "templates", "--overwrite"],
     "templates: exists and is not a run of Attention Atlas"),
    ("YAML alias bomb in a checked key", lambda p: (p / "run.yaml").write_text(
        RUN + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "generation: {max_new_tokens: [*b, *b, *b, *b, *b, *b, *b, *b, *b]}\n"),
     ["run", "run.yaml"], "aliases (*name) are not accepted"),
    ("lone surrogate in the config", lambda p: (p / "run.yaml").write_text(RUN.replace(
        "path: d.jsonl}", 'path: d.jsonl, description: "\\ud800"}')),
     ["run", "run.yaml"], "run.yaml: a string holds a lone surrogate"),
    ("duplicate key", lambda p: (p / "run.yaml").write_text(RUN + "output_dir: elsewhere\n"),
     ["run", "run.yaml"], "key 'output_dir' is given twice"),
    ("lone surrogate in a prompt", lambda p: (p / "d.jsonl").write_text('{"id": "a", "prompt": "x\\ud800"}\n'),
     ["run", "run.yaml"], "d.jsonl:1: a string holds a lone surrogate"),
    ("100,000 nested brackets", lambda p: (p / "d.jsonl").write_text("[" * 100_000 + "\n"),
     ["run", "run.yaml"], "d.jsonl:1: nested more than"),
    ("output_dir naming a file", lambda p: (p / "runs").write_text("a file of the user's"),
     ["run", "run.yaml"], "runs: is a file, not a folder"),
    ("dataset named index.md", lambda p: (p / "run.yaml").write_text(RUN.replace("name: d,", "name: index.md,")),
     ["run", "run.yaml"], "key 'datasets[0].name': 'index.md' is reserved"),
    ("example id README", lambda p: (p / "d.jsonl").write_text('{"id": "README", "prompt": "p"}\n'),
     ["run", "run.yaml"], "d.jsonl:1: field 'id': 'README' is reserved"),
    ("site dir holding the user's files", _users_site_dir,
     ["build", "--runs", "runs", "--site-dir", "mine"], "mine: holds files Attention Atlas did not write"),
    ("broken mkdocs.yml", lambda p: (p / "mkdocs.yml").write_text("site_name: [unclosed\n"),
     ["build", "--runs", "."], "mkdocs.yml: not a usable MkDocs config"),
    ("import with --runs naming a file", lambda p: ((p / "runs").write_text("x"), (p / "dump.json").write_text(
        json.dumps({"results": [{"probe_id": "p", "tokens": ["a"], "counts": [[1.0]]}]}))),
     ["import", "activations", "dump.json", "--runs", "runs", "--run", "t"], "runs: is a file, not a folder"),
    ("importer manifest pointing outside", _escaping_manifest,
     ["import", "trajectories", "traj", "--run", "t", "--runs", "runs"], "which lies outside traj"),
]


@pytest.mark.parametrize("what,prepare,argv,expected", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_nothing_changes(tmp_path, capsys, monkeypatch, what, prepare, argv,
                                                          expected):
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "a", "prompt": "Q: 1+2="}])
    (tmp_path / "run.yaml").write_text(RUN)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.md.j2").write_text("the user's own file")
    prepare(tmp_path)
    before = _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]  # not progress bars
    assert len(errors) == 1 and errors[0].startswith(f"atlas {argv[0]}: error: ") and expected in errors[0], errors
    assert _tree(tmp_path) == before


def test_init_makes_a_project_that_builds_with_its_own_templates(tmp_path, tiny_run, capsys, monkeypatch):
    import shutil

    project = tmp_path / "report"
    assert main(["init", str(project)]) == 0
    assert "Created a report project" in capsys.readouterr().out
    for name in ("mkdocs.yml", "configs/example.yaml", "data/prompts.jsonl", "templates/README.md",
                 "data/runs/.gitkeep", ".github/workflows/pages.yml"):
        assert (project / name).is_file(), name
    shutil.copytree(tiny_run, project / "data/runs/tiny")
    index = (REPO_ROOT / "templates/index.md.j2").read_text()
    (project / "templates/index.md.j2").write_text(index.replace("# Attention Atlas", "# Our lab's reports"))
    example = (REPO_ROOT / "templates/example.md.j2").read_text()  # a project's copy from before the strip was data
    example = example.replace("import segment_strip,", "import token_strip,")
    (project / "templates/example.md.j2").write_text(example.replace("{{ segment_strip(example.token_strip) }}",
                                                                     "{{ token_strip(example.tokens) }}"))
    monkeypatch.chdir(project)
    assert main(["build", "--jobs", "1"]) == 0
    assert "Our lab&#39;s reports" in (project / "site/index.html").read_text() or \
        "Our lab's reports" in (project / "site/index.html").read_text()
    assert 'title="#0 · question"' in (project / "site/runs/tiny/alpha/examples/a-0.html").read_text()  # still works
    assert not (project / "site/run-format").exists() and not (project / "site/benchmarks").exists()  # its report only
    assert main(["init", str(project)]) == 2  # never over a folder with files
    assert "exists and is not an empty folder; nothing was written" in capsys.readouterr().err


@pytest.mark.slow
def test_the_wheel_carries_templates_mkdocs_config_and_docs(tmp_path):
    import zipfile

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path), str(REPO_ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    data = [n for n in names if ".data/data/share/attention-atlas/" in n]
    assert any(n.endswith("templates/example.md.j2") for n in data)
    assert any(n.endswith("share/attention-atlas/mkdocs.yml") for n in data)
    assert any(n.endswith("docs/run-format.md") for n in data)
    assert any(n.endswith("share/attention-atlas/data/facts.json") for n in data)
    assert any(n.endswith("generator/render/assets/atlas.js") for n in names)


def test_export_writes_one_examples_figures_at_their_site_paths(tmp_path, capsys):
    import shutil

    shutil.copytree(REPO_ROOT / "tests/data/run-v1", tmp_path / "runs" / "v1")
    out = tmp_path / "exports"
    assert main(["export", "v1", "two-step", "two-step-000", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(f"runs/v1/two-step/examples/figures/two-step-000-{name}" for name in (
        "ablation.csv", "ablation.pdf", "ablation.png", "ablation.svg", "answer-to-steps.csv", "answer-to-steps.pdf",
        "answer-to-steps.png", "answer-to-steps.svg"))
    assert main(["export", "v1", "two-step", "nope", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 2
    assert "dataset 'two-step' has no example 'nope'" in capsys.readouterr().err


def test_export_of_one_heads_token_map_and_a_head_the_model_lacks(tmp_path, capsys):
    import csv
    import shutil

    import numpy as np

    from generator.results.attention import AttentionExample
    from generator.store.run_directory import load_run

    shutil.copytree(REPO_ROOT / "tests/data/run-v1", tmp_path / "runs" / "v1")
    out, runs = tmp_path / "exports", str(tmp_path / "runs")
    assert main(["export", "v1", "two-step", "two-step-000", "--head", "1.0", "--runs", runs, "--out", str(out)]) == 0
    stem = out / "runs/v1/two-step/examples/figures/two-step-000-token-map-L1H0"
    assert all(stem.with_suffix(suffix).is_file() for suffix in (".png", ".pdf", ".svg", ".csv"))
    maps = load_run(tmp_path / "runs" / "v1").result("two-step", "two-step-000", AttentionExample).maps
    with open(stem.with_suffix(".csv"), newline="") as handle:
        rows = list(csv.reader(handle))
    np.testing.assert_allclose(np.array(rows[1:], dtype=object)[:, 1:].astype(float), maps[1, 0], atol=1e-6)
    assert "Wrote" in capsys.readouterr().out
    for head, message in (("9.0", "--head 9.0: the model has layers 0-"), ("one", "expected LAYER.HEAD such as 1.2")):
        assert main(["export", "v1", "two-step", "two-step-000", "--head", head, "--runs", runs, "--out", str(out)]) == 2
        assert message in capsys.readouterr().err


def test_deploy_pushes_the_built_site_to_a_gh_pages_branch(tmp_path, tiny_run, capsys, monkeypatch):
    """Against a local bare repository as the remote: no network needed, the branch is really pushed."""
    import shutil

    def git(*args, cwd):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                       env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})

    project = tmp_path / "report"
    assert main(["init", str(project)]) == 0
    monkeypatch.chdir(project)
    assert main(["deploy", "--jobs", "1"]) == 2  # not a git repository yet
    assert "not a git repository" in capsys.readouterr().err
    shutil.copytree(tiny_run, project / "data/runs/tiny")
    git("init", "--bare", str(tmp_path / "remote.git"), cwd=tmp_path)
    git("init", "-b", "main", cwd=project)
    git("add", "mkdocs.yml", cwd=project)
    git("commit", "-m", "report", cwd=project)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "t")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "t@t")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "t")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "t@t")
    assert main(["deploy", "--jobs", "1"]) == 2  # no remote yet
    assert "has no remote 'origin' to push to" in capsys.readouterr().err
    git("remote", "add", "origin", str(tmp_path / "remote.git"), cwd=project)
    assert main(["deploy", "--jobs", "1"]) == 0, capsys.readouterr().err
    assert "Pushed site/ to origin/gh-pages" in capsys.readouterr().out
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", "gh-pages"], cwd=tmp_path / "remote.git",
                            capture_output=True, text=True, check=True).stdout.split()
    assert "index.html" in listed and "runs/tiny/alpha/examples/a-0.html" in listed
    other = tmp_path / "other"  # someone else pushes an unrelated gh-pages: ours has diverged
    git("init", "-b", "gh-pages", str(other), cwd=tmp_path)
    (other / "x.txt").write_text("theirs")
    git("add", "x.txt", cwd=other)
    git("commit", "-m", "theirs", cwd=other)
    git("push", "--force", str(tmp_path / "remote.git"), "gh-pages", cwd=other)
    assert main(["deploy", "--jobs", "1"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "could not push" in errors[0] and "diverged" in errors[0], errors


@pytest.mark.slow
def test_serve_picks_up_a_run_that_finishes_while_it_is_open(tmp_path, tiny_run):
    """`atlas serve` is running; a run appears in data/runs; its page is served without a restart."""
    import shutil
    import socket
    import time
    import urllib.request

    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    runs = tmp_path / "runs"
    shutil.copytree(tiny_run, runs / "first")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def fetch(path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=5) as response:
                return response.status
        except OSError:
            return 0

    def wait_for(path: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if fetch(path) == 200:
                return True
            time.sleep(0.5)
        return False

    server = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--runs", str(runs), "--mkdocs-config",
                               str(tmp_path / "mkdocs.yml"), "--dev-addr", f"127.0.0.1:{port}", "--poll", "0.5"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for("runs/first/index.html", 180), "the server never served the first run"
        assert fetch("runs/second/index.html") != 200
        staging = tmp_path / "staging"
        shutil.copytree(tiny_run, staging)
        (staging / "manifest.json").rename(tmp_path / "manifest.json")
        staging.rename(runs / "second")  # a run in progress: examples first, its manifest last
        (tmp_path / "manifest.json").rename(runs / "second/manifest.json")
        assert wait_for("runs/second/index.html", 120), "the finished run never appeared"
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "rendered" in output and "runs that finish in" in output


@pytest.mark.slow
def test_the_sample_config_of_a_new_project_runs_as_it_is(tmp_path, capsys, monkeypatch):
    project = tmp_path / "report"
    assert main(["init", str(project)]) == 0
    monkeypatch.chdir(project)
    assert main(["run", "configs/example.yaml"]) == 0
    assert main(["build", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "sample: accuracy" in out and (project / "site/runs/example/sample/index.html").is_file()
    assert "Ablation effect per part" in (project / "site/runs/example/sample/examples/two-step-000.html").read_text()


def test_serve_says_what_a_dev_address_should_be(tmp_path, capsys):
    import shutil

    shutil.copyfile(REPO_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "runs").mkdir()
    assert main(["serve", "--runs", str(tmp_path / "runs"), "--mkdocs-config", str(tmp_path / "mkdocs.yml"),
                 "--dev-addr", "8000"]) == 2
    assert "--dev-addr: expected HOST:PORT (for example 127.0.0.1:8000), got '8000'" in capsys.readouterr().err
    assert not (tmp_path / "build").exists()  # nothing built
