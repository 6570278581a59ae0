"""Strict JSON from files we did not write: what is refused, whether or not the tree is walked again."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from generator.store.untrusted_json import MAX_DEPTH, UntrustedJSONError, check_tree, parse_json

TEXTS = st.recursive(st.one_of(st.none(), st.integers(), st.text(alphabet=st.characters(codec="utf-8"), max_size=5),
                               st.sampled_from(["\ud800", "\udfff", "a\udc80b", "[", "{", "\\u", "\\ud800"])),
                     lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner,
                                                                                         max_size=3)), max_leaves=30)


def refusal(call):
    try:
        call()
    except UntrustedJSONError as exc:
        return str(exc).split(" (")[0]
    return None


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.booleans())
def test_parse_refuses_exactly_what_the_full_walk_refuses(value, escaped):
    """Surrogates written as escapes (json.dumps' default) or raw in the text; depth from nesting."""
    text = json.dumps(value, ensure_ascii=escaped)
    parsed = json.loads(text)
    assert refusal(lambda: parse_json(text)) == refusal(lambda: check_tree(parsed))


def test_depth_and_surrogates_are_refused_and_plain_files_pass():
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(UntrustedJSONError, match="nested more than"):
        parse_json(deep)
    for text in ('{"a": "\\ud800"}', '["\\uDC00x"]', '{"\\udbff": 1}', '"\ud800"'):
        with pytest.raises(UntrustedJSONError, match="lone surrogate"):
            parse_json(text)
    assert parse_json('{"tokens": ["\\u00e9", "\\ud83d\\ude42", "[[{"], "n": 1}') == {
        "tokens": ["é", "🙂", "[[{"], "n": 1}  # a pair is a character; brackets in strings are only counted
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
