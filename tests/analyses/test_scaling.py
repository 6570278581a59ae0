"""Component scaling: factor 1 is the baseline, a component that writes nothing never matters."""

from __future__ import annotations

import html as html_lib
import re

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

SHIPPED = str(REPO_ROOT / "data/models/atlas-arith-demo")


@pytest.fixture(scope="module")
def decimals_run(tmp_path_factory):
    """The planted bug (Q& A format) under scaling, on a shipped model whose layer-3 MLP was zeroed."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.store.run_directory import load_run

    base = tmp_path_factory.mktemp("scaling")
    model = AutoModelForCausalLM.from_pretrained(SHIPPED)
    with torch.no_grad():
        model.model.layers[3].mlp.down_proj.weight.zero_()  # set by hand: this MLP writes nothing
    model.save_pretrained(base / "model")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (REPO_ROOT / "data/models/atlas-arith-demo" / name).exists():
            shutil.copyfile(REPO_ROOT / "data/models/atlas-arith-demo" / name, base / "model" / name)
    config = parse_config({
        "run_name": "scaling", "model": {"id": str(base / "model")}, "output_dir": str(base / "runs"),
        "analyses": {"scaling": {"layers": [0, 3], "components": ["attn_out", "mlp_out"], "heads": [[0, 1]],
                                 "factors": [0.0, 1.0, 2.0], "behaviour": "field:bug_answer",
                                 "template": "Q: {question}"}},
        "datasets": [{"name": "decimals", "path": str(REPO_ROOT / "data/datasets/decimals.jsonl"), "limit": 6}]})
    return load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)


def test_factor_one_is_the_baseline_and_a_silent_component_changes_nothing(decimals_run):
    from generator.results.scaling import ScalingExample, ScalingSummary

    summary = decimals_run.summary("decimals", ScalingSummary)
    assert summary.components == ("L0 attn_out", "L0 mlp_out", "L3 attn_out", "L3 mlp_out", "L0 head 1")
    rate = np.array(summary.rate)
    assert summary.n_items == 6 and rate.shape == (5, 3)
    for example_id in decimals_run.example_ids("decimals"):
        result = decimals_run.result("decimals", example_id, ScalingExample)
        assert (result.behaviour[:, 1] == result.baseline[0]).all()  # x 1 changes nothing
        assert (result.behaviour[3] == result.baseline[0]).all()  # the zeroed MLP, at any factor
    assert summary.largest_change == pytest.approx(float(np.abs(rate - summary.baseline_rate).max()))
    assert summary.baseline_rate > 0.5  # asked in the Q&A format, the planted bug shows


def test_the_section_reports_the_rates(decimals_run, tmp_path):
    from generator.render.site import build_site

    site = build_site(decimals_run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = (site / "runs/scaling/decimals/index.html").read_text()
    assert "Component scaling" in page, re.findall(r"<h2[^>]*>.*?</h2>", page)
    assert "field:bug_answer" in html_lib.unescape(page)
    assert (site / "runs/scaling/decimals/figures/scaling.pdf").is_file() or \
        (site / "runs/scaling/decimals/figures/scaling.png").is_file()


def test_options_are_checked_before_the_model_loads():
    from generator.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="behaviour"):
        parse_config({"run_name": "x", "model": {"id": "m"}, "analyses": {"scaling": {"behaviour": "bug"}},
                      "datasets": [{"name": "d", "path": "d.jsonl"}]})
    with pytest.raises(ConfigError, match="factors"):
        parse_config({"run_name": "x", "model": {"id": "m"}, "analyses": {"scaling": {"factors": []}},
                      "datasets": [{"name": "d", "path": "d.jsonl"}]})


def test_a_behaviour_that_never_occurs_is_inconclusive_not_negative():
    from generator.results.scaling import ScalingSummary

    never = ScalingSummary("field:bug_answer", ("L0 attn_out",), (0.0, 2.0), 4, 0.0, ((0.0, 0.0),), 0.0)
    assert never.never_shown()
    assert not ScalingSummary("correct", ("L0 attn_out",), (0.0, 2.0), 4, 1.0, ((1.0, 1.0),), 0.0).never_shown()
    assert not ScalingSummary("correct", ("L0 attn_out",), (0.0,), 0, None, None, None).never_shown()
