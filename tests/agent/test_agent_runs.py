"""Agent datasets through `atlas run` and `atlas build`: a random tiny model, real tools, every page kind."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from tests.conftest import HOSTILE_PROMPT, REPO_ROOT, save_tiny_checkpoint, write_dataset


@pytest.fixture(scope="module")
def agent_runs(tmp_path_factory):
    """Two runs of the same agent dataset (two tool settings) from a random tiny model."""
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run

    base = tmp_path_factory.mktemp("agent_runs")
    save_tiny_checkpoint(base / "model")
    write_dataset(base / "queries.jsonl", [
        {"id": "q-0", "query": "2+3*4=", "answer": "14", "category": "arithmetic"},
        {"id": "q-1", "query": HOSTILE_PROMPT, "category": "hostile"},
    ])
    for name, tools in (("with-lookup", ["calc", "lookup"]), ("calc-only", ["calc"])):
        config = parse_config(agent_config(name, tools))
        execute_run(resolve_paths(config, base), config.to_dict(), config.config_hash())
    return base / "runs"


def agent_config(name: str, tools: list[str]) -> dict:
    return {"run_name": name, "model": {"id": "./model"}, "output_dir": "runs",
            "datasets": [{"name": "queries", "path": "queries.jsonl", "analyses": ["attention", "agent"],
                          "agent": {"tools": tools, "max_steps": 3, "max_reply_tokens": 6}}],
            "analyses": {"attention": {}, "agent": {}}}


def test_an_agent_run_is_stored_whole_with_steps_and_segments(agent_runs):
    from generator.results.agent import AgentExample, AgentSummary
    from generator.store.run_directory import load_run

    run = load_run(agent_runs / "with-lookup")
    trajectory = run.trajectory("queries", "q-0")
    record = trajectory.metadata["agent"]
    assert record["status"] in ("answered", "step limit", "stopped") and record["tools"] == ["calc", "lookup"]
    assert record["timestamp"] and record["settings"]["max_steps"] == 3
    assert trajectory.segments[0].name == "question"
    assert trajectory.text.startswith("Question: 2+3*4=\n")
    assert len(trajectory.segments) == 1 + sum(1 for s in record["steps"] if s["text"] or s["kind"] != "other")
    result = run.result("queries", "q-0", AgentExample)
    n = len(trajectory.segments)
    assert result.step_mass.shape[2:] == (n, n)
    assert np.abs(result.step_mass[..., 0, 1:]).max() < 1e-6  # the question cannot see later steps
    assert (result.step_mass.sum(axis=-1) <= 1 + 1e-5).all()
    summary = run.summary("queries", AgentSummary)
    assert summary.n_runs == 2


def test_agent_pages_index_and_comparison_build_and_escape(agent_runs, tmp_path):
    from generator.render.site import build_site

    site = build_site(agent_runs, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site", docs_dir=tmp_path / "docs")
    root = site.site_dir
    page = (root / "runs/with-lookup/queries/examples/q-0.html").read_text()
    assert "Agent run" in page and "What the answer depends on" in page and "Attention between steps" in page
    index = (root / "agent-runs.html").read_text()
    assert index.count("compare/queries/q-0.html") >= 1 and 'data-atlas-category="hostile"' in index
    comparison = (root / "compare/queries/q-1.html").read_text()
    assert "calc-only" in comparison and "with-lookup" in comparison
    for html in (index, comparison, (root / "runs/with-lookup/queries/examples/q-1.html").read_text()):
        assert "<script>alert(1)</script>" not in html
    listed = {e["kind"] for e in json.loads((root / "atlas-index.json").read_text())["entries"]}
    assert {"agents", "comparison"} <= listed
    dataset = (tmp_path / "docs/runs/with-lookup/queries/index.md").read_text()
    assert "with its 95% t interval (cut to 0–1) and n (runs)" in dataset
    cells = re.findall(r"<td>([0-9.e-]+) &#40;([0-9.e-]+)–([0-9.e-]+); n = 2&#41;</td>", dataset)  # two queries: 2 runs
    assert cells and all(0 <= float(low) <= float(mean) <= float(high) <= 1 for mean, low, high in cells)


def test_the_mass_between_kinds_is_a_mean_over_runs_with_its_interval():
    """Two runs by hand: a pair of kinds seen three times in one run and once in the other counts each run once."""
    from types import SimpleNamespace

    from scipy import stats

    from generator.analyses.agent import _mass_by_kind, _mass_by_kind_over_runs

    def run(kinds, lower):
        mean = np.zeros((len(kinds), len(kinds)))
        for (i, j), value in lower.items():
            mean[i, j] = value
        spread = np.stack([mean - 0.05, mean + 0.05])[:, None]  # [layer 2, head 1, S, S]: mean over them = ``mean``
        return SimpleNamespace(segments=[SimpleNamespace(kind=k) for k in kinds]), SimpleNamespace(step_mass=spread)

    a = run(["question", "thought", "answer"], {(0, 0): 1, (1, 0): .6, (1, 1): .4, (2, 0): .2, (2, 1): .3, (2, 2): .5})
    b = run(["question", "thought", "thought", "answer"], {(0, 0): 1, (1, 0): .5, (1, 1): .5, (2, 0): .1, (2, 1): .3,
                                                           (2, 2): .6, (3, 0): .4, (3, 1): .2, (3, 2): .2, (3, 3): .2})
    over_runs = _mass_by_kind_over_runs([a[0], b[0]], [a[1], b[1]])
    thought = over_runs["thought"]["thought"]
    per_run = [0.4, (0.5 + 0.3 + 0.6) / 3]
    low, high = stats.t.interval(0.95, 1, loc=np.mean(per_run), scale=stats.sem(per_run))
    assert thought.n == 2 and abs(thought.mean - np.mean(per_run)) < 1e-12
    assert abs(thought.ci_low - low) < 1e-9 and abs(thought.ci_high - high) < 1e-9
    assert abs(_mass_by_kind([a[0], b[0]], [a[1], b[1]])["thought"]["thought"] - 0.45) < 1e-12  # pooled over pairs
    assert over_runs["answer"]["thought"].n == 2 and over_runs["thought"].get("answer") is None  # only earlier kinds
    assert over_runs["answer"]["answer"].mean == 0.35 and over_runs["answer"]["answer"].ci_low is not None


def test_an_agent_analysis_on_a_plain_dataset_is_refused_before_the_model_loads():
    from generator.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"datasets\[0\]\.analyses.*agent datasets only"):
        parse_config({"run_name": "x", "model": {"id": "m"}, "analyses": {"agent": {}},
                      "datasets": [{"name": "d", "path": "d.jsonl", "analyses": ["agent"]}]})
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.agent\.tools\[1\]'.*'shell'"):
        parse_config({"run_name": "x", "model": {"id": "m"},
                      "datasets": [{"name": "d", "path": "d.jsonl", "agent": {"tools": ["calc", "shell"]}}]})
    with pytest.raises(ConfigError, match="max_steps"):
        parse_config({"run_name": "x", "model": {"id": "m"},
                      "datasets": [{"name": "d", "path": "d.jsonl", "agent": {"max_steps": 0}}]})


def test_a_resumed_agent_run_keeps_finished_queries(agent_runs, tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run

    base = agent_runs.parent
    copy = tmp_path / "runs"
    shutil.copytree(agent_runs / "calc-only", copy / "calc-only")
    finished = (copy / "calc-only/examples/queries/q-0/trajectory.json").read_bytes()
    shutil.rmtree(copy / "calc-only/examples/queries/q-1")
    (copy / "calc-only/manifest.json").unlink()
    config = parse_config(agent_config("calc-only", ["calc"]))
    summary = execute_run(resolve_paths(config, base), config.to_dict(), config.config_hash(), output_dir=copy)
    assert summary.mode == "resume" and summary.reused == 1
    assert (copy / "calc-only/examples/queries/q-0/trajectory.json").read_bytes() == finished
    assert (copy / "calc-only/examples/queries/q-1/agent.safetensors").is_file()


def test_a_run_made_before_the_intervals_shows_its_means_and_says_they_carry_none(agent_runs, tmp_path):
    from generator.render.site import render_docs

    shutil.copytree(agent_runs / "with-lookup", tmp_path / "runs" / "with-lookup")
    summary_file = tmp_path / "runs/with-lookup/datasets/queries/agent.json"
    summary = json.loads(summary_file.read_text())
    del summary["mass_by_kind_ci"]
    summary_file.write_text(json.dumps(summary))
    render_docs(tmp_path / "runs", tmp_path / "docs", None, jobs=1)
    dataset = (tmp_path / "docs/runs/with-lookup/queries/index.md").read_text()
    table = dataset.split("## Agent runs")[1].split("</table>")[0]
    assert "made before intervals on this table" in table and "n = " not in table and "<td>0." in table
