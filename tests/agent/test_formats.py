"""Both tool-call formats: the ReAct text lines and a chat template's tool calls, and their segments."""

from __future__ import annotations

import pytest

from generator.agent.formats import ChatFormat, ReactFormat
from generator.agent.loop import AgentSpec, agent_format, run_agent
from generator.agent.trajectory import agent_trajectory
from generator.datasets import Example
from tests.conftest import REPO_ROOT

HERMES_LIKE = (
    "{% if tools %}System: tools {% for tool in tools %}{{ tool.function.name }} {% endfor %}\n{% endif %}"
    "{% for m in messages %}"
    "{% if m.role == 'user' %}User: {{ m.content }}\n"
    "{% elif m.role == 'assistant' %}Bot: {{ m.content }}{% for c in m.tool_calls or [] %}<tool_call>"
    "{\"name\": \"{{ c.function.name }}\", \"arguments\": {{ c.function.arguments | tojson }}}</tool_call>{% endfor %}\n"
    "{% elif m.role == 'tool' %}Tool: {{ m.content }}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Bot:{% endif %}")


@pytest.fixture()
def chat_tokenizer():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(REPO_ROOT / "data/models/atlas-arith-demo")
    tokenizer.chat_template = HERMES_LIKE
    return tokenizer


def scripted(*replies: str):
    queue, seen = list(replies), []

    def reply(context: str, whole_turn: bool) -> str:
        seen.append((context, whole_turn))
        return queue.pop(0) if queue else ""

    reply.seen = seen
    return reply


def test_react_reads_each_line_kind():
    fmt = ReactFormat()
    assert fmt.read("Thought: add them\n").kind == "thought"
    call = fmt.read("Action: calc(2+2)")
    assert (call.kind, call.tool, call.arguments, call.error) == ("call", "calc", "2+2", None)
    assert fmt.read("Action: calc 2+2").error == "malformed call"
    assert fmt.read("Answer: 4").text == "4"
    assert fmt.read("something else").kind == "other"


def test_chat_format_uses_the_template_with_tools_and_its_tool_call_syntax(chat_tokenizer):
    spec = AgentSpec(format="chat", tools=("calc",))
    fmt = agent_format(spec, chat_tokenizer)
    assert isinstance(fmt, ChatFormat)
    reply = scripted('I need 4*6.<tool_call>{"name": "calc", "arguments": {"expression": "4*6"}}</tool_call>',
                     "It is 24.")
    transcript = run_agent("What is 4*6?", reply, spec, fmt)
    assert [s.kind for s in transcript.steps] == ["thought", "call", "observation", "answer"]
    assert transcript.steps[2].text == "24" and transcript.answer == "It is 24."
    first_context, whole_turn = reply.seen[0]
    assert whole_turn and first_context == "System: tools calc User: What is 4*6?\nBot:"  # (the template trims)
    assert reply.seen[1][0].endswith('"arguments": {"expression": "4*6"}}</tool_call>Tool: 24\nBot:')
    trajectory = agent_trajectory(transcript, Example("q1", "What is 4*6?", answer="24"), "chat", chat_tokenizer, spec)
    texts = {s.name: trajectory.text[s.char_start:s.char_end] for s in trajectory.segments}
    assert texts["question"] == "What is 4*6?" and texts["thought 1"] == "I need 4*6."
    assert texts["call 1"].startswith("calc") and texts["observation 1"] == "24" and texts["answer"] == "It is 24."
    assert trajectory.metadata["agent"]["format"] == "chat"


def test_chat_format_reads_a_bare_json_call_and_refuses_a_broken_one(chat_tokenizer):
    spec = AgentSpec(format="chat", tools=("calc",))
    fmt = agent_format(spec, chat_tokenizer)
    bare = run_agent("q", scripted('{"name": "calc", "parameters": {"expression": "2+3"}}', "5"), spec, fmt)
    assert bare.steps[1].text == "5" and bare.answer == "5"
    broken = run_agent("q", scripted("<tool_call>{calc(2+3)</tool_call>", "done"), spec, fmt)
    assert broken.steps[0].error == "malformed call" and broken.steps[1].error == "malformed call"
    assert broken.answer == "done"


def test_chat_format_needs_a_chat_template(chat_tokenizer):
    chat_tokenizer.chat_template = None
    with pytest.raises(ValueError, match="chat template"):
        agent_format(AgentSpec(format="chat"), chat_tokenizer)


