"""An output with no reasoning step: every step-based analysis says so on the example page, and what it did; the
dataset page draws no empty figure for it."""

import html

from generator.config import parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.render.site import build_site
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset


def test_each_step_analysis_states_that_it_found_no_step(tmp_path):
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "x-0", "prompt": "Q: 2+3=", "answer": "5"}])
    written = parse_config({
        "run_name": "nosteps", "model": {"id": "./model"}, "datasets": [{"name": "d", "path": "d.jsonl"}],
        "generation": {"max_new_tokens": 6},
        "segmentation": {"step_pattern": "NEVER-IN-OUTPUT", "answer_pattern": "NEVER-EITHER(x)"},
        "analyses": {"ablation": {"methods": ["zero"]}, "salience": {}, "routing": {}, "compositional": {}},
        "output_dir": "runs"})
    run = load_run(execute_run(resolve_paths(written, tmp_path), written.to_dict(), written.config_hash()).directory)
    trajectory = run.trajectory("d", "x-0")
    assert not [s for s in trajectory.segments if s.kind == "step"]
    parts = ", ".join(s.name for s in trajectory.segments)
    site = build_site(run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    page = html.unescape((site / "runs/nosteps/d/examples/x-0.html").read_text())
    said = f"No reasoning step was found in this example's output (its parts: {parts}), so"
    for consequence in ("there is no attention to steps to show", "there is no routing from steps to show"):
        assert f"{said} {consequence}." in page
    assert (f"No part to ablate was found in this example's output (its parts: {parts}), so nothing was "
            "ablated and the example adds nothing to the dataset's importance.") in page
    assert (f"No pair of reasoning steps was found in this example's output (its parts: {parts}), so no "
            "pair of steps could be ablated.") in page
    dataset = html.unescape((site / "runs/nosteps/d/index.html").read_text())
    assert "zero: no example had a part to remove: inconclusive." in dataset
    assert "Examples x parts" not in dataset and "importance-heatmap" not in dataset  # no empty figure to cite
    assert not list((site / "runs/nosteps/d/figures").glob("importance-*"))
