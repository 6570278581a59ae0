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