def test_every_call_of_a_reply_runs_in_order_with_its_own_observation(chat_tokenizer):
    """Two <tool_call> blocks in one reply (Qwen's parallel calls): both run, neither is dropped."""
    spec = AgentSpec(format="chat", tools=("calc",))
    fmt = agent_format(spec, chat_tokenizer)
    reply = scripted('Both.<tool_call>{"name": "calc", "arguments": {"expression": "2*3"}}</tool_call>\n'
                     '<tool_call>{"name": "calc", "arguments": {"expression": "4+5"}}</tool_call>', "6 and 9")
    transcript = run_agent("q", reply, spec, fmt)
    assert [(s.kind, s.text) for s in transcript.steps if s.kind == "observation"] == [("observation", "6"),
                                                                                       ("observation", "9")]
    assert [s.kind for s in transcript.steps] == ["thought", "call", "observation", "call", "observation", "answer"]


def test_the_question_is_found_in_the_users_turn_not_in_the_tool_descriptions(chat_tokenizer):
    """A query that is also a tool's name ('calc') must not be placed inside the system prompt."""
    spec = AgentSpec(format="chat", tools=("calc",))
    fmt = agent_format(spec, chat_tokenizer)
    transcript = run_agent("calc", scripted("It is a tool."), spec, fmt)
    assert transcript.text.index("calc") < transcript.text.index("User:")  # the tools list names it first
    start, end = transcript.spans[0]
    assert transcript.text[start:end] == "calc" and start > transcript.text.index("User:")


@pytest.mark.parametrize("template,dropped", [
    ("{% for m in messages %}{% if m.role == 'user' %}User: {{ m.content }}\n{% endif %}{% endfor %}Bot:",
     "the assistant's tool call, the tool's result, the assistant's answer"),
    (HERMES_LIKE.replace("{% elif m.role == 'tool' %}Tool: {{ m.content }}\n", ""), "the tool's result"),
])
def test_a_chat_template_that_drops_turns_is_refused_with_the_reason(chat_tokenizer, template, dropped):
    from generator.agent.formats import AgentFormatError

    chat_tokenizer.chat_template = template
    with pytest.raises(AgentFormatError, match=f"the chat template drops {dropped};"):
        agent_format(AgentSpec(format="chat"), chat_tokenizer)


def test_the_conversation_stops_before_it_passes_the_models_context():
    """The shipped model has 256 positions: a run is stopped, and says so, before its context would pass them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generator.agent.loop import model_reply

    model = AutoModelForCausalLM.from_pretrained(REPO_ROOT / "data/models/atlas-arith-demo")
    tokenizer = AutoTokenizer.from_pretrained(REPO_ROOT / "data/models/atlas-arith-demo")
    spec = AgentSpec(max_steps=200, max_reply_tokens=64)
    transcript = run_agent("Q: " + "1+" * 90 + "1=", model_reply(model, tokenizer, spec), spec, ReactFormat())
    assert transcript.status == "context full"
    assert len(tokenizer(transcript.text)["input_ids"]) <= model.config.max_position_embeddings


CHATML_WITH_TOOLS = (  # the structure Qwen-style templates use: tools as JSON in the system turn, results as user turns
    "{%- if tools %}<|im_start|>system\nYou can call these functions:\n<tools>"
    "{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}\n</tools><|im_end|>\n{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}<|im_start|>user\n{{ m.content }}<|im_end|>\n"
    "{%- elif m.role == 'assistant' %}<|im_start|>assistant\n{{ m.content }}"
    "{%- for c in m.tool_calls or [] %}\n<tool_call>\n{\"name\": \"{{ c.function.name }}\", \"arguments\": "
    "{{ c.function.arguments | tojson }}}\n</tool_call>{%- endfor %}<|im_end|>\n"
    "{%- elif m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n</tool_response><|im_end|>\n"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}")


def test_a_chatml_template_with_tools_in_the_system_turn(chat_tokenizer):
    """A query whose words are in the tool descriptions ('dozen' is lookup's example) is found in the user turn."""
    chat_tokenizer.chat_template = CHATML_WITH_TOOLS
    spec = AgentSpec(format="chat", tools=("calc", "lookup"))
    fmt = agent_format(spec, chat_tokenizer)  # the probe conversation passes: every turn is kept
    reply = scripted('<tool_call>\n{"name": "lookup", "arguments": {"key": "dozen"}}\n</tool_call>', "12")
    transcript = run_agent("dozen", reply, spec, fmt)
    assert [s.kind for s in transcript.steps] == ["call", "observation", "answer"] and transcript.answer == "12"
    start, end = transcript.spans[0]
    assert transcript.text.index("dozen") < transcript.text.index("<|im_start|>user")  # in the tools' JSON first
    assert transcript.text[start:end] == "dozen" and start > transcript.text.index("<|im_start|>user")
    observation = transcript.spans[2]
    assert transcript.text[observation[0]:observation[1]] == transcript.steps[1].text
