"""The two ways an agent's turns are written: a text ReAct format, and a chat template's tool calls.

Both keep the conversation as a list of steps and can render it to the exact text the model
reads, with each step's character span, so attention over the whole sequence is split into
one segment per thought, tool call, observation and answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

StepKind = Literal["thought", "call", "observation", "answer", "other"]


@dataclass(frozen=True)
class AgentStep:
    """One part of an agent run, as the model wrote it or as a tool answered."""

    kind: StepKind
    text: str  # the content, without its label
    tool: str | None = None  # calls and observations: which tool
    arguments: str | dict | None = None  # calls: as written (text) or as a JSON object (chat)
    error: str | None = None  # observations: the error's kind; calls: "malformed call"


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


TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


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

    def read_reply(self, reply: str) -> list[AgentStep]:
        """A whole assistant reply: a thought and a tool call, or the answer."""
        reply = reply.strip()
        tagged = TOOL_CALL_TAG.search(reply)
        if tagged:
            thought, payload = reply[:tagged.start()].strip(), tagged.group(1)
        else:
            brace = reply.find("{")
            thought, payload = (reply[:brace].strip(), reply[brace:]) if brace >= 0 else (reply, None)
        call = None
        if payload is not None:
            try:
                data = json.loads(payload)
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                arguments = data.get("arguments", data.get("parameters", {}))
                if isinstance(arguments, str):
                    try:
                        arguments = json.loads(arguments)
                    except ValueError:
                        pass
                call = AgentStep("call", json.dumps({"name": data["name"], "arguments": arguments}),
                                 tool=data["name"], arguments=arguments)
            elif tagged:
                call = AgentStep("call", payload, error="malformed call")
        if call is None:
            return [AgentStep("answer", reply)]
        return ([AgentStep("thought", thought)] if thought else []) + [call]

    def observation(self, tool: str | None, text: str, error: str | None) -> AgentStep:
        return AgentStep("observation", text, tool=tool, error=error)

    def render(self, query: str, steps: list[AgentStep]) -> tuple[str, list[tuple[int, int] | None]]:
        text = self.tokenizer.apply_chat_template(self.messages(query, steps), tools=self.tool_schemas,
                                                  tokenize=False)
        calls = [step.kind == "call" and isinstance(step.arguments, dict) for step in steps]
        # the template writes a call its own way: find the tool's name, then take the rest of that line
        pieces = [query] + [step.tool or "" if call else step.text for step, call in zip(steps, calls)]
        spans = spans_in_order(text, pieces)
        for index, call in enumerate(calls, start=1):
            if call and spans[index] is not None:
                start, end = spans[index]
                line_end = text.find("\n", end)
                later = [span[0] for span in spans[index + 1:] if span is not None]
                spans[index] = (start, min([line_end if line_end >= 0 else len(text)] + later[:1]))
        return text, spans
