"""Adding an analysis is one declaration, its analysis class, result types and sections: nothing else names it.

The toy analysis below (token count and a per-token position ramp) lives only in this test;
it must reach the run directory, the manifest, the summaries and both page kinds.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from generator.analyses.base import ANALYSES, Analysis
from generator.config import ConfigError, parse_config, resolve_paths
from generator.pipeline import execute_run
from generator.render.site import build_site
from generator.results.declaration import AnalysisDeclaration, declare_analysis, withdraw_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value
from generator.store.run_directory import load_run
from tests.conftest import REPO_ROOT, save_tiny_checkpoint, write_dataset


@dataclass(frozen=True, eq=False)
class ToyExample(ExampleResult):
    ramp: np.ndarray = tensor("[T]", "each token's position divided by the length")


@dataclass(frozen=True)
class ToySummary(DatasetSummary):
    total_tokens: int = value("tokens over the dataset")
    label: str = value("the configured label")


@dataclass(frozen=True)
class ToyOptions:
    label: str = "toy"
    shape: Literal["ramp", "flat"] = "ramp"


TEMPLATES = Path(__file__).parent / "toy_templates"
TOY = AnalysisDeclaration(name="toy", page_order=1000, example=ToyExample, summary=ToySummary,
                          description="A toy analysis defined in a test.", analysis=f"{__name__}:ToyAnalysis",
                          dataset_section=f"{__name__}:toy_dataset_section",
                          example_section=f"{__name__}:toy_example_section", templates=TEMPLATES)


class ToyAnalysis(Analysis):
    declaration = TOY
    options_type = ToyOptions

    def analyze_example(self, context, options):
        n = len(context.trajectory.tokens)
        values = np.arange(n, dtype=np.float32) / n if options.shape == "ramp" else np.ones(n, np.float32)
        return ToyExample(values)

    def summarize_dataset(self, trajectories, digests, options, others):
        return ToySummary(sum(len(d.ramp) for d in digests), options.label)


def toy_dataset_section(site, run, dataset, trajectories, page_dir):
    summary = run.summary(dataset, ToySummary)
    return None if summary is None else {"text": f"TOY {summary.label} "
                                         f"{summary.total_tokens} tokens"}


def toy_example_section(site, run, trajectory, page_dir):
    result = run.result(trajectory.dataset, trajectory.example_id, ToyExample)
    return None if result is None else {"text": f"TOY ramp ends at {result.ramp[-1]:.3f}"}


@pytest.fixture
def toy_registered():
    """Declared the way a plugin's entry point is (``declare_analysis``); nothing else is registered by hand."""
    declare_analysis(TOY)
    yield
    withdraw_analysis("toy")
    if "toy" in ANALYSES:
        ANALYSES.unregister("toy")


def test_a_toy_analysis_reaches_the_run_directory_and_the_pages(toy_registered, tmp_path):
    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": "x-0", "prompt": "Q: 1+2="}, {"id": "x-1", "prompt": "Q: 3*4="}])
    written = parse_config({"run_name": "toyrun", "model": {"id": "./model"},
                            "datasets": [{"name": "d", "path": "d.jsonl"}], "generation": {"max_new_tokens": 4},
                            "analyses": {"toy": {"label": "hello"}}, "output_dir": "runs"})
    run = load_run(execute_run(resolve_paths(written, tmp_path), written.to_dict(), written.config_hash()).directory)
    assert (run.root / "examples/d/x-0/toy.safetensors").is_file()
    entry = run.manifest.analyses[0]
    assert (entry.name, entry.example_result, entry.dataset_summary) == ("toy", "ToyExample", "ToySummary")
    tokens = sum(len(t.tokens) for t in run.trajectories("d"))
    assert run.summary("d", ToySummary) == ToySummary(tokens, "hello")
    site = build_site(run.root.parent, REPO_ROOT / "mkdocs.yml", site_dir=tmp_path / "site",
                      docs_dir=tmp_path / "docs").site_dir
    assert f"TOY hello {tokens} tokens" in (site / "runs/toyrun/d/index.html").read_text()
    last = run.result("d", "x-0", ToyExample).ramp[-1]
    assert f"TOY ramp ends at {last:.3f}" in (site / "runs/toyrun/d/examples/x-0.html").read_text()


def test_the_toy_options_are_checked_before_a_model_loads(toy_registered):
    with pytest.raises(ConfigError, match="run.yaml: key 'analyses.toy.shape': expected one of 'ramp', 'flat', "
                                          "got 'flt'"):
        parse_config({"run_name": "r", "model": {"id": "m"}, "datasets": [{"name": "d", "path": "d.jsonl"}],
                      "analyses": {"toy": {"shape": "flt"}}}, "run.yaml")


def test_a_change_to_a_plugin_section_renders_its_pages_again(toy_registered):
    """The incremental build's code fingerprint covers section modules outside the renderer's folder."""
    from generator.render.reuse import _section_modules, code_fingerprint
    from generator.render.units import RenderOptions

    assert Path(__file__).resolve() in [path.resolve() for path in _section_modules()]
    with_toy = code_fingerprint(RenderOptions())
    withdraw_analysis("toy")
    try:
        assert code_fingerprint(RenderOptions()) != with_toy
    finally:
        declare_analysis(TOY)
