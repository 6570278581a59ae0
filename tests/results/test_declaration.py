"""An analysis is declared once and found without a list: as a built-in (new files only) or as a plugin.

Both tests work on copies in a temporary folder and run Python in a fresh process, so the
registries of this process stay as they are.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.results.declaration import AnalysisDeclaration, DeclarationError, declarations, load_object
from tests.conftest import REPO_ROOT

RECORDS = '''
from dataclasses import dataclass

import numpy as np

from generator.results.declaration import AnalysisDeclaration, declare_analysis
from generator.store.result_types import DatasetSummary, ExampleResult, tensor, value


@dataclass(frozen=True, eq=False)
class CountExample(ExampleResult):
    """How many tokens an example has."""

    tokens: np.ndarray = tensor("[1]", "the number of tokens", dtype="int64")


@dataclass(frozen=True)
class CountSummary(DatasetSummary):
    """Tokens over a dataset."""

    total: int = value("tokens over the dataset")


COUNT = declare_analysis(AnalysisDeclaration(
    name="{name}", page_order=35, example=CountExample, summary=CountSummary,
    description="Count the tokens of every example.", analysis="{analysis}",
    dataset_section="{sections}:count_dataset", example_section="{sections}:count_example"{templates}))
'''
ANALYSIS = '''
from dataclasses import dataclass

import numpy as np

from generator.analyses.base import Analysis
from {records} import COUNT, CountExample


@dataclass(frozen=True)
class CountOptions:
    pass


class CountAnalysis(Analysis):
    declaration = COUNT
    options_type = CountOptions

    def analyze_example(self, context, options):
        return CountExample(np.array([len(context.trajectory.tokens)], dtype=np.int64))
'''
SECTIONS = '''
def count_dataset(site, run, dataset, trajectories, page_dir):
    return {"total": sum(len(t.tokens) for t in trajectories)}


def count_example(site, run, trajectory, page_dir):
    return None
'''
PROBE = '''
import json
from generator.analyses import get_analysis, list_analyses
from generator.render.jinja import template_environment
from generator.render.sections import dataset_sections, example_sections
from generator.format_doc import generated_block

analysis = get_analysis("{name}")
print(json.dumps({{
    "analyses": list_analyses(),
    "dataset_sections": [name for name, _ in dataset_sections()],
    "example_sections": [name for name, _ in example_sections()],
    "result": analysis.result_type.__name__, "summary": analysis.summary_type.__name__,
    "documented": "### `{name}`" in generated_block(),
    "page": template_environment().get_template("_section_count_dataset.md.j2").render(section={{"total": 7}}),
}}))
'''


def probe(cwd: Path, name: str, pythonpath: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(name=name)], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath, "HOME": str(cwd)}, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def expect_count_everywhere(found: dict, name: str) -> None:
    assert name in found["analyses"] and name in found["dataset_sections"] and name in found["example_sections"]
    # page_order 35 puts it after attention (30) and before ablation (40), on pages and in listings
    position = found["dataset_sections"].index(name)
    assert found["dataset_sections"][position - 1:position + 2] == ["attention", name, "ablation"]
    assert (found["result"], found["summary"], found["documented"]) == ("CountExample", "CountSummary", True)
    assert found["page"].strip() == "Count: 7 tokens"


def test_a_built_in_analysis_is_its_own_files_and_nothing_else(tmp_path):
    """A copy of the checkout gains three modules and one template; no existing file is edited."""
    copy = tmp_path / "checkout"
    for name in ("generator", "templates", "pyproject.toml"):
        source = REPO_ROOT / name
        (shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
         if source.is_dir() else shutil.copyfile(source, copy / name))
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    (copy / "generator/results/count.py").write_text(RECORDS.format(
        name="count", analysis="generator.analyses.count:CountAnalysis", sections="generator.render.sections.count",
        templates=""))
    (copy / "generator/analyses/count.py").write_text(ANALYSIS.format(records="generator.results.count"))
    (copy / "generator/render/sections/count.py").write_text(SECTIONS)
    (copy / "templates/_section_count_dataset.md.j2").write_text("Count: {{ section.total }} tokens\n")
    assert all(path.read_bytes() == data for path, data in before.items())

    expect_count_everywhere(probe(copy, "count", str(copy)), "count")


def test_a_plugin_package_adds_an_analysis_through_its_entry_point(tmp_path):
    packages = tmp_path / "site"
    plugin = packages / "atlas_count"
    (plugin / "templates").mkdir(parents=True)
    (plugin / "__init__.py").write_text("")
    (plugin / "records.py").write_text(RECORDS.replace("declare_analysis(AnalysisDeclaration(", "(AnalysisDeclaration(")
                                       .format(name="token_count", analysis="atlas_count.analysis:CountAnalysis",
                                               sections="atlas_count.sections",
                                               templates=", templates=Path(__file__).parent / 'templates'")
                                       .replace("import numpy as np\n", "import numpy as np\nfrom pathlib import Path\n"))
    (plugin / "analysis.py").write_text(ANALYSIS.format(records="atlas_count.records"))
    (plugin / "sections.py").write_text(SECTIONS)
    (plugin / "templates/_section_count_dataset.md.j2").write_text("Count: {{ section.total }} tokens\n")
    info = packages / "atlas_count-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: atlas-count\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[attention_atlas.analyses]\ntoken_count = atlas_count.records:COUNT\n")

    expect_count_everywhere(probe(tmp_path, "token_count", f"{packages}:{REPO_ROOT}"), "token_count")

    (info / "entry_points.txt").write_text("[attention_atlas.analyses]\ntoken_count = atlas_count.records:MISSING\n")
    broken = subprocess.run([sys.executable, "-c", "import generator.analyses"], cwd=tmp_path, capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{packages}:{REPO_ROOT}"})
    assert broken.returncode != 0
    assert ("DeclarationError: entry point 'token_count' (atlas_count.records:MISSING) in group "
            "'attention_atlas.analyses' could not be loaded: AttributeError") in broken.stderr


def test_a_name_that_cannot_name_files_is_refused():
    from generator.results.declaration import declare_analysis

    with pytest.raises(DeclarationError, match=r"analysis '\.\./x': .*\(it names result files\)"):
        declare_analysis(AnalysisDeclaration(name="../x", description="", page_order=1))


def test_a_wrong_import_path_names_the_declaration():
    with pytest.raises(DeclarationError, match=r"analysis 'count': cannot load 'generator.nowhere:Thing' "
                                               r"\(ModuleNotFoundError"):
        load_object("generator.nowhere:Thing", "count")


def test_every_built_in_declaration_loads_and_points_back():
    from generator.analyses import get_analysis

    for declaration in declarations():
        assert isinstance(declaration, AnalysisDeclaration)
        if declaration.analysis:
            assert type(get_analysis(declaration.name)).declaration is declaration
        for path in (declaration.dataset_section, declaration.example_section):
            assert path is None or callable(load_object(path, declaration.name))
