"""`atlas init DIR`: a report project for users who `pip install` Attention Atlas instead of cloning it.

It holds what a build needs besides the package: the site's mkdocs.yml, the hand-written docs
pages, a sample run config, data/runs/ for run directories, templates/ for the pages a project
wants to change (a file there replaces the package's of the same name), and a GitHub Actions
workflow that publishes the site. Nothing is written into a folder that has files in it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from generator.shipped import shipped
from generator.store.atomic import atomic_write_text

SAMPLE_CONFIG = """\
# A run config that runs as it is: Attention Atlas's small shipped model on the sample prompts in
# data/prompts.jsonl. Put your model and data here (a hub id in the local cache, or ./path/to/a/
# checkpoint; JSONL, Parquet, CSV or a cached hub dataset), then `atlas run configs/example.yaml`
# and `atlas build`. Every key is checked before the model loads; the README lists them all.
run_name: example
model:
  id: {model}
  dtype: float32
  device: auto
datasets:
  - name: sample
    path: ../data/prompts.jsonl   # one JSON object per line: id, prompt, optional answer
generation:
  max_new_tokens: 48
  batch_size: 8
segmentation:                     # the shipped model writes "T: ..." steps and "A: <number>"
  step_pattern: "T:"
  answer_pattern: "A:\\\\s*(-?[0-9][0-9.,]*)"
analyses:
  attention: {{}}
  ablation: {{methods: [zero, knockout]}}
output_dir: ../data/runs
"""
SAMPLE_PROMPTS = "data/datasets/two-step.jsonl"  # its first lines become the project's data/prompts.jsonl
DEMO_MODEL = "data/models/atlas-arith-demo"

TEMPLATES_README = """\
# Your templates

A file here replaces Attention Atlas's page template of the same name (copy one from the
package's `share/attention-atlas/templates/` to start: `example.md.j2`, `dataset.md.j2`,
`index.md.j2`, `run.md.j2`, `_section_*.md.j2`). Every value a template prints is made inert
as HTML and Markdown by the page builder.
"""

WORKFLOW = """\
# Build the site from the runs committed under data/runs/ and publish it to GitHub Pages
# (Settings -> Pages -> Source: GitHub Actions).
name: pages
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
  pages: write
  id-token: write
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: |
          python -m pip install torch --index-url https://download.pytorch.org/whl/cpu
          python -m pip install attention-atlas
      - run: atlas build
      - uses: actions/upload-pages-artifact@v3
        with:
          path: site
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""


class InitError(ValueError):
    """The target folder cannot become a project (it has files, or is a file)."""


def init_project(directory: Path) -> list[Path]:
    """Write a report project into ``directory`` (absent or empty); return what was written."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InitError(f"{directory}: exists and is not an empty folder; nothing was written")
    written = []
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped("mkdocs.yml"), directory / "mkdocs.yml")
    written.append(directory / "mkdocs.yml")
    prompts = shipped(SAMPLE_PROMPTS).read_text(encoding="utf-8").splitlines()[:6]
    config = SAMPLE_CONFIG.format(model=json.dumps(str(shipped(DEMO_MODEL))))
    # docs/ holds the project's own pages (none yet): the site's navigation is its report alone
    for path, text in ((directory / "configs" / "example.yaml", config),
                       (directory / "data" / "prompts.jsonl", "\n".join(prompts) + "\n"),
                       (directory / "docs" / ".gitkeep", ""),
                       (directory / "templates" / "README.md", TEMPLATES_README),
                       (directory / "data" / "runs" / ".gitkeep", ""),
                       (directory / ".github" / "workflows" / "pages.yml", WORKFLOW),
                       (directory / ".gitignore", "/site/\n/build/\n")):
        atomic_write_text(path, text)
        written.append(path)
    return written
