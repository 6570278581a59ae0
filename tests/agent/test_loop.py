"""The agent loop with scripted replies: tool calls run, failures become observations, limits hold."""

from __future__ import annotations

import pytest

from generator.agent.formats import ReactLabels
from generator.agent.loop import AgentSpec, agent_format, run_agent

SHORT = ReactLabels(question="Q:", thought="T:", call="C:", observation="O:", answer="A:")


def scripted(*lines: str):
    """A 'model' that writes these lines in turn (then nothing), recording the contexts it saw."""
    queue, seen = list(lines), []

    def reply(context: str, whole_turn: bool) -> str:
        seen.append(context)
        return queue.pop(0) + "\n" if queue else ""

    reply.seen = seen
    return reply


def run(*lines: str, **spec_options):
    spec = AgentSpec(labels=SHORT, **spec_options)
    reply = scripted(*lines)
    return run_agent("17+4*6=", reply, spec, agent_format(spec)), reply


def test_a_call_runs_the_tool_and_the_observation_is_what_the_model_reads_next():
    transcript, reply = run("T: 4*6", "C: calc(4*6)", "T: 17+24", "C: calc(17+24)", "A: 41")
    assert transcript.status == "answered" and transcript.answer == "41"
    assert [s.kind for s in transcript.steps] == ["thought", "call", "observation", "thought", "call", "observation",
                                                 "answer"]
    assert transcript.steps[2].text == "24" and transcript.steps[5].text == "41"
    assert reply.seen[2] == "Q: 17+4*6=\nT: 4*6\nC: calc(4*6)\nO: 24\n"
    assert transcript.text == "Q: 17+4*6=\nT: 4*6\nC: calc(4*6)\nO: 24\nT: 17+24\nC: calc(17+24)\nO: 41\nA: 41\n"
    for span, step in zip(transcript.spans[1:], transcript.steps):
        assert transcript.text[span[0]:span[1]].endswith(step.text)


@pytest.mark.parametrize("line,error", [
    ("C: rm(-rf)", "unknown tool"),
    ("C: calc(1/0)", "raised"),
    ("C: calc 4*6", "malformed call"),
    ("C: lookup(nothing)", "raised"),
])
def test_a_failed_call_is_an_error_observation_and_the_run_goes_on(line, error):
    transcript, reply = run(line, "A: 5")
    observation = transcript.steps[1]
    assert observation.kind == "observation" and observation.error == error
    assert observation.text.startswith("error:")
    assert transcript.status == "answered" and transcript.answer == "5"
    assert "O: error:" in reply.seen[1]


def test_a_model_that_never_answers_is_stopped_at_the_step_limit():
    transcript, _ = run(*["T: thinking"] * 50, max_steps=5)
    assert transcript.status == "step limit" and transcript.answer is None
    assert len(transcript.steps) == 5


def test_a_model_that_stops_writing_ends_the_run():
    transcript, _ = run("T: 4*6")
    assert transcript.status == "stopped" and transcript.answer is None


def test_an_over_long_observation_is_refused():
    transcript, _ = run("C: calc(" + "+".join(["1"] * 60) + ")", "A: 1", max_observation_chars=1)
    assert transcript.steps[1].error == "too long"


def test_a_tool_that_is_not_allowed_is_unknown_to_the_run():
    transcript, _ = run("C: lookup(dozen)", "A: 12", tools=("calc",))
    assert transcript.steps[1].error == "unknown tool"


def test_continuing_from_edited_steps_reads_the_edited_observation():
    spec = AgentSpec(labels=SHORT)
    fmt = agent_format(spec)
    first, _ = run("T: 4*6", "C: calc(4*6)", "A: 24")
    edited = first.steps[:2] + [fmt.observation("calc", "31", None)]
    reply = scripted("A: 31")
    again = run_agent("17+4*6=", reply, spec, fmt, edited)
    assert reply.seen[0].endswith("C: calc(4*6)\nO: 31\n") and again.answer == "31"


class _ScriptedModel:
    """Stands in for a causal LM: emits the given token ids in turn, whatever it is shown."""

    def __init__(self, ids, end_tokens):
        import types

        import torch

        self.ids, self.device = list(ids), torch.device("cpu")
        self.generation_config = types.SimpleNamespace(eos_token_id=end_tokens)

    def __call__(self, input_ids, past_key_values=None, use_cache=True):
        import types

        import torch

        logits = torch.zeros(1, input_ids.shape[1], 100)
        logits[0, -1, self.ids.pop(0)] = 1.0
        return types.SimpleNamespace(logits=logits, past_key_values=None)


def test_the_model_reply_stops_at_a_newline_or_at_any_end_of_turn_token():
    from transformers import AutoTokenizer

    from generator.agent.loop import model_reply
    from tests.conftest import REPO_ROOT

    tokenizer = AutoTokenizer.from_pretrained(REPO_ROOT / "data/models/atlas-arith-demo")
    ids = tokenizer("42\n7", add_special_tokens=False)["input_ids"]
    spec = AgentSpec(labels=SHORT)
    line = model_reply(_ScriptedModel(ids, None), tokenizer, spec)("Q: x\n", False)
    assert line == "42\n"
    end_of_turn = 99  # not the tokenizer's eos: a chat model's own end-of-turn token
    turn = model_reply(_ScriptedModel(ids[:2] + [end_of_turn], [tokenizer.eos_token_id, end_of_turn]), tokenizer,
                       spec)("User: x\nBot:", True)
    assert turn == "42"
