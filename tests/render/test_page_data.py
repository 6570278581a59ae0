"""Plot data moves out of the page into a script beside it, whole and unchanged."""

import json

from generator.render.embed import script_json
from generator.render.page_data import move_page_data, read_page_data


def test_every_plot_block_moves_beside_the_page_and_reads_back_exactly():
    data = {"tokens": ["</script><b>", "\u2028", "a&b"], "values": [0.5, 1.0]}
    page = ("# a\n\n<div class=\"atlas-plot\" id=\"t-1\"></div><script type=\"application/json\" "
            f"data-atlas-data=\"t-1\" data-atlas-spec=\"matrix\">{script_json(data)}</script>\n\n"
            "<script type=\"application/json\" data-atlas-plot=\"doc&#38;2\">{\"x\":1}</script>\n")
    moved, script, path = move_page_data(page, "runs/r/d/examples/e-1.md")
    assert path == "runs/r/d/examples/e-1.data.js"
    assert moved == ("# a\n\n<div class=\"atlas-plot\" id=\"t-1\"></div><script type=\"application/json\" "
                     "data-atlas-data=\"t-1\" data-atlas-spec=\"matrix\" data-atlas-src=\"e-1.data.js\"></script>\n\n"
                     "<script type=\"application/json\" data-atlas-plot=\"doc&#38;2\" "
                     "data-atlas-src=\"e-1.data.js\"></script>\n")
    assert "<" not in script and ">" not in script and "\u2028" not in script  # nothing can end or break the script
    assert read_page_data(script) == {"t-1": data, "doc&2": {"x": 1}}  # keyed as the browser reads the attribute


def test_a_page_without_plots_is_left_alone():
    assert move_page_data("# a\n\nText.\n", "index.md") == ("# a\n\nText.\n", None, None)


def test_example_pages_carry_no_plot_data_in_their_markdown(tiny_site):
    page = (tiny_site / "runs/tiny/alpha/examples/a-0.html").read_text()
    assert 'data-atlas-src="a-0.data.js"></script>' in page and '"inline":' not in page
    data = read_page_data((tiny_site / "runs/tiny/alpha/examples/a-0.data.js").read_text())
    token_map = next(value for target, value in data.items() if target.endswith("-attention"))
    assert token_map["n"] == len(token_map["tokens"]) and json.dumps(token_map)


def test_the_blocks_found_are_those_of_the_block_pattern_on_any_page():
    """``move_page_data`` finds blocks with str.find; DATA_BLOCK is the pattern it must agree with."""
    from hypothesis import given, settings, strategies as st

    from generator.render.page_data import DATA_BLOCK

    pieces = st.sampled_from(['<script type="application/json" data-atlas-data="t-1">', "</script>", '{"a":1}',
                              '<script type="application/json" data-atlas-plot="p" data-atlas-spec="m">', "text ",
                              '<script type="application/json" data-atlas-other="x">', "<div>", "\n",
                              '<script type="application/json" data-atlas-strip="s&#38;2">', '<script type="x">'])

    def reference(text: str) -> tuple[str, list[tuple[str, str]]]:
        found = []

        def empty(match):
            attribute, target, spec, data = match.groups()
            found.append((target, data))
            return f'<script type="application/json" {attribute}="{target}"{spec} data-atlas-src="e.data.js"></script>'
        return DATA_BLOCK.sub(empty, text), found

    @settings(max_examples=300, deadline=None)
    @given(st.lists(pieces, max_size=12))
    def check(parts):
        text = "".join(parts)
        moved, script, _ = move_page_data(text, "runs/r/d/examples/e.md")
        expected, found = reference(text)
        assert moved == expected
        assert (script is None) == (not found)

    check()
