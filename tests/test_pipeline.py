"""Runs are written example by example: a run killed with SIGKILL resumes to the uninterrupted result."""

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from generator.cli import main
from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset

DYING_RUN = """
import os, signal, sys
from generator.store import run_directory
config, output, method, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
original = getattr(run_directory.RunWriter, method)
calls = []
def write_then_maybe_die(self, *args, **kwargs):
    original(self, *args, **kwargs)
    calls.append(1)
    if len(calls) == after:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind runs
setattr(run_directory.RunWriter, method, write_then_maybe_die)
from generator.cli import main
sys.exit(main(["run", config, "--output-dir", output]))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    save_tiny_checkpoint(base / "model")
    write_dataset(base / "a.jsonl", [{"id": f"a-{i}", "prompt": f"Q: {i}+{i + 1}*3=", "answer": str(i + 3 * i + 3)}
                                     for i in range(7)])
    write_dataset(base / "b.jsonl", [{"id": f"b-{i}", "prompt": f"Q: {i}*4-2="} for i in range(3)])
    (base / "run.yaml").write_text(
        "run_name: r\nmodel: {id: ./model}\n"
        "datasets: [{name: a, path: a.jsonl}, {name: b, path: b.jsonl, analyses: [attention, features]}]\n"
        "generation: {max_new_tokens: 6, batch_size: 2}\n"
        "analyses: {attention: {}, salience: {}, features: {top_k: 2},\n"
        "           ablation: {methods: [mean, resample, knockout], layers: [0], parts: 'tokens:question'}}\n")
    assert main(["run", str(base / "run.yaml"), "--output-dir", str(base / "whole")]) == 0
    return base


def files(root):
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def assert_same_run(got, expected):
    got_files, expected_files = files(got), files(expected)
    assert sorted(got_files) == sorted(expected_files)
    for name, path in expected_files.items():
        if name.endswith(".safetensors"):
            a, b = load_file(got_files[name]), load_file(path)
            assert a.keys() == b.keys(), name
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")
        elif name == "manifest.json":
            a, b = json.loads(got_files[name].read_text()), json.loads(path.read_text())
            a.pop("created"), b.pop("created")
            assert a == b
        else:
            assert got_files[name].read_bytes() == path.read_bytes(), name


@pytest.mark.parametrize("method,after", [
    ("write_example", 3),  # while generating: three examples written, the fourth never
    ("write_result", 4),  # while the whole-dataset analyses (ablation, features) add their results
])
def test_a_killed_run_resumes_to_the_uninterrupted_result(project, tmp_path, method, after, capsys):
    output = tmp_path / "runs"
    killed = subprocess.run([sys.executable, "-c", DYING_RUN, str(project / "run.yaml"), str(output), method,
                             str(after)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not (output / "r" / "manifest.json").exists()  # unfinished: never listed or rendered
    finished = len(list((output / "r" / "examples").glob("*/*/trajectory.json")))
    results = len(list((output / "r" / "examples").glob("*/*/*.safetensors")))
    assert 0 < finished and results < len(list((project / "whole" / "r" / "examples").glob("*/*/*.safetensors")))
    assert main(["run", str(project / "run.yaml"), "--output-dir", str(output)]) == 0
    assert f"resumed: {finished} of 10 examples were already finished" in capsys.readouterr().out
    assert_same_run(output / "r", project / "whole" / "r")


def test_a_stale_temporary_example_is_cleaned_and_never_read(project, tmp_path):
    output = tmp_path / "runs"
    killed = subprocess.run([sys.executable, "-c", DYING_RUN, str(project / "run.yaml"), str(output),
                             "write_example", "2"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert killed.returncode == -9
    stale = output / "r" / "examples" / "a" / ".a-5.x1y2.tmp"
    stale.mkdir()
    (stale / "trajectory.json").write_text("half")
    assert main(["run", str(project / "run.yaml"), "--output-dir", str(output)]) == 0
    assert not stale.exists()
    assert_same_run(output / "r", project / "whole" / "r")


def test_other_inputs_never_mix_with_a_finished_run(project, tmp_path, capsys):
    import shutil

    shutil.copytree(project / "whole", tmp_path / "runs")
    changed = tmp_path / "changed.yaml"
    changed.write_text((project / "run.yaml").read_text().replace("max_new_tokens: 6", "max_new_tokens: 5")
                       .replace("./model", str(project / "model")).replace("a.jsonl", str(project / "a.jsonl"))
                       .replace("b.jsonl", str(project / "b.jsonl")))
    assert main(["run", str(changed), "--output-dir", str(tmp_path / "runs")]) == 2
    assert "made from another config or other dataset files; rerun with --overwrite" in capsys.readouterr().err
    assert_same_run(tmp_path / "runs" / "r", project / "whole" / "r")  # untouched
    assert main(["run", str(changed), "--output-dir", str(tmp_path / "runs"), "--overwrite"]) == 0
    manifest = json.loads((tmp_path / "runs/r/manifest.json").read_text())
    assert manifest["config"]["generation"]["max_new_tokens"] == 5


@pytest.mark.parametrize("method,after", [("write_example", 1), ("write_example", 3), ("write_result", 2)])
def test_an_overwrite_that_dies_leaves_the_old_run_whole_and_resumes(project, tmp_path, capsys, method, after):
    """--overwrite grows the new run beside the old one and swaps it in only when complete."""
    import shutil

    shutil.copytree(project / "whole", tmp_path / "runs")
    changed = tmp_path / "changed.yaml"
    changed.write_text((project / "run.yaml").read_text().replace("max_new_tokens: 6", "max_new_tokens: 5")
                       .replace("./model", str(project / "model")).replace("a.jsonl", str(project / "a.jsonl"))
                       .replace("b.jsonl", str(project / "b.jsonl")))
    dying = DYING_RUN.replace('"--output-dir", output]', '"--output-dir", output, "--overwrite"]')
    killed = subprocess.run([sys.executable, "-c", dying, str(changed), str(tmp_path / "runs"), method, str(after)],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert_same_run(tmp_path / "runs" / "r", project / "whole" / "r")  # the old run, every file as it was
    assert main(["run", str(changed), "--output-dir", str(tmp_path / "runs"), "--overwrite"]) == 0
    if method == "write_example":
        assert f"resumed: {after} of 10 examples were already finished" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "runs/r/manifest.json").read_text())
    assert manifest["config"]["generation"]["max_new_tokens"] == 5
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r"]  # no staging or replaced folder left


@pytest.mark.parametrize("make", [
    lambda target: (target.mkdir(), (target / "notes.txt").write_text("mine")),
    lambda target: target.write_text("a file"),
])
def test_nothing_that_is_not_a_run_of_ours_is_replaced(project, tmp_path, capsys, make):
    target = tmp_path / "runs" / "r"
    target.parent.mkdir()
    make(target)
    before = files(target.parent)
    assert main(["run", str(project / "run.yaml"), "--output-dir", str(tmp_path / "runs"), "--overwrite"]) == 2
    assert "exists and is not a run of Attention Atlas; nothing was written" in capsys.readouterr().err
    assert files(target.parent).keys() == before.keys()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_write_the_same_run_as_one_process(project, tmp_path):
    """torchrun with two CPU processes (gloo): each takes every other batch; rank 0 summarises."""
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun's default, for both: same kernels, same numbers
    single = subprocess.run([sys.executable, "-m", "generator", "run", str(project / "run.yaml"), "--output-dir",
                             str(tmp_path / "one")], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                               "-m", "generator", "run", str(project / "run.yaml"), "--output-dir", str(tmp_path / "two")],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert "rank 1 of 2: finished its share" in launched.stdout and "rank 0 of 2: every rank" in launched.stdout
    assert_same_run(tmp_path / "two" / "r", tmp_path / "one" / "r")


@pytest.mark.parametrize("policy", ["refuse", "truncate"])
def test_prompts_longer_than_the_context_are_refused_or_truncated(tmp_path, capsys, policy):
    save_tiny_checkpoint(tmp_path / "model")  # a context of 256 positions
    write_dataset(tmp_path / "d.jsonl", [{"id": "short", "prompt": "Q: 1+2="}, {"id": "long", "prompt": "1+" * 150}])
    (tmp_path / "run.yaml").write_text(
        "run_name: r\nmodel: {id: ./model}\ndatasets: [{name: d, path: d.jsonl}]\n"
        f"generation: {{max_new_tokens: 8, long_prompts: {policy}}}\noutput_dir: runs\n")
    code = main(["run", str(tmp_path / "run.yaml")])
    if policy == "refuse":
        assert code == 2
        assert "d.jsonl: example 'long': the prompt has 301 tokens" in capsys.readouterr().err
        assert not (tmp_path / "runs").exists()
    else:
        assert code == 0
        trajectory = json.loads((tmp_path / "runs/r/examples/d/long/trajectory.json").read_text())
        assert trajectory["metadata"]["prompt_truncated"] == ("kept the last 247 of 300 prompt tokens "
                                                              "(the model's context is 256)")
        assert len(trajectory["token_ids"]) <= 256


def test_text_the_tokenizer_cannot_encode_is_reported_on_the_example(tmp_path):
    """Arabic-Indic digits are dropped by the shipped character tokenizer: the run says so, per example."""
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "arabic", "prompt": "Q: \u0661\u0662+\u0663="},
                                         {"id": "plain", "prompt": "Q: 12+3="}])
    (tmp_path / "run.yaml").write_text("run_name: r\nmodel: {id: ./model}\ndatasets: [{name: d, path: d.jsonl}]\n"
                                       "generation: {max_new_tokens: 4}\noutput_dir: runs\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 0
    arabic = json.loads((tmp_path / "runs/r/examples/d/arabic/trajectory.json").read_text())
    assert arabic["metadata"]["prompt_not_encoded"] == (
        "the tokenizer cannot encode 3 character(s) of the prompt, so the model never saw them: "
        "\u0661 (U+0661) \u0662 (U+0662) \u0663 (U+0663)")
    plain = json.loads((tmp_path / "runs/r/examples/d/plain/trajectory.json").read_text())
    assert "prompt_not_encoded" not in plain["metadata"]


def test_a_gemma2_checkpoint_runs_through_atlas_run(tmp_path, capsys):
    """transformers refuses SDPA for Gemma 2 (soft-capping): the loader falls back, capture does not need it,
    and its sliding-window layers are captured during generation past the window."""
    import torch
    import transformers as tf

    from generator.demo_model.tokenizer import build_tokenizer
    from generator.results.attention import AttentionExample
    from generator.store.run_directory import load_run

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    model = tf.Gemma2ForCausalLM(tf.Gemma2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, sliding_window=6, query_pre_attn_scalar=8, max_position_embeddings=128,
        attn_logit_softcapping=5.0, eos_token_id=None, bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    model.generation_config.eos_token_id = None  # run to max_new_tokens: well past the window
    model.save_pretrained(tmp_path / "gemma")
    tokenizer.save_pretrained(tmp_path / "gemma")
    write_dataset(tmp_path / "d.jsonl", [{"id": "g-0", "prompt": "Q: 12+3*4="}, {"id": "g-1", "prompt": "Q: 5*6="}])
    (tmp_path / "run.yaml").write_text(
        "run_name: gemma\nmodel: {id: ./gemma}\ndatasets: [{name: d, path: d.jsonl}]\n"
        "generation: {max_new_tokens: 12, batch_size: 2}\noutput_dir: runs\n"
        "analyses: {attention: {during_generation: true}, ablation: {methods: [zero], parts: 'tokens:question'}}\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 0, capsys.readouterr().err
    run = load_run(tmp_path / "runs/gemma")
    assert run.manifest.model.architecture == "Gemma2ForCausalLM"
    for example_id in ("g-0", "g-1"):
        result = run.result("d", example_id, AttentionExample)
        assert result.maps.shape[-1] > 2 * 6
        np.testing.assert_allclose(result.maps.sum(-1), 1.0, atol=1e-5)


def test_a_failed_run_empties_but_keeps_an_empty_folder_it_was_given(tmp_path, capsys):
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "a", "prompt": "Q: 1+2="}])
    (tmp_path / "runs" / "r").mkdir(parents=True)  # the user's own, empty
    (tmp_path / "run.yaml").write_text(
        "run_name: r\nmodel: {id: ./model}\ndatasets: [{name: d, path: d.jsonl}]\noutput_dir: runs\n"
        "analyses: {patching: {corrupted_template: 'Question: {prompt}', clean_template: 'Q: {prompt}'}}\n")
    assert main(["run", str(tmp_path / "run.yaml")]) == 2
    assert "the clean and corrupted prompts have" in capsys.readouterr().err
    assert (tmp_path / "runs" / "r").is_dir() and list((tmp_path / "runs" / "r").iterdir()) == []


def test_a_run_prints_no_deprecation_warning_of_ours(tmp_path):
    """transformers renamed past_key_values to cache; our calls use whichever the installed version takes."""
    import warnings

    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run

    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "x-0", "prompt": "Q: 2+3=", "answer": "5"}])
    written = parse_config({"run_name": "quiet", "model": {"id": "./model"},
                            "datasets": [{"name": "d", "path": "d.jsonl"}], "generation": {"max_new_tokens": 4},
                            "analyses": {"attention": {"during_generation": True}}, "output_dir": "runs"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        execute_run(resolve_paths(written, tmp_path), written.to_dict(), written.config_hash())
    deprecated = [str(w.message) for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))
                  and "past_key_values" in str(w.message)]
    assert not deprecated, deprecated


@pytest.mark.slow
def test_two_ranks_write_the_same_latent_run_as_one_process(tmp_path):
    """The shipped latent model under torchrun: thoughts, latent ablation (its dataset means and resample
    donors span both ranks' examples) and the thought lens equal a single process's, file for file."""
    import os

    import yaml

    config = yaml.safe_load((REPO_ROOT / "configs" / "demo-latent.yaml").read_text())
    config["model"]["id"] = str(REPO_ROOT / "data" / "models" / "atlas-latent-demo")
    config["datasets"][0].update(path=str(REPO_ROOT / "data" / "datasets" / "latent-sums.jsonl"), limit=8)
    config["generation"]["batch_size"] = 2
    config["run_name"] = "r"
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "generator", "run", str(tmp_path / "run.yaml"), "--output-dir",
                             str(tmp_path / "one")], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-3000:]
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                               "-m", "generator", "run", str(tmp_path / "run.yaml"), "--output-dir", str(tmp_path / "two")],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert_same_run(tmp_path / "two" / "r", tmp_path / "one" / "r")
    assert len(list((tmp_path / "one" / "r" / "examples" / "sums").glob("*/thoughts.safetensors"))) == 8
