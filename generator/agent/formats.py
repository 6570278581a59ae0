"""The two ways an agent's turns are written: a text ReAct format, and a chat template's tool calls.

Both keep the conversation as a list of steps and can render it to the exact text the model
reads, with each step's character span, so attention over the whole sequence is split into
one segment per thought, tool call, observation and answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from generator.store.agent_record import AgentStep, StepKind  # the loop's steps are the stored ones


@dataclass(frozen=True)
class ReactLabels:
    """Line labels of the text ReAct format (the shipped model uses Q:, T:, C:, O:, A:)."""

    question: str = "Question:"
    thought: str = "Thought:"
    call: str = "Action:"
    observation: str = "Observation:"
    answer: str = "Answer:"


CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*", re.S)


def spans_in_order(text: str, pieces: list[str], start: int = 0) -> list[tuple[int, int] | None]:
    """Where each piece occurs in ``text``, each searched after the previous one (None: not found)."""
    spans: list[tuple[int, int] | None] = []
    cursor = start
    for piece in pieces:
        at = text.find(piece, cursor) if piece else -1
        if at < 0:
            spans.append(None)
            continue
        spans.append((at, at + len(piece)))
        cursor = at + len(piece)
    return spans


@dataclass
class ReactFormat:
    """``Question: ...`` then one line per step: ``Thought:``, ``Action: tool(args)``, ``Observation:``, ``Answer:``.

    The model writes one line at a time; a line with an action is answered by an observation
    line the loop writes; a line with an answer ends the run.
    """

    labels: ReactLabels = field(default_factory=ReactLabels)
    name: str = "react"

    def label(self, kind: StepKind) -> str:
        return getattr(self.labels, kind)

    def prompt(self, query: str, steps: list[AgentStep]) -> str:
        text = f"{self.labels.question} {query}\n"
        for step in steps:
            text += self.line(step)
        return text

    def line(self, step: AgentStep) -> str:
        if step.kind == "other":
            return f"{step.text}\n"
        return f"{self.label(step.kind)} {step.text}\n"

    def read(self, reply: str) -> AgentStep:
        """One line the model wrote, as a step (a call it wrote badly stays a call marked malformed)."""
        line = reply.split("\n", 1)[0].strip()
        for kind in ("answer", "call", "thought"):
            label = self.label(kind)  # type: ignore[arg-type]
            if line.startswith(label):
                content = line[len(label):].strip()
                if kind != "call":
                    return AgentStep(kind, content)  # type: ignore[arg-type]
                match = CALL.fullmatch(content)
                if match is None:
                    return AgentStep("call", content, error="malformed call")
                return AgentStep("call", content, tool=match.group(1), arguments=match.group(2))
        return AgentStep("other", line)

    def observation(self, tool: str | None, text: str, error: str | None) -> AgentStep:
        return AgentStep("observation", " ".join(text.split("\n")), tool=tool, error=error)

    def render(self, query: str, steps: list[AgentStep]) -> tuple[str, list[tuple[int, int] | None]]:
        """The whole text and the span of the question and of each step (its label included)."""
        text = self.prompt(query, steps)
        pieces = [f"{self.labels.question} {query}"] + [self.line(s).rstrip("\n") for s in steps]
        return text, spans_in_order(text, pieces)


class AgentFormatError(ValueError):
    """An agent format that cannot run with this tokenizer (no chat template, or one that drops turns)."""


PROBE = "atlas-probe-{}-7f3a"  # text no template writes by itself: where it shows, the template kept that turn


TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


def _read_call(payload: str, tagged: bool) -> AgentStep | None:
    """One JSON tool call (``name`` and ``arguments``); a tagged block that is not one is a malformed call."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        arguments = data.get("arguments", data.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError):
                pass
        return AgentStep("call", json.dumps({"name": data["name"], "arguments": arguments}),
                         tool=data["name"], arguments=arguments)
    return AgentStep("call", payload, error="malformed call") if tagged else None


