"""Static figures: the numbers beside each, and the token map for print."""

import csv

import numpy as np

from generator.render import figures


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_a_matrix_figure_has_its_numbers_beside_it(tmp_path):
    values = np.array([[0.25, np.nan], [-1.5, 2.0]], dtype=np.float32)
    written = figures.matrix_heatmap(values, ["=HYPERLINK(1)", "layer 1"], ["attn", "mlp"], tmp_path / "grid",
                                     "Change", "nats")
    assert [p.suffix for p in written] == [".png", ".svg", ".pdf", ".csv"]
    rows = read_csv(tmp_path / "grid.csv")
    assert rows[0] == ["nats", "attn", "mlp"]
    assert rows[1] == ["'=HYPERLINK(1)", "0.25", ""]  # a formula-looking label stays text; a missing value is empty
    assert rows[2] == ["layer 1", "-1.5", "2.0"]


def test_bars_lines_and_small_multiples_write_what_they_draw(tmp_path):
    figures.bars_with_ci(["step 1", "step 2"], [1.0, 2.0], [0.5, 1.5], [1.5, 2.5], tmp_path / "bars", "t", "drop")
    assert read_csv(tmp_path / "bars.csv") == [["", "mean drop", "95% CI low", "95% CI high"],
                                               ["step 1", "1.0", "0.5", "1.5"], ["step 2", "2.0", "1.5", "2.5"]]
    figures.lines_by_layer({"a": np.array([1.0, 2.0]), "b": np.array([3.0])}, tmp_path / "lines", "t", "nats")
    assert read_csv(tmp_path / "lines.csv") == [["layer", "a", "b"], ["0", "1.0", "3.0"], ["1", "2.0", ""]]
    figures.small_multiples([np.eye(2, dtype=np.float32)], ["ex-1"], tmp_path / "grid", "t", "mass")
    assert read_csv(tmp_path / "grid.csv")[:3] == [["example", "layer", "head", "mass"], ["ex-1", "0", "0", "1.0"],
                                                  ["ex-1", "0", "1", "0.0"]]


def test_the_token_map_prints_with_thinned_labels_segment_names_and_its_weights(tmp_path):
    n = 120
    weights = np.tril(np.full((n, n), 1.0, dtype=np.float32))
    weights /= weights.sum(axis=1, keepdims=True)
    tokens = [f"t{i}" for i in range(n)]
    segments = [("question", 0), ("step 1", 37), ("answer", 101)]
    written = figures.token_map(weights, tokens, segments, tmp_path / "map", "Layer 1, head 2")
    assert [p.suffix for p in written] == [".png", ".svg", ".pdf", ".csv"]
    svg = (tmp_path / "map.svg").read_text()
    assert ">step 1<" in svg and ">answer<" in svg  # segment names above the map, as text
    labelled = [token for token in tokens if f">{token}<" in svg]
    step = figures.thinned_step(n, 11.0)  # the figure is 11 inches high at this length
    assert step == 2 and set(labelled) == {f"t{i}" for i in range(0, n, step)} | {"t37", "t101"}  # segment starts kept
    rows = read_csv(tmp_path / "map.csv")
    assert rows[0][:3] == ["query \\ key", "0: t0", "1: t1"] and float(rows[3][1]) == float(weights[2, 0])
    pdf = (tmp_path / "map.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf


def test_label_thinning_keeps_every_label_when_they_fit():
    assert figures.thinned_step(20, 4.0) == 1
    assert figures.thinned_step(400, 11.0) > 4


def test_a_large_mosaic_stays_a_few_megapixels(tmp_path):
    """1,000 and 5,000 tiles: the PNG's pixels stay under the mosaic budget (memory flat in the dataset's size)."""
    from PIL import Image

    sizes = []
    for n in (1000, 5000):
        grids = [np.full((4, 4), i % 7, dtype=np.float32) for i in range(n)]
        written = figures.small_multiples(grids, [f"e{i}" for i in range(n)], tmp_path / f"grid{n}", "t", "mass")
        with Image.open(written[0]) as image:
            sizes.append(image.size[0] * image.size[1])
    # the cells (at 12 pixels a cell, 5,000 tiles would be 18 megapixels), plus title, colour bar and margins
    assert all(size < 1.5 * figures.MOSAIC_PIXELS for size in sizes)
    assert sizes[1] < 1.3 * sizes[0]  # flat: 5,000 tiles draw no more pixels than 1,000, give or take the margins


def test_panel_letters_lead_their_titles(tmp_path):
    """A letter drawn beside the title touched a long one; it is now the title's first word, as on the pages."""
    from functools import partial

    long_title = "Attention mass by layer, every format, at the prompt's last token"
    panels = [partial(figures.draw_lines, series={"a": np.arange(3.0)}, title=long_title, y_label="mass"),
              partial(figures.draw_note, title="", text="not measured")]
    written = figures.panel_grid(panels, tmp_path / "grid", "mechanism")
    svg = next(p for p in written if p.suffix == ".svg").read_text()
    assert f">A. {long_title}<" in svg and ">B.<" in svg
