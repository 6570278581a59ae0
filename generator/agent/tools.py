"""Tools an agent may call: plain Python functions registered by name, with typed arguments.

Nothing a model writes is executed except by calling one of these through ``call_tool``, which
turns every failure (an unknown tool, arguments that do not parse, an exception, a time limit,
an over-long result) into an error observation: failure is data, and the run goes on.
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
import re
import typing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from generator.registry import Registry
from generator.shipped import shipped

ARGUMENT_TYPES = {str: "string", int: "integer", float: "number"}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type  # str, int or float
    description: str


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    function: Callable[..., object]

    def json_schema(self) -> dict:
        """The function description chat templates take as ``tools=``."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "required": [p.name for p in self.parameters],
                           "properties": {p.name: {"type": ARGUMENT_TYPES[p.type], "description": p.description}
                                          for p in self.parameters}}}}


TOOLS: Registry[Tool] = Registry("tool")


def register_tool(name: str, description: str, **parameter_descriptions: str):
    """Decorator: register ``function`` as tool ``name``; its annotated parameters are the arguments."""
    def wrap(function: Callable[..., object]) -> Callable[..., object]:
        parameters = []
        hints = typing.get_type_hints(function)
        for parameter in inspect.signature(function).parameters.values():
            kind = hints.get(parameter.name) if hints.get(parameter.name) in ARGUMENT_TYPES else None
            if kind is None:
                raise TypeError(f"tool {name!r}: parameter {parameter.name!r} needs a str, int or float annotation")
            parameters.append(Parameter(parameter.name, kind, parameter_descriptions.get(parameter.name, "")))
        TOOLS.register(name, Tool(name, description, tuple(parameters), function))
        return function
    return wrap


@dataclass(frozen=True)
class ToolOutcome:
    """What a call gave back: the observation the model sees, and whether it is an error."""

    observation: str
    error: str | None = None  # "unknown tool" | "bad arguments" | "raised" | "timed out" | "too long"


@dataclass(frozen=True)
class ToolLimits:
    timeout_s: float = 5.0
    max_result_chars: int = 200


def bind_arguments(tool: Tool, raw: str | dict) -> dict[str, object]:
    """Arguments from a text call (``4*6`` for a one-argument tool, else ``a=1, b=x``) or a JSON object."""
    if isinstance(raw, str):
        raw = _text_arguments(tool, raw)
    if not isinstance(raw, dict):
        raise ValueError(f"expected an object of arguments, got {type(raw).__name__}")
    wanted = {p.name: p for p in tool.parameters}
    unknown = sorted(set(raw) - set(wanted))
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)}; {tool.name} takes {', '.join(wanted) or 'none'}")
    missing = [name for name in wanted if name not in raw]
    if missing:
        raise ValueError(f"missing argument(s) {', '.join(missing)}")
    bound = {}
    for name, value in raw.items():
        kind = wanted[name].type
        try:
            bound[name] = kind(value) if not isinstance(value, bool) else _refuse_bool(name)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"argument {name}: expected {ARGUMENT_TYPES[kind]}, got {value!r}") from exc
    return bound


def _text_arguments(tool: Tool, raw: str) -> dict[str, str]:
    """``4*6`` (the one argument of a one-argument tool) or ``a=1, b=x``, as a mapping of texts."""
    if len(tool.parameters) == 1 and not re.fullmatch(rf"\s*{tool.parameters[0].name}\s*=.*", raw, re.S):
        return {tool.parameters[0].name: raw.strip()}
    pairs = [part.split("=", 1) for part in raw.split(",")] if raw.strip() else []
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"expected name=value arguments, got {raw!r}")
    return {key.strip(): value.strip() for key, value in pairs}


def _refuse_bool(name: str):
    raise ValueError(f"argument {name}: a boolean is not a value here")


