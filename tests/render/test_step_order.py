"""Step names in reading order on pages, though run files keep their dicts sorted as text."""

from __future__ import annotations

import re

import numpy as np

from generator.importers import IMPORTERS, import_run
from generator.render.step_order import in_step_order, step_key
from generator.results.salience import SalienceSummary
from generator.store.run_directory import load_run
from tests.importers.test_importers import write_salient


def test_numbers_in_names_compare_as_numbers():
    names = ["step 10", "step 2", "answer", "step 1", "latent 3", "step 11", "question"]
    assert sorted(names, key=step_key) == ["answer", "latent 3", "question", "step 1", "step 2", "step 10", "step 11"]
    assert list(in_step_order({"step 10": 1, "question": 2, "step 9": 3}, ["question"])) == ["question", "step 9",
                                                                                              "step 10"]
    assert list(in_step_order({"b": 1, "a": 2}, ["c", "b", "b"])) == ["b", "a"]  # unknown and repeated names ignored


def test_a_dataset_page_shows_twelve_steps_in_order(tmp_path):
    from generator.render.site import render_docs

    rng = np.random.default_rng(0)
    source = write_salient(tmp_path / "logs", {"long_0": rng.random((3, 4, 12)), "long_1": rng.random((3, 4, 12))})
    run = load_run(import_run(IMPORTERS.get("salient-thoughts"), source, "seeds", tmp_path / "runs"))
    assert list(run.summary("long", SalienceSummary).mean_by_step)[:3] == ["step 1", "step 10", "step 11"]  # as stored
    render_docs(tmp_path / "runs", tmp_path / "docs", None, jobs=1)
    page = (tmp_path / "docs" / "runs" / "seeds" / "long" / "index.md").read_text(encoding="utf-8")
    shown = re.findall(r"^### Every example: (step \d+)$", page, flags=re.M)
    assert shown == [f"step {n}" for n in range(1, 13)]
