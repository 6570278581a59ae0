"""The agent loop: the model writes, a called tool runs for real, its observation is appended; repeat.

The loop is written against a ``Reply`` function (context text -> what the model writes next), so
it runs the same with a causal LM (``model_reply``) and with scripted replies in tests. A run
ends with an answer, at the step limit, or when the model stops writing; every way a tool call
can fail becomes an error observation and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from generator.agent.formats import AgentFormatError, AgentStep, ChatFormat, ReactFormat, ReactLabels
from generator.agent.tools import TOOLS, ToolLimits, call_tool
from generator.capture.generation import cache_of, with_cache

Reply = Callable[[str, bool], str]  # (context, whole_turn) -> the model's next line (react) or turn (chat)
Status = Literal["answered", "step limit", "stopped", "context full"]


class ContextFull(Exception):
    """The conversation would pass the model's context before the next reply could be written."""


@dataclass(frozen=True)
class AgentSpec:
    """How an agent dataset runs (``datasets[i].agent`` in a run config)."""

    tools: tuple[str, ...] = ("calc", "lookup")
    max_steps: int = 12  # lines (react) or replies (chat) the model may write before the run is stopped
    format: Literal["react", "chat"] = "react"
    labels: ReactLabels = field(default_factory=ReactLabels)  # react only
    tool_timeout_s: float = 5.0
    max_observation_chars: int = 200
    max_reply_tokens: int = 64  # per line (react) or per reply (chat)
    counterfactual_offset: int = 7  # the counterfactual-tool check adds this to a numeric observation

    def limits(self) -> ToolLimits:
        return ToolLimits(self.tool_timeout_s, self.max_observation_chars)


@dataclass
class AgentTranscript:
    """One agent run: the query, every step, how it ended, and the text the model read."""

    query: str
    steps: list[AgentStep]
    status: Status
    answer: str | None
    text: str = ""
    spans: list[tuple[int, int] | None] = field(default_factory=list)  # question, then each step


def agent_format(spec: AgentSpec, tokenizer=None) -> ReactFormat | ChatFormat:
    """The format an agent dataset runs in; a chat template that cannot hold a tool conversation is refused."""
    if spec.format == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise AgentFormatError("format 'chat' needs a tokenizer with a chat template")
        fmt = ChatFormat(tokenizer, [TOOLS.get(name).json_schema() for name in spec.tools])
        fmt.check_template()
        return fmt
    return ReactFormat(spec.labels)


def run_agent(query: str, reply: Reply, spec: AgentSpec, fmt: ReactFormat | ChatFormat,
              steps: list[AgentStep] | None = None) -> AgentTranscript:
    """Run (or, given ``steps``, continue) the loop until an answer, the step limit or silence."""
    steps = list(steps or [])
    written = sum(1 for s in steps if s.kind != "observation")
    status: Status = "step limit"
    answer = None
    while written < spec.max_steps:
        context = fmt.prompt(query, steps)
        try:
            text = reply(context, isinstance(fmt, ChatFormat))
        except ContextFull:
            status = "context full"  # stopped before the model reads past the positions it was trained on
            break
        if not text.strip():
            status = "stopped"
            break
        new = fmt.read_reply(text) if isinstance(fmt, ChatFormat) else [fmt.read(text)]
        written += 1
        for step in new:
            steps.append(step)
            if step.kind == "call":
                steps.append(_observe(step, spec, fmt))
            elif step.kind == "answer":
                answer = step.text
        if answer is not None:
            status = "answered"
            break
    rendered, spans = fmt.render(query, steps)
    return AgentTranscript(query, steps, status, answer, rendered, spans)


def _observe(call: AgentStep, spec: AgentSpec, fmt) -> AgentStep:
    if call.error:
        return fmt.observation(None, f"error: could not read a tool call in {call.text!r} (expected name(arguments))",
                               "malformed call")
    outcome = call_tool(call.tool or "", call.arguments if call.arguments is not None else "", spec.tools,
                        spec.limits())
    return fmt.observation(call.tool, outcome.observation, outcome.error)


def model_reply(model, tokenizer, spec: AgentSpec, pick: Callable | None = None) -> Reply:
    """Decoding with the model: one line for react (stops at a newline), a whole turn for chat; greedy,
    or each token chosen by ``pick`` (a sampled run's per-example draw, ``Sampling.picker``)."""
    import torch

    # a chat model ends its turn with its own token (<|im_end|>, <|eot_id|>): the generation config lists them
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ends = {tokenizer.eos_token_id} | set(configured if isinstance(configured, (list, tuple)) else [configured])
    ends.discard(None)

    config = getattr(model, "config", None)
    positions = getattr(config.get_text_config(), "max_position_embeddings", None) if config is not None else None

    def reply(context: str, whole_turn: bool) -> str:
        ids = tokenizer(context, return_tensors="pt", add_special_tokens=not whole_turn)["input_ids"].to(model.device)
        if positions and ids.shape[1] + spec.max_reply_tokens > positions:
            raise ContextFull(f"{ids.shape[1]} tokens + {spec.max_reply_tokens} for the reply > {positions}")
        past = None
        new: list[int] = []
        with torch.no_grad():
            for _ in range(spec.max_reply_tokens):
                out = model(input_ids=ids if past is None else ids[:, -1:], use_cache=True, **with_cache(model, past))
                past = cache_of(out)
                token = int(out.logits[0, -1].argmax()) if pick is None else pick(out.logits[0, -1])
                if token in ends:
                    break
                new.append(token)
                ids = torch.cat([ids, torch.tensor([[token]], device=ids.device)], dim=1)
                if not whole_turn and "\n" in tokenizer.decode(new[-1:]):
                    break
        return tokenizer.decode(new, skip_special_tokens=True)

    return reply