def _run_in_child(function: Callable[..., object], bound: dict, sender) -> None:
    try:
        sender.send(("ok", function(**bound)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as the call's outcome
        sender.send(("raised", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


def _isolated_call(function: Callable[..., object], bound: dict, timeout_s: float) -> tuple[str, object]:
    """One call in its own process, killed when it runs past ``timeout_s``: ("ok", result), ("raised", text)
    or ("timed out", None). No call can hold a thread, a worker or the CPU that later calls need."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_run_in_child, args=(function, bound, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            return "timed out", None
        try:
            return receiver.recv()
        except EOFError:  # the process died without an answer (killed, os._exit)
            process.join(timeout_s)
            return "raised", f"the tool's process ended with code {process.exitcode} and no result"
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()


def call_tool(name: str, arguments: str | dict, allowed: tuple[str, ...], limits: ToolLimits) -> ToolOutcome:
    """Run a registered, allowed tool; anything that goes wrong becomes an error observation.

    Each call runs in its own process, killed at its time limit, so a tool that hangs costs
    that call alone; the run goes on with an error observation.
    """
    if name not in allowed or name not in TOOLS:
        return ToolOutcome(f"error: unknown tool {name!r} (available: {', '.join(allowed) or 'none'})",
                           "unknown tool")
    tool = TOOLS.get(name)
    try:
        bound = bind_arguments(tool, arguments)
    except ValueError as exc:
        return ToolOutcome(f"error: {exc}", "bad arguments")
    outcome, result = _isolated_call(tool.function, bound, limits.timeout_s)
    if outcome == "timed out":
        return ToolOutcome(f"error: {name} took longer than {limits.timeout_s:g} s", "timed out")
    if outcome == "raised":
        return ToolOutcome(f"error: {name} failed: {result}", "raised")
    text = result if isinstance(result, str) else json.dumps(result)
    if len(text) > limits.max_result_chars:
        return ToolOutcome(f"error: {name} returned {len(text)} characters (limit {limits.max_result_chars})",
                           "too long")
    return ToolOutcome(text)


# ---- the shipped tools ------------------------------------------------------------------------

class CalculatorError(ValueError):
    """An expression outside the calculator's grammar, or a division by zero."""


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(.))")


def calculate(expression: str) -> Fraction:
    """Numbers, + - * /, unary minus and parentheses, parsed by recursive descent (never ``eval``)."""
    tokens = []
    for number, symbol in _TOKEN.findall(expression):
        if number:
            tokens.append(Fraction(number))
        elif symbol.strip():
            if symbol not in "+-*/()":
                raise CalculatorError(f"unexpected {symbol!r}")
            tokens.append(symbol)
    if len(tokens) > 200:
        raise CalculatorError("expression too long (over 200 tokens)")
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def expression_():
        value = term()
        while peek() in ("+", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    def term():
        value = factor()
        while peek() in ("*", "/"):
            operator, right = take(), factor()
            if operator == "/" and right == 0:
                raise CalculatorError("division by zero")
            value = value * right if operator == "*" else value / right
        return value

    def factor(depth: int = 0):
        token = peek()
        if token == "-":
            take()
            return -factor()
        if token == "(":
            take()
            value = expression_()
            if take_or_none() != ")":
                raise CalculatorError("missing ')'")
            return value
        if isinstance(token, Fraction):
            return take()
        raise CalculatorError("expected a number" if token is None else f"unexpected {token!r}")

    def take_or_none():
        return take() if peek() is not None else None

    if not tokens:
        raise CalculatorError("empty expression")
    value = expression_()
    if peek() is not None:
        raise CalculatorError(f"unexpected {peek()!r}")
    return value


def format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


@register_tool("calc", "Evaluate arithmetic: numbers, + - * /, parentheses.",
               expression="the arithmetic expression, e.g. 17+4*6")
def calc(expression: str) -> str:
    return format_number(calculate(expression))


FACTS_FILE = shipped("data") / "facts.json"


def load_facts(path: Path = FACTS_FILE) -> dict[str, str]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of name: value facts")
    return {str(key): str(value) for key, value in data.items()}


@register_tool("lookup", "Look up a named quantity in the facts file (e.g. dozen, week).",
               key="the name to look up")
def lookup(key: str) -> str:
    facts = load_facts()
    if key.strip() not in facts:
        raise KeyError(f"no fact named {key.strip()!r}")
    return facts[key.strip()]
