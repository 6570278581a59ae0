"""Publishing a built site: pushing it to GitHub Pages, and exporting one example's figures for a paper.

Neither renders a run of its own accord: deploy pushes what ``atlas build`` made, and export
renders one example page in a scratch folder and keeps only its figures.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from generator.render import figures
from generator.render.context import example_path
from generator.render.plots import display_token
from generator.render.site import render_example_alone
from generator.results.attention import AttentionExample
from generator.store.run_directory import RunFormatError, load_run


class DeployError(RuntimeError):
    """The site could not be published; the message says why (no git repository, no remote, a push refused)."""


def deploy_site(config_file: Path, message: str | None = None) -> str:
    """Push an already built ``site/`` to the ``gh-pages`` branch of the project's git remote (MkDocs' gh-deploy)."""
    import subprocess

    from mkdocs.commands.gh_deploy import gh_deploy
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort

    config = load_config(str(Path(config_file).resolve()))
    root = Path(config.config_file_path).parent
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root, capture_output=True, text=True)
    if inside.returncode != 0:
        raise DeployError(f"{root}: not a git repository; GitHub Pages deploys from one (git init, add a remote)")
    if not (Path(config["site_dir"]) / "index.html").is_file():
        raise DeployError(f"{config['site_dir']}: no built site; run `atlas build` first")
    remote = subprocess.run(["git", "remote", "get-url", config.remote_name], cwd=root, capture_output=True, text=True)
    if remote.returncode != 0:
        raise DeployError(f"{root}: the git repository has no remote '{config.remote_name}' to push to (add one: "
                          f"git remote add {config.remote_name} URL, or set remote_name in mkdocs.yml)")
    try:
        gh_deploy(config, message=message, ignore_version=True)
    except (Abort, subprocess.CalledProcessError, OSError) as exc:
        raise DeployError(f"could not push {config['site_dir']} to the '{config.remote_branch}' branch of "
                          f"'{config.remote_name}' ({exc}); git's own message is above (a gh-pages branch that "
                          "has diverged on the remote must be merged or reset there first)") from exc
    return f"{config.remote_name}/{config.remote_branch}"


def export_example_figures(runs_dir: Path, run_name: str, dataset: str, example_id: str, out_dir: Path) -> list[Path]:
    """One example's static PNG/SVG figures, at the same relative paths as a site built with them.

    Rendered in a scratch folder with the example page's own sections; only the figures are kept.
    """
    run = load_run(Path(runs_dir) / run_name)
    if dataset not in run.dataset_names():
        raise RunFormatError(f"{run.root}: no dataset {dataset!r} (datasets: {', '.join(run.dataset_names())})")
    if example_id not in run.example_ids(dataset):
        raise RunFormatError(f"{run.root}: dataset {dataset!r} has no example {example_id!r}")
    with tempfile.TemporaryDirectory() as scratch:
        written = []
        for figure in render_example_alone(Path(scratch), run, dataset, example_id):
            target = Path(out_dir) / figure.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(scratch) / figure.path, target)
            written.append(target)
    return written


def export_token_map(runs_dir: Path, run_name: str, dataset: str, example_id: str, head: str,
                     out_dir: Path) -> list[Path]:
    """One head's token-by-token map of one example as print figures and CSV, at the path a site would give it
    (``runs/<run>/<dataset>/examples/figures/<example>-token-map-L<l>H<h>.*``). ``head`` is ``L.H``."""
    run = load_run(Path(runs_dir) / run_name)
    if dataset not in run.dataset_names():
        raise RunFormatError(f"{run.root}: no dataset {dataset!r} (datasets: {', '.join(run.dataset_names())})")
    if example_id not in run.example_ids(dataset):
        raise RunFormatError(f"{run.root}: dataset {dataset!r} has no example {example_id!r}")
    result = run.result(dataset, example_id, AttentionExample)
    if result is None:
        raise RunFormatError(f"{run.root}: the attention analysis did not run on {dataset!r}, so there is no map")
    if result.maps is None:
        raise RunFormatError(f"{run.root}: {dataset}/{example_id} has no full attention maps (its sequence is longer "
                             "than analyses.attention.max_map_tokens); raise it and run again to export a map")
    layer, index = parse_head(head, result.maps.shape[0], result.maps.shape[1])
    trajectory = run.trajectory(dataset, example_id)
    stem = Path(out_dir) / example_path(run, dataset, example_id)
    stem = stem.parent / "figures" / f"{example_id}-token-map-L{layer}H{index}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    return figures.token_map(result.maps[layer, index], [display_token(t) for t in trajectory.tokens],
                             [(s.name, s.start) for s in trajectory.segments], stem,
                             f"{example_id}: layer {layer}, head {index}")


def parse_head(text: str, layers: int, heads: int) -> tuple[int, int]:
    """``"1.2"`` as (layer 1, head 2), checked against the model's size."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"--head: expected LAYER.HEAD such as 1.2, got {text!r}")
    layer, head = int(match.group(1)), int(match.group(2))
    if layer >= layers or head >= heads:
        raise ValueError(f"--head {text}: the model has layers 0-{layers - 1} and heads 0-{heads - 1}")
    return layer, head
