"""Finding a model's answer in its text and deciding whether it is the expected one.

*Where* the answer is (``segmentation.answer_format``) decides the answer segment, what
teacher forcing replaces and what is parsed: the run's ``answer_pattern`` (its first group is
the value), or a preset for how real models write answers:

- ``boxed``: the last ``\\boxed{...}`` (braces balanced; Qwen2.5-Math, R1-style models);
- ``hash``: the text after the last ``####`` on its line (GSM8K's solutions);
- ``answer_is``: what follows the last "The answer is" / "The final answer is", to the line's end;
- ``last_number``: the last number in the text (``-1,234.5``, ``3/4``).

*Whether* it is right (``answers.check``) is ``exact`` (the stripped strings are equal; the
default), ``numeric`` (both read as numbers: ``$1,000``, ``72.``, ``50%``, ``\\frac{1}{2}``,
``3/4``; equal within a relative ``tolerance``) or ``math`` (symbolic equivalence through
math-verify: ``\\frac{1}{2}`` = ``0.5``, ``x+1`` = ``1+x``, ``2\\sqrt{3}`` = ``\\sqrt{12}``).
Every analysis that asks whether an answer is still correct uses the run's check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from generator.store.plain_data import OptionError

AnswerFormat = Literal["pattern", "boxed", "hash", "answer_is", "last_number"]
CheckKind = Literal["exact", "numeric", "math"]

_HASH = re.compile(r"####[ \t]*([^\n]*?)[ \t]*$", re.MULTILINE)
_ANSWER_IS = re.compile(r"(?i)\bthe\s+(?:final\s+)?answer\s+is\s*:?[ \t]*([^\n]*?)[ \t]*\.?[ \t]*$", re.MULTILINE)
_NUMBER = re.compile(r"-?\d(?:[\d,]*\d)?(?:\.\d+)?(?:/\d+)?")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


@dataclass(frozen=True)
class AnswerSpan:
    """Where an answer is in a text: its part begins at ``start`` (a marker such as ``A:`` or
    ``\\boxed{``), its value spans ``value_start:value_end``."""

    start: int
    value_start: int
    value_end: int
    value: str


def locate_answer(text: str, answer_format: AnswerFormat, pattern: str, start: int = 0) -> AnswerSpan | None:
    """The last answer in ``text[start:]`` (positions are in ``text``), or None when there is none."""
    if answer_format == "boxed":
        return _last_boxed(text, start)
    regex = {"hash": _HASH, "answer_is": _ANSWER_IS, "last_number": _NUMBER}.get(answer_format)
    matches = list((regex or re.compile(pattern)).finditer(text, start))
    if not matches:
        return None
    last = matches[-1]
    group = 1 if last.re.groups else 0
    if last.start(group) < 0:
        return None
    value = text[last.start(group):last.end(group)]
    stripped = value.strip()
    value_start = last.start(group) + (len(value) - len(value.lstrip()))
    if answer_format == "last_number":
        return AnswerSpan(last.start(), last.start(), last.end(), stripped)
    return AnswerSpan(last.start(), value_start, value_start + len(stripped), stripped)


def _last_boxed(text: str, start: int) -> AnswerSpan | None:
    """The last ``\\boxed{...}`` whose braces close; nested braces (``\\frac{1}{2}``) are kept."""
    for match in reversed(list(_BOXED.finditer(text, start))):
        depth, position = 1, match.end()
        while position < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        if depth == 0:
            value = text[match.end():position - 1]
            offset = len(value) - len(value.lstrip())
            return AnswerSpan(match.start(), match.end() + offset, match.end() + offset + len(value.strip()),
                              value.strip())
    return None


@dataclass(frozen=True)
class AnswerCheck:
    """How a parsed answer is compared with the expected one (``answers`` in a run config)."""

    check: CheckKind = "exact"
    tolerance: float = 1e-6  # numeric: |a - b| <= tolerance * max(1, |b|)

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance < 1:
            raise OptionError("tolerance", f"expected a relative tolerance in [0, 1), got {self.tolerance}")

    def normalized(self, answer: str | None) -> str | None:
        """The answer as this check reads it (stored beside the raw one): a number's value for
        ``numeric``, math-verify's reading for ``math``, the stripped text for ``exact``."""
        if answer is None:
            return None
        if self.check == "numeric":
            number = read_number(answer)
            return None if number is None else _number_text(number)
        if self.check == "math":
            parsed = _math_parse(answer)
            return str(parsed[0]) if parsed else None
        return answer.strip()

    def matches(self, answer: str | None, expected: str | None) -> bool | None:
        """Whether ``answer`` is ``expected`` (None: nothing is expected; False: no answer)."""
        if expected is None:
            return None
        if answer is None:
            return False
        if self.check == "numeric":
            a, b = read_number(answer), read_number(expected)
            return a is not None and b is not None and abs(a - b) <= self.tolerance * max(1.0, abs(float(b)))
        if self.check == "math":
            from math_verify import verify

            gold, given = _math_parse(expected), _math_parse(answer)
            return bool(gold) and bool(given) and bool(verify(gold, given))
        return answer.strip() == expected.strip()


_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"^\\[dt]?frac\s*\{\s*(-?[\d.]+)\s*\}\s*\{\s*(-?[\d.]+)\s*\}$|^\\[dt]?frac(\d)(\d)$")


