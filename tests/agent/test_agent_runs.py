"""Agent datasets through `atlas run` and `atlas build`: a random tiny model, real tools, every page kind."""

from __future__ import annotations

import json
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