@dataclass
class ChatFormat:
    """The tokenizer's chat template with ``tools=``; tool calls in the template's own syntax.

    Replies are read for ``<tool_call>{json}</tool_call>`` blocks (Hermes, Qwen) or a bare JSON
    object with ``name`` and ``arguments`` (Llama 3.1); anything else is the answer.
    """

    tokenizer: object
    tool_schemas: list[dict]
    name: str = "chat"

    def messages(self, query: str, steps: list[AgentStep]) -> list[dict]:
        messages: list[dict] = [{"role": "user", "content": query}]
        thought = ""
        for step in steps:
            if step.kind == "thought":
                thought = step.text
            elif step.kind == "call":
                arguments = step.arguments if isinstance(step.arguments, dict) else {"input": step.arguments}
                messages.append({"role": "assistant", "content": thought, "tool_calls": [
                    {"type": "function", "function": {"name": step.tool or "", "arguments": arguments}}]})
                thought = ""
            elif step.kind == "observation":
                messages.append({"role": "tool", "name": step.tool or "", "content": step.text})
            elif step.kind in ("answer", "other"):
                messages.append({"role": "assistant", "content": (thought + "\n" if thought else "") + step.text})
                thought = ""
        return messages

    def prompt(self, query: str, steps: list[AgentStep]) -> str:
        return self.tokenizer.apply_chat_template(self.messages(query, steps), tools=self.tool_schemas,
                                                  add_generation_prompt=True, tokenize=False)

    def check_template(self) -> None:
        """Refuse a template that drops the user's question, a tool call, its result or the answer:
        the model would never see what its tools returned (found by rendering a probe conversation)."""
        steps = [AgentStep("call", "", tool=PROBE.format("tool"), arguments={"x": 1}),
                 AgentStep("observation", PROBE.format("result"), tool=PROBE.format("tool")),
                 AgentStep("answer", PROBE.format("answer"))]
        try:
            text = self.tokenizer.apply_chat_template(self.messages(PROBE.format("question"), steps),
                                                      tools=self.tool_schemas, tokenize=False)
        except Exception as exc:  # noqa: BLE001 - a template raises whatever its author wrote
            raise AgentFormatError(f"the chat template cannot render a tool conversation ({type(exc).__name__}: "
                                   f"{exc})") from exc
        dropped = [what for what, key in (("the user's question", "question"), ("the assistant's tool call", "tool"),
                                          ("the tool's result", "result"), ("the assistant's answer", "answer"))
                   if PROBE.format(key) not in text]
        if dropped:
            raise AgentFormatError(f"the chat template drops {', '.join(dropped)}; an agent needs a template that "
                                   "renders user, assistant (with tool calls) and tool turns")

    def question_start(self) -> int | None:
        """Where the user's question begins in every rendering: the template's own text before it."""
        text = self.tokenizer.apply_chat_template([{"role": "user", "content": PROBE.format("question")}],
                                                  tools=self.tool_schemas, tokenize=False)
        at = text.find(PROBE.format("question"))
        return at if at >= 0 else None

    def read_reply(self, reply: str) -> list[AgentStep]:
        """A whole assistant reply: a thought and its tool calls (several, in order, as Qwen writes
        parallel calls), or the answer."""
        reply = reply.strip()
        tagged = list(TOOL_CALL_TAG.finditer(reply))
        if tagged:
            thought, payloads = reply[:tagged[0].start()].strip(), [match.group(1) for match in tagged]
        else:
            brace = reply.find("{")
            thought, payloads = (reply[:brace].strip(), [reply[brace:]]) if brace >= 0 else (reply, [])
        calls = [call for payload in payloads if (call := _read_call(payload, bool(tagged))) is not None]
        if not calls:
            return [AgentStep("answer", reply)]
        return ([AgentStep("thought", thought)] if thought else []) + calls

    def observation(self, tool: str | None, text: str, error: str | None) -> AgentStep:
        return AgentStep("observation", text, tool=tool, error=error)

    def render(self, query: str, steps: list[AgentStep]) -> tuple[str, list[tuple[int, int] | None]]:
        text = self.tokenizer.apply_chat_template(self.messages(query, steps), tools=self.tool_schemas,
                                                  tokenize=False)
        calls = [step.kind == "call" and isinstance(step.arguments, dict) for step in steps]
        # the template writes a call its own way: find the tool's name, then take the rest of that line
        pieces = [step.tool or "" if call else step.text for step, call in zip(steps, calls)]
        # the question is where the template puts the user's turn, never a match in the system prompt's tools
        start = self.question_start()
        if start is not None and text.startswith(query, start):
            spans = [(start, start + len(query))] + spans_in_order(text, pieces, start + len(query))
        else:
            spans = spans_in_order(text, [query] + pieces)
        for index, call in enumerate(calls, start=1):
            if call and spans[index] is not None:
                start, end = spans[index]
                line_end = text.find("\n", end)
                later = [span[0] for span in spans[index + 1:] if span is not None]
                spans[index] = (start, min([line_end if line_end >= 0 else len(text)] + later[:1]))
        return text, spans
