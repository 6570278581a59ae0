"""Token classes per format: the same items asked in each format, equal to the model's own eager attention."""

from __future__ import annotations

import re

import numpy as np
import pytest

from generator.analyses.prompting import format_prompt_ids
from generator.capture.generation import token_pieces
from tests.conftest import REPO_ROOT

CLASSES = {"digits": "^[0-9]$", "point": "^[.]$", "format marker": "^[PQ]$"}
TEMPLATES = {"plain": "P: {question}", "qa": "Q: {question}", "chat": "chat"}


@pytest.fixture(scope="module")
def format_run(tmp_path_factory):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.store.run_directory import load_run

    base = tmp_path_factory.mktemp("token-classes")
    config = parse_config({
        "run_name": "classes", "model": {"id": str(REPO_ROOT / "data/models/atlas-arith-demo")},
        "output_dir": str(base / "runs"),
        "analyses": {"token_classes": {"classes": CLASSES, "queries": "answer", "templates": TEMPLATES}},
        "datasets": [{"name": "decimals", "path": str(REPO_ROOT / "data/datasets/decimals.jsonl"), "limit": 3}]})
    return load_run(execute_run(resolve_paths(config, REPO_ROOT), config.to_dict(), config.config_hash()).directory)


def test_each_format_is_the_eager_attention_of_its_last_prompt_token(format_run):
    import torch

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generator.results.token_classes import TokenClassesExample

    checkpoint = REPO_ROOT / "data/models/atlas-arith-demo"
    model = AutoModelForCausalLM.from_pretrained(checkpoint, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    trajectory = format_run.trajectory("decimals", format_run.example_ids("decimals")[1])
    result = format_run.result("decimals", trajectory.example_id, TokenClassesExample)
    assert result.format_class_mass.shape == (3, 4, 4, 3) and result.entropy.shape == (4, 4)
    for index, template in enumerate(TEMPLATES.values()):
        ids = format_prompt_ids(tokenizer, template, trajectory.metadata, "question", "test")
        if ids is None:  # the shipped tokenizer may have no chat template: the row says so with NaN
            assert np.isnan(result.format_class_mass[index]).all()
            continue
        with torch.no_grad():
            weights = torch.stack(model(input_ids=torch.tensor([ids]), output_attentions=True).attentions)
        last = weights[:, 0, :, -1].numpy()  # [L, H, T]
        pieces = token_pieces(tokenizer, ids)[0]
        for k, pattern in enumerate(CLASSES.values()):
            members = np.array([bool(re.search(pattern, p)) for p in pieces])
            np.testing.assert_allclose(result.format_class_mass[index, :, :, k], last[..., members].sum(-1), atol=1e-5)
        entropy = -(last * np.log(np.clip(last, 1e-30, None))).sum(-1)
        np.testing.assert_allclose(result.format_entropy[index], entropy, atol=1e-4)


def test_the_summary_and_the_page_compare_the_formats_in_one_figure(format_run, tmp_path):
    from generator.render.site import build_site
    from generator.results.token_classes import TokenClassesSummary

    summary = format_run.summary("decimals", TokenClassesSummary)
    assert [f.format for f in summary.formats] == list(TEMPLATES)
    plain, qa = summary.formats[0], summary.formats[1]
    assert plain.n_examples == qa.n_examples == 3 and len(plain.entropy_by_layer) == 4
    assert len(plain.mass_by_layer) == 3 and len(plain.mass[0][0]) == 3
    assert plain.mass_by_layer != qa.mass_by_layer  # the formats differ in their first character only
    assert len(summary.entropy_by_layer) == 4
    site = build_site(format_run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = (site / "runs/classes/decimals/index.html").read_text()
    assert "By format" in page and "token-classes-by-format" in page
    for suffix in ("png", "svg", "pdf"):
        assert (site / f"runs/classes/decimals/figures/token-classes-by-format.{suffix}").is_file()


def test_old_results_without_formats_still_load():
    from generator.results.token_classes import TokenClassesExample, TokenClassesSummary

    old = TokenClassesExample.from_tensors({"class_mass": np.zeros((2, 2, 1), np.float32),
                                            "class_sizes": np.ones(1, np.int64)}, "old.safetensors")
    assert old.entropy is None and old.format_class_mass is None
    summary = TokenClassesSummary.from_json({"classes": ["d"], "queries": "answer", "n_examples": 0,
                                             "mass_by_layer": [], "mass": []}, "old.json")
    assert summary.formats == () and summary.entropy_by_layer == ()
