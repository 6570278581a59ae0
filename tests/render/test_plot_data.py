"""Token maps as data: exact enough to read, light pages at the scale of real models, every head reachable."""

import base64
import re

import numpy as np

from generator.render.page_data import read_page_data
import pytest

from generator.render.plot_data import QUANTUM, decode_head, encode_head, token_map_data


def random_maps(layers, heads, tokens, seed=0):
    rng = np.random.default_rng(seed)
    maps = rng.random((layers, heads, tokens, tokens)).astype(np.float32) * np.tril(np.ones((tokens, tokens)))
    return maps / maps.sum(-1, keepdims=True)


def test_a_head_round_trips_within_half_a_quantum():
    weights = random_maps(1, 1, 40)[0, 0]
    back = decode_head(encode_head(weights), 40)
    assert np.abs(back - weights).max() <= 0.5 / QUANTUM + 1e-7
    assert (back[np.triu_indices(40, 1)] == 0).all()


def test_a_weight_not_measured_stays_missing_never_zero():
    """NaN in a run's map (not measured) is stored as ``MISSING`` and read back as NaN; the others as before."""
    from generator.render.plot_data import MISSING

    weights = random_maps(1, 1, 12)[0, 0]
    weights[5, 2] = weights[11, 0] = np.nan
    encoded = encode_head(weights)
    stored = np.frombuffer(base64.b64decode(encoded), dtype="<u2")
    assert (stored == MISSING).sum() == 2 and stored.max() == MISSING and np.sort(stored)[-3] <= QUANTUM
    back = decode_head(encoded, 12)
    assert np.isnan(back[5, 2]) and np.isnan(back[11, 0]) and np.isnan(back).sum() == 2
    measured = ~np.isnan(weights) & np.tri(12, dtype=bool)
    assert np.abs(back[measured] - weights[measured]).max() <= 0.5 / QUANTUM + 1e-7
    assert decode_head(encode_head(np.ones((3, 3), np.float32)), 3)[2, 2] == 1.0  # 1 is the largest stored weight


def test_heads_past_the_budget_become_scripts_beside_the_page(tmp_path):
    maps = random_maps(2, 3, 30)
    one_head = len(encode_head(maps[0, 0]))
    data = token_map_data(maps, [f"t{i}" for i in range(30)], tmp_path / "x.heads", "x.heads", "atlas-t",
                          inline_bytes=2 * one_head)
    assert sorted(data["inline"]) == ["0_0", "0_1"] and data["chunks"] == "x.heads"
    chunks = sorted(p.name for p in (tmp_path / "x.heads").iterdir())
    assert chunks == ["0_2.js", "1_0.js", "1_1.js", "1_2.js"]
    assert data["thumbnails"] == "x.heads.thumbnails.js"  # the model view's thumbnails, beside the folder
    assert (tmp_path / data["thumbnails"]).is_file()
    call = (tmp_path / "x.heads" / "1_2.js").read_text()
    encoded = re.fullmatch(r'atlasHead\("atlas-t", "1_2", "([A-Za-z0-9+/=]+)"\);\n', call).group(1)
    np.testing.assert_allclose(decode_head(encoded, 30), maps[1, 2], atol=0.5 / QUANTUM + 1e-7)
    everything = token_map_data(maps, ["a"] * 30, tmp_path / "y.heads", "y.heads", "atlas-t")
    assert len(everything["inline"]) == 6 and everything["chunks"] is None
    assert not (tmp_path / "y.heads").exists()  # no folder for a page whose heads all fit in it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.heads", "x.heads.thumbnails.js", "y.heads.thumbnails.js"]


