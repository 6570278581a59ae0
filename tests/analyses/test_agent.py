"""The shipped model as an agent: real tool calls, and the counterfactual-tool known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generator.config import parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.results.agent import AgentExample, AgentSummary
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT

SHIPPED = str(REPO_ROOT / "data/models/atlas-arith-demo")
LABELS = {"question": "Q:", "thought": "T:", "call": "C:", "observation": "O:", "answer": "A:"}


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory):
    """Three shipped queries: two arithmetic (calc twice), one that needs a fact (lookup, then calc)."""
    base = tmp_path_factory.mktemp("agent")
    lines = (REPO_ROOT / "data/datasets/agent.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    chosen = [rows[0], rows[4], next(r for r in rows if r["category"] == "lookup")]
    (base / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    written = parse_config({
        "run_name": "agent", "model": {"id": SHIPPED}, "output_dir": str(base / "runs"),
        "datasets": [{"name": "queries", "path": str(base / "queries.jsonl"), "analyses": ["agent"],
                      "agent": {"tools": ["calc", "lookup"], "max_reply_tokens": 24, "labels": LABELS}}],
        "analyses": {"agent": {}}})
    directory = execute_run(resolve_paths(written, REPO_ROOT), written.to_dict(), written.config_hash()).directory
    return load_run(directory), chosen


def test_the_shipped_model_calls_the_tools_and_answers_from_their_results(agent_run):
    run, chosen = agent_run
    for row in chosen:
        trajectory = run.trajectory("queries", row["id"])
        steps = trajectory.metadata["agent"]["steps"]
        calls = [s for s in steps if s["kind"] == "call"]
        observations = [s for s in steps if s["kind"] == "observation"]
        assert trajectory.metadata["agent"]["status"] == "answered"
        assert calls and all(s["error"] is None for s in calls + observations)
        assert {c["tool"] for c in calls} == ({"lookup", "calc"} if row["category"] == "lookup" else {"calc"})
        assert trajectory.parsed_answer == row["answer"] == observations[-1]["text"]  # real tool output, copied
        assert trajectory.correct


def test_replacing_the_last_observation_changes_the_answer_to_it(agent_run):
    """The known answer: the shipped model's answer copies the last observation."""
    run, chosen = agent_run
    for row in chosen:
        result = run.result("queries", row["id"], AgentExample)
        original, replaced, answered, after = result.counterfactual_values
        assert original == float(row["answer"]) == answered
        assert replaced == original + 7 and after == replaced
        segment = run.trajectory("queries", row["id"]).segments[int(result.counterfactual_segment[0])]
        assert segment.kind == "observation"
    summary = run.summary("queries", AgentSummary)
    assert summary.counterfactual_checked == summary.counterfactual_followed == len(chosen)


def test_the_answer_attends_to_the_observation_it_copies(agent_run):
    run, chosen = agent_run
    trajectory = run.trajectory("queries", chosen[0]["id"])
    result = run.result("queries", chosen[0]["id"], AgentExample)
    names = [s.name for s in trajectory.segments]
    answer, last_observation = names.index("answer"), max(i for i, n in enumerate(names) if n.startswith("observation"))
    mass = result.step_mass.max(axis=1)[:, answer, :answer]  # [layer, earlier step]: the head that looks most
    assert np.argmax(mass.max(axis=0)) == last_observation