def read_number(text: str) -> Fraction | None:
    """A number as people and models write it: ``$1,000``, ``72.``, ``-3.5``, ``50%`` (0.5), ``3/4``,
    ``\\frac{3}{4}``, ``\\boxed{12}``, ``12 apples`` (a number, then words); None when it is not one."""
    value = text.strip()
    boxed = _last_boxed(value, 0)
    if boxed is not None:
        value = boxed.value
    value = _LATEX_WRAPPERS.sub(r"\1", value)
    value = value.replace("\\$", "").replace("$", "").replace("\\!", "").replace("\\,", "").replace("\\%", "%")
    value = value.strip().rstrip(".").strip()
    percent = value.endswith("%")
    value = value.rstrip("%").strip()
    fraction = _FRAC.match(value)
    if fraction:
        top, bottom = (fraction.group(1), fraction.group(2)) if fraction.group(1) else fraction.group(3, 4)
        number = _fraction(top, bottom)
    else:
        match = re.fullmatch(r"(-?\d[\d,]*(?:\.\d*)?|-?\.\d+)(?:\s*/\s*(\d+))?(?:\s+[A-Za-z][\w\s]*)?", value)
        if not match or not _commas_group_thousands(match.group(1)):
            return None
        number = _fraction(match.group(1).replace(",", ""), match.group(2) or "1")
    if number is None:
        return None
    return number / 100 if percent else number


def _commas_group_thousands(digits: str) -> bool:
    """``1,000`` and ``12,345,678`` are numbers; ``1,2`` (a list) is not."""
    whole = digits.lstrip("-").split(".")[0]
    return "," not in whole or re.fullmatch(r"\d{1,3}(?:,\d{3})+", whole) is not None


def _fraction(top: str, bottom: str) -> Fraction | None:
    try:
        denominator = Fraction(bottom)
        return None if denominator == 0 else Fraction(top) / denominator
    except (ValueError, ZeroDivisionError):
        return None


def _number_text(number: Fraction) -> str:
    """An exact, readable text of a number: ``72``, ``-3.5``, ``1/3``."""
    if number.denominator == 1:
        return str(number.numerator)
    as_float = float(number)
    return repr(as_float) if Fraction(repr(as_float)) == number else f"{number.numerator}/{number.denominator}"


def _math_parse(text: str) -> list:
    """math-verify's reading of an answer; a bare expression is read as LaTeX math (``$...$``)."""
    from math_verify import parse

    text = text.strip()
    return parse(text if "$" in text or "\\boxed" in text else f"${text}$")