@pytest.mark.slow
def test_a_28_layer_12_head_page_at_249_tokens_stays_under_400_kb(tmp_path):
    """The default keeps every head's map at this length; the page carries a budget, the rest load per head."""
    from generator.render.site import render_docs
    from generator.results.attention import attention_example, summaries_from_weights
    from generator.store.records import (SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, ModelInfo, Segment,
                                         Trajectory, segment_ids)
    from generator.store.run_directory import RunWriter

    tokens = 249
    text = ("Q: 17+4*6= T: 4*6=24; T: 17+24=41; A: 41 " * 10)[:tokens]
    segments = (Segment("question", "question", 0, 100, 0, 100), Segment("answer", "answer", 100, tokens, 100, tokens))
    trajectory = Trajectory("big", "d", text[:100], text[100:], text, tuple(text), tuple((i, i + 1) for i in range(tokens)),
                            tuple(range(tokens)), 100, segments, None, None, None, {})
    maps = np.zeros((28, 12, tokens, tokens), dtype=np.float32)
    for layer in range(28):
        maps[layer] = random_maps(1, 12, tokens, seed=layer)[0]
    mass, entropy, max_weight = summaries_from_weights(maps.astype(np.float64), segment_ids(segments, tokens), 2)
    writer = RunWriter(tmp_path / "runs" / "big")
    writer.write_example(trajectory, [attention_example(mass, entropy, max_weight, trajectory, maps=maps)])
    writer.write_manifest(Manifest(SCHEMA_VERSION, "big", "2026-01-01T00:00:00+00:00",
                                   ModelInfo("test", None, None, "none", 28, 12, "float32", "none", "imported"), {},
                                   "0" * 64, {}, (DatasetEntry("d", "none", ("big",)),),
                                   (AnalysisEntry("attention", "AttentionExample", None),)))
    render_docs(tmp_path / "runs", tmp_path / "docs", None, jobs=1)
    page = tmp_path / "docs/runs/big/d/examples/big.md"
    assert page.stat().st_size <= 400 * 1024, page.stat().st_size
    heads = list((tmp_path / "docs/runs/big/d/examples/big.heads").glob("[0-9]*_[0-9]*.js"))
    assert 'data-atlas-spec="token-map" data-atlas-src="big.data.js"></script>' in page.read_text()
    data = next(value for value in read_page_data(page.with_suffix(".data.js").read_text()).values() if "inline" in value)
    assert len(heads) + len(data["inline"]) == 28 * 12  # every head reachable
    thumbnails = tmp_path / "docs/runs/big/d/examples/big.heads.thumbnails.js"
    assert thumbnails.stat().st_size < 600 * 1024  # 28 x 13 thumbnails of 32 x 32 blocks, loaded only when opened


def test_grid_values_are_carried_exactly():
    import base64

    from generator.render.plot_data import layer_head_grid_data

    values = np.random.default_rng(3).random((3, 4, 5)).astype(np.float32)
    data = layer_head_grid_data(values, ["a", "b", "c"], "Answer attention to", "mass", layer_labels=[1, 5, 9, 13])
    back = np.frombuffer(base64.b64decode(data["values"]), dtype="<f4").reshape(3, 4, 5)
    assert np.array_equal(back, values) and data["layer_labels"] == [1, 5, 9, 13]
    assert data["titles"] == ["Answer attention to a", "Answer attention to b", "Answer attention to c"]


def test_thumbnails_keep_each_blocks_largest_weight_and_the_head_mean_last():
    from generator.render.plot_data import thumbnail_maps

    rng = np.random.default_rng(0)
    maps = np.tril(rng.random((2, 3, 70, 70))).astype(np.float32)
    maps /= maps.sum(axis=-1, keepdims=True)
    thumbs = thumbnail_maps(maps, blocks=32)
    assert thumbs.shape == (2, 4, 32, 32) and thumbs.dtype == np.uint8
    starts = np.linspace(0, 70, 33).astype(int)
    block = maps[1, 2, starts[5]:starts[6], starts[3]:starts[4]].max()
    assert thumbs[1, 2, 5, 3] == round(block * 255)
    mean_block = maps[0].mean(axis=0)[starts[9]:starts[10], starts[0]:starts[1]].max()
    assert thumbs[0, 3, 9, 0] == round(mean_block * 255)
    assert thumbnail_maps(maps[:, :, :10, :10]).shape == (2, 4, 10, 10)  # short sequences: one block per token
