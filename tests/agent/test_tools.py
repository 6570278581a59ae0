"""Tools: the calculator's grammar, argument binding, and every failure as an observation."""

from __future__ import annotations

import time

import pytest

from generator.agent.tools import TOOLS, CalculatorError, ToolLimits, calc, call_tool, calculate, register_tool

LIMITS = ToolLimits(timeout_s=0.5, max_result_chars=20)


@pytest.mark.parametrize("expression,expected", [
    ("17+4*6", "41"), ("(17+4)*6", "126"), ("2*(3+(4-1))/3", "4"), ("-3*-2", "6"), ("7/2", "3.5"),
    (" 1 + 2 ", "3"), ("10-2-3", "5"), ("8/4/2", "1"), ("1.5*2", "3"),
])
def test_the_calculator_follows_arithmetic(expression, expected):
    assert calc(expression) == expected


@pytest.mark.parametrize("expression", ["", "2+", "(2", "2)", "__import__('os')", "2**3", "1/0", "abc", "2 3"])
def test_the_calculator_refuses_anything_else(expression):
    with pytest.raises(CalculatorError):
        calculate(expression)


def test_a_call_that_is_not_arithmetic_runs_nothing_and_becomes_an_error_observation(tmp_path):
    marker = tmp_path / "ran"
    outcome = call_tool("calc", f"__import__('pathlib').Path({str(marker)!r}).touch()", ("calc",), LIMITS)
    assert outcome.error == "raised" and outcome.observation.startswith("error: calc failed")
    assert not marker.exists()


@pytest.mark.parametrize("name,arguments,error", [
    ("rm", "-rf /", "unknown tool"),
    ("lookup", "dozen", "unknown tool"),  # registered, but not allowed in this run
    ("calc", {"expression": "1", "extra": 2}, "bad arguments"),
    ("calc", {}, "bad arguments"),
    ("calc", {"expression": True}, "bad arguments"),
    ("calc", "1/0", "raised"),
])
def test_every_failure_is_an_observation_not_an_exception(name, arguments, error):
    outcome = call_tool(name, arguments, ("calc",), LIMITS)
    assert outcome.error == error and outcome.observation.startswith("error:")


def test_a_slow_tool_times_out_and_an_over_long_result_is_refused():
    @register_tool("test_sleep", "sleeps", seconds="how long")
    def sleep(seconds: float) -> str:
        time.sleep(seconds)
        return "woke"

    @register_tool("test_long", "a long result", n="length")
    def long(n: int) -> str:
        return "x" * n

    try:
        started = time.monotonic()
        slow = call_tool("test_sleep", "2", ("test_sleep",), LIMITS)
        assert slow.error == "timed out" and time.monotonic() - started < 1.5
        assert call_tool("test_sleep", "0", ("test_sleep",), LIMITS) == call_tool("test_sleep", "0", ("test_sleep",),
                                                                                   LIMITS)
        assert call_tool("test_long", "n=21", ("test_long",), LIMITS).error == "too long"
        assert call_tool("test_long", "n=20", ("test_long",), LIMITS).observation == "x" * 20
        assert call_tool("test_long", "n=lots", ("test_long",), LIMITS).error == "bad arguments"
    finally:
        TOOLS.unregister("test_sleep")
        TOOLS.unregister("test_long")


def test_lookup_reads_the_shipped_facts():
    assert call_tool("lookup", "dozen", ("lookup",), LIMITS).observation == "12"
    assert call_tool("lookup", "unicorn", ("lookup",), LIMITS).error == "raised"


def test_a_tool_describes_itself_as_chat_templates_expect():
    schema = TOOLS.get("calc").json_schema()
    assert schema["function"]["name"] == "calc"
    assert schema["function"]["parameters"]["properties"]["expression"]["type"] == "string"
    assert schema["function"]["parameters"]["required"] == ["expression"]


def test_hanging_calls_never_starve_later_ones_and_are_stopped():
    """Each call runs in its own process, killed at its limit: after many hung calls, calc still answers."""
    import psutil

    @register_tool("test_hang", "never returns", seconds="ignored")
    def hang(seconds: float) -> str:
        while True:
            pass

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    try:
        limits = ToolLimits(timeout_s=0.3, max_result_chars=20)
        for _ in range(6):  # more than any pool of workers would hold
            assert call_tool("test_hang", "1", ("test_hang",), limits).error == "timed out"
        assert call_tool("calc", "2+2", ("calc",), limits).observation == "4"
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert not [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        TOOLS.unregister("test_hang")


def test_a_tool_that_kills_its_process_is_an_error_observation():
    import os

    @register_tool("test_exit", "exits", code="exit code")
    def leave(code: int) -> str:
        os._exit(code)

    try:
        outcome = call_tool("test_exit", "3", ("test_exit",), LIMITS)
        assert outcome.error == "raised" and "ended with code 3" in outcome.observation
    finally:
        TOOLS.unregister("test_exit")
