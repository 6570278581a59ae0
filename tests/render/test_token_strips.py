import math

import pytest

from generator.render.token_strips import opacity, strip_rows, text_color


@pytest.mark.parametrize("value,max_value,expected", [
    (0.0, 10.0, 0.0),
    (0.00004, 1.0, 0.0),  # below the threshold: not highlighted
    (10.0, 10.0, 1.0),
    (1.0, 10.0, 0.05 + math.log10(1 + 0.9) * 0.95),
    (5.0, 10.0, 0.05 + math.log10(5.5) * 0.95),
    (-3.0, 10.0, 0.0),
    (1.0, 0.0, 0.0),
])
def test_neuronpedia_opacity(value, max_value, expected):
    assert opacity(value, max_value) == pytest.approx(expected)


def test_text_colour_and_rows():
    assert text_color(0.0) == "#000000"  # white background
    assert text_color(1.0) == "#000000"  # emerald is light enough for black text
    rows = strip_rows(["<bos>", " a", "\n", "b"], [0.0, 1.0, 2.0, 4.0], 4.0, tokens_per_row=3, show_values=False)
    assert [len(r) for r in rows] == [3, 1]
    assert rows[0][1]["text"] == "\u2423a" and rows[0][2]["text"] == "\u21b5"
    assert rows[1][0]["background"] == "rgba(52, 211, 153, 1.000)" and rows[0][0]["value"] is None


def test_an_examples_tokens_become_data_by_segment_with_their_text_as_a_page_shows_it():
    import json

    from generator.render.pages import token_views
    from generator.render.token_strips import segment_strip_item
    from generator.store.records import Segment, Trajectory

    text = "Q: a\u202eb\x11\nT: x</script>A: 1"
    tokens = ("<bos>", "Q:", " a\u202eb\x11", "\n", "T:", " x</script>", "A:", " 1", "<eos>")
    offsets, at = [], 0
    for token in tokens:
        width = 0 if token in ("<bos>", "<eos>") else len(token)
        offsets.append((at, at + width))
        at += width
    assert at == len(text)
    segments = (Segment("question", "question", 0, 4, 0, 9), Segment("step 1", "step", 4, 6, 9, 24),
                Segment("answer", "answer", 6, 9, 24, 28))
    trajectory = Trajectory("e", "d", text[:9], text[9:], text, tokens, tuple(offsets), tuple(range(9)), 4, segments,
                            None, None, None, {})
    views = token_views(trajectory)
    item = segment_strip_item("atlas-r-d-e-tokens", views)
    assert "<" not in item["json"] and ">" not in item["json"]  # script-safe: nothing closes the element
    data = json.loads(item["json"])
    assert data["tokens"] == ["<bos>", "Q:", "\u2423a\\u202eb\\u0011", "\u21b5", "T:", "\u2423x</script>", "A:", "\u2423" "1",
                              "<eos>"]  # control characters visible, as in any text the page shows
    assert data["segments"] == [["question", "question"], ["step 1", "step"], ["answer", "answer"]]
    assert data["owner"] == [0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert data["special"] == [0, 8]  # tokens of no text
