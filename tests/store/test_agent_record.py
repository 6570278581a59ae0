"""The agent loop's stored record: typed on read, named once, a damaged one named by file and key."""

import pytest

from generator.store.agent_record import AgentRecord, AgentStep, step_names
from generator.store.records import RecordFormatError, Trajectory

RAW = {"format": "react", "tools": ["calc"], "status": "answered", "timestamp": "2026-12-03T16:00:00+00:00",
       "settings": {"tools": ["calc"], "max_steps": 12, "labels": {"question": "Q:"}},
       "steps": [{"kind": "thought", "text": "add", "tool": None, "arguments": None, "error": None},
                 {"kind": "call", "text": "calc(2+3)", "tool": "calc", "arguments": "2+3", "error": None},
                 {"kind": "observation", "text": "boom", "tool": "calc", "arguments": None, "error": "timeout"},
                 {"kind": "call", "text": "calc(2+3)", "tool": "calc", "arguments": {"expr": "2+3"}, "error": None},
                 {"kind": "observation", "text": "5", "tool": "calc", "arguments": None, "error": None},
                 {"kind": "answer", "text": "5", "tool": None, "arguments": None, "error": None}]}


def trajectory_with(agent) -> Trajectory:
    return Trajectory(example_id="q-1", dataset="tools", prompt="2+3?", generated_text="", text="2+3?",
                      tokens=("2+3?",), token_offsets=((0, 4),), token_ids=(7,), n_prompt_tokens=1, segments=(),
                      expected_answer="5", parsed_answer="5", correct=True,
                      metadata={} if agent is None else {"agent": agent})


def test_a_record_reads_back_typed_and_writes_the_same_json():
    record = AgentRecord.of(trajectory_with(RAW))
    assert record.to_json() == RAW
    assert [name for name, _ in record.named_steps()] == ["thought 1", "call 1", "observation 1", "call 2",
                                                          "observation 2", "answer"]
    assert (record.count("call"), record.count("observation", errors_only=True)) == (2, 1)
    assert record.steps[3] == AgentStep("call", "calc(2+3)", "calc", {"expr": "2+3"})
    assert AgentRecord.of(trajectory_with(None)) is None
    assert step_names(["call", "answer", "call"]) == ["call 1", "answer", "call 2"]


@pytest.mark.parametrize("damage, message", [
    ("not a record", "key 'metadata.agent': expected a JSON object, got str"),
    ({**RAW, "steps": [{"kind": "musing", "text": ""}]}, "key 'metadata.agent.steps[0].kind': expected one of"),
    ({**RAW, "status": 3}, "key 'metadata.agent.status': expected"),
    ({k: v for k, v in RAW.items() if k != "timestamp"}, "key 'metadata.agent.timestamp'"),
])
def test_a_damaged_record_is_named_by_file_and_key(damage, message):
    with pytest.raises(RecordFormatError, match=r"examples/tools/q-1/trajectory.json: " + message.replace("[", r"\[")
                       .replace("]", r"\]").replace("(", r"\(")):
        AgentRecord.of(trajectory_with(damage))
