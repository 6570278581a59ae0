"""The `atlas` command line: demo, run, build, serve, train-demo-model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator.agent.formats import AgentFormatError
from generator.analyses import AnalysisError
from generator.capture import CaptureError
from generator.capture.model_loading import ModelLoadError
from generator.config import ConfigError, read_config, resolve_paths
from generator.datasets import DatasetError
from generator.demo_model.datasets import (shipped_decimal_questions, shipped_prompts, write_agent_dataset,
                                           write_decimal_dataset, write_demo_datasets)
from generator.demo_model.latent import LatentSettings, split_problems, train_latent_model, write_latent_dataset
from generator.demo_model.train import TrainSettings, train_demo_model
from generator.importers import IMPORTERS, ImportValidationError, import_run
from generator.pipeline import execute_run
from generator.project_init import InitError, init_project
from generator.render.citation import normalised_site_url
from generator.render.publish import DeployError, deploy_site, export_example_figures, export_token_map
from generator.render.serve import parse_dev_addr, serve as serve_site
from generator.render.site import build_site
from generator.render.mkdocs_build import SiteError
from generator.shipped import shipped
from generator.store.atomic import OutsideOwnedFolderError
from generator.store.run_directory import RunExistsError, RunFormatError

# the second: the agent comparison; the third: the latent-reasoning model (continuous thoughts)
DEMO_CONFIGS = (Path("configs/demo.yaml"), Path("configs/demo-calc-only.yaml"), Path("configs/demo-latent.yaml"))
DEMO_MODEL = Path("data/models/atlas-arith-demo")
LATENT_DEMO_MODEL = Path("data/models/atlas-latent-demo")
LATENT_DATASET = Path("data/datasets/latent-sums.jsonl")
DEFAULT_RUNS = Path("data/runs")
DEFAULT_MKDOCS = Path("mkdocs.yml")


class UsageError(RuntimeError):
    """A problem the user can fix; printed without a traceback."""


def _run(config_path: Path, output_dir: Path | None, overwrite: bool = False) -> Path:

    written = read_config(config_path)
    config = resolve_paths(written, config_path.parent, str(config_path))
    summary = execute_run(config, written.to_dict(), written.config_hash(), output_dir, overwrite=overwrite)
    if not summary.shard.is_main:
        print(f"rank {summary.shard.rank} of {summary.shard.world}: finished its share of {summary.directory.resolve()}")
        return summary.directory
    if summary.shard.world > 1:
        print(f"rank 0 of {summary.shard.world}: every rank finished; summaries and manifest written")
    if summary.mode == "resume":
        print(f"  resumed: {summary.reused} of {summary.n_examples} examples were already finished")
    for dataset, accuracy in summary.accuracy_by_dataset.items():
        shown = "not scored" if accuracy is None else f"{100 * accuracy:.1f}%"
        print(f"  {dataset}: accuracy {shown}")
    print(f"Wrote run ({summary.n_examples} examples) to {summary.directory.resolve()}")
    return summary.directory


def _check_site_inputs(runs_dir: Path, mkdocs_config: Path) -> None:
    if not mkdocs_config.is_file():
        raise UsageError(f"{mkdocs_config}: MkDocs config not found (run atlas from the project root or pass --mkdocs-config)")
    if not runs_dir.is_dir():
        raise UsageError(f"{runs_dir}: no runs directory; create a run first with `atlas run CONFIG.yaml` or `atlas demo`")


def _build(runs_dir: Path, mkdocs_config: Path, site_dir: Path | None, jobs: int | None = None,
           example_figures: bool = False, full: bool = False, site_url: str | None = None) -> Path:
    _check_site_inputs(runs_dir, mkdocs_config)
    try:
        normalised_site_url(site_url)
    except ValueError as exc:
        raise UsageError(f"--site-url: {exc.args[0].split(': ', 1)[1]}") from None
    built = build_site(runs_dir, mkdocs_config, site_dir, jobs=jobs, example_figures=example_figures, full=full,
                       site_url=site_url)
    index = built.site_dir / "index.html"
    how = ("nothing new since the last build: site left as it was" if built.unchanged else
           "only changed pages rebuilt" if built.incremental else "whole site built")
    print(f"Built {built.pages} pages ({built.rendered} rendered now; {how}) and {built.figures} figure files "
          f"into {built.site_dir}")
    print(f"Open {index}")
    if built.skipped:
        for problem in built.skipped:
            print(f"atlas build: skipped a damaged run: {problem}", file=sys.stderr)
        raise RunFormatError(f"left out {len(built.skipped)} damaged run(s) (each named above); the others were built")
    return index


def command_run(args: argparse.Namespace) -> None:
    _run(Path(args.config), Path(args.output_dir) if args.output_dir else None, args.overwrite)


def command_build(args: argparse.Namespace) -> None:
    _build(Path(args.runs), Path(args.mkdocs_config), Path(args.site_dir) if args.site_dir else None, args.jobs,
           args.example_figures, args.full, args.site_url)


def command_demo(args: argparse.Namespace) -> None:
    """In a checkout's root: its own configs, data/runs and site/. Anywhere else (a pip install): the
    installed configs, model and datasets, into a report project (``atlas-demo/`` unless named)."""
    if DEMO_CONFIGS[0].is_file() and args.directory is None:
        if not DEMO_MODEL.joinpath("config.json").is_file():
            raise UsageError(f"{DEMO_MODEL}: shipped model not found (rebuild it with `atlas train-demo-model`)")
        configs, runs, mkdocs, output = DEMO_CONFIGS, DEFAULT_RUNS, DEFAULT_MKDOCS, None
    else:
        if not shipped(str(DEMO_MODEL)).joinpath("config.json").is_file():
            raise UsageError(f"{shipped(str(DEMO_MODEL))}: the installed package has no shipped model "
                             "(reinstall attention-atlas)")
        project = Path(args.directory or "atlas-demo")
        if not (project / "mkdocs.yml").is_file():
            init_project(project)
            print(f"Created a report project for the demo in {project.resolve()}")
        configs = [shipped("configs") / config.name for config in DEMO_CONFIGS]
        runs = output = project / "data" / "runs"
        mkdocs = project / "mkdocs.yml"
    for config in configs:  # the demo's own runs: always rebuilt from the shipped configs
        _run(config, output, overwrite=True)
    _build(runs, mkdocs, None)


def _train_latent_demo_model() -> None:
    settings = LatentSettings()
    report = train_latent_model(LATENT_DEMO_MODEL, settings)
    _, held_out = split_problems(settings)
    path = write_latent_dataset(LATENT_DATASET, held_out)
    print(f"Wrote {LATENT_DEMO_MODEL} (held-out accuracy {100 * report['held_out_accuracy']:.1f}%) and {path}")


def command_serve(args: argparse.Namespace) -> None:
    config, runs = Path(args.mkdocs_config), Path(args.runs)
    _check_site_inputs(runs, config)
    try:
        host, port = parse_dev_addr(args.dev_addr)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    serve_site(runs, config, host, port, poll=args.poll, jobs=args.jobs)


def command_import(args: argparse.Namespace) -> None:

    directory = import_run(IMPORTERS.get(args.kind), Path(args.source), args.run, Path(args.runs), args.overwrite)
    print(f"Imported {args.source} as run {args.run!r} into {directory.resolve()}")
    print("Render it with `atlas build`.")


def command_deploy(args: argparse.Namespace) -> None:
    _build(Path(args.runs), Path(args.mkdocs_config), None, args.jobs)
    target = deploy_site(Path(args.mkdocs_config), args.message)
    print(f"Pushed site/ to {target} (GitHub Pages serves that branch once Pages is set to it)")


def command_export(args: argparse.Namespace) -> None:
    if args.head is not None:
        try:
            written = export_token_map(Path(args.runs), args.run, args.dataset, args.example, args.head, Path(args.out))
        except ValueError as exc:  # the head is not LAYER.HEAD of this model
            raise UsageError(str(exc)) from None
    else:
        written = export_example_figures(Path(args.runs), args.run, args.dataset, args.example, Path(args.out))
    if not written:
        print(f"{args.run}/{args.dataset}/{args.example}: no static figures (its analyses draw none per example); "
              "`--head LAYER.HEAD` exports its token-by-token attention map")
    for path in written:
        print(f"Wrote {path.resolve()}")


def command_init(args: argparse.Namespace) -> None:
    written = init_project(Path(args.directory))
    print(f"Created a report project in {Path(args.directory).resolve()}:")
    for path in written:
        print(f"  {path}")
    print("Next: edit configs/example.yaml, then `atlas run configs/example.yaml` and `atlas build` there.")


def command_train_demo_model(args: argparse.Namespace) -> None:
    if args.latent:
        _train_latent_demo_model()
        return

    if args.write_datasets:
        for path in write_demo_datasets(Path("data/datasets")) + [write_decimal_dataset(Path("data/datasets")),
                                                                   write_agent_dataset(Path("data/datasets"))]:
            print(f"Wrote dataset {path}")
    settings = TrainSettings(steps=args.steps, seed=args.seed)
    report = train_demo_model(Path(args.output), settings, shipped_prompts(), shipped_decimal_questions())
    print(f"Held-out exact-answer accuracy: {100 * report['held_out_exact_answer_accuracy']:.1f}% "
          f"on {report['held_out_problems']} problems ({report['train_seconds']} s)")
    for fmt, rates in report["held_out_decimal_behaviour"].items():
        print(f"Decimal comparison, {fmt} format: correct {100 * rates['correct_rate']:.1f}%, planted-bug answers "
              f"{100 * rates['bug_rate_on_discriminating_items']:.1f}% of discriminating items")
    agent = report["held_out_agent_with_tools"]
    print(f"Agent with tools (ReAct, calc and lookup): correct {100 * agent['correct_rate']:.1f}%, answered "
          f"{100 * agent['answered_rate']:.1f}% of {report['held_out_agent_queries']} held-out queries")
    print(f"Wrote model to {args.output}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atlas", description="Attention Atlas: interpretability reports as a static site.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the shipped model on the shipped datasets and build the site")
    demo.add_argument("directory", nargs="?", help="a report project to make (or reuse) for the demo (default: "
                      "the checkout's root when run there, else ./atlas-demo)")
    demo.set_defaults(handler=command_demo)

    run = sub.add_parser("run", help="run a model and analyses as described by a YAML config")
    run.add_argument("config", help="run config (YAML)")
    run.add_argument("--output-dir", help="where run directories go (default: the config's output_dir)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a run of ours made under another config (the same config resumes)")
    run.set_defaults(handler=command_run)

    build = sub.add_parser("build", help="render every run into pages and build the site with MkDocs")
    build.add_argument("--runs", default=str(DEFAULT_RUNS), help="directory of runs (default: data/runs)")
    build.add_argument("--mkdocs-config", default=str(DEFAULT_MKDOCS), help="MkDocs config (default: mkdocs.yml)")
    build.add_argument("--site-dir", help="output directory (default: site_dir of the MkDocs config)")
    build.add_argument("--jobs", type=int, help="processes rendering pages (default: every core)")
    build.add_argument("--example-figures", action="store_true",
                       help="also write each example's static PNG/SVG figures (dataset figures are always written)")
    build.add_argument("--full", action="store_true",
                       help="render every page and rebuild the whole site (default: only what changed)")
    build.add_argument("--site-url", help="where the site will be published, e.g. https://you.github.io/report/ "
                       "(default: site_url of the MkDocs config): citation snippets and sitemap.xml use absolute URLs")
    build.set_defaults(handler=command_build)

    serve = sub.add_parser("serve", help="build the site as `atlas build` does (only what changed) and serve it with "
                           "live reload")
    serve.add_argument("--runs", default=str(DEFAULT_RUNS))
    serve.add_argument("--mkdocs-config", default=str(DEFAULT_MKDOCS))
    serve.add_argument("--poll", type=float, default=2.0, help="seconds between checks for finished runs")
    serve.add_argument("--dev-addr", default="127.0.0.1:8000")
    serve.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per CPU)")
    serve.set_defaults(handler=command_serve)

    importing = sub.add_parser("import", help="turn result files you already have into a run directory")
    importing.add_argument("kind", choices=IMPORTERS.names(),
                           help="; ".join(f"{name}: {IMPORTERS.get(name).help}" for name in IMPORTERS.names()))
    importing.add_argument("source", help="the file or directory to import")
    importing.add_argument("--run", required=True, help="name of the run directory to create")
    importing.add_argument("--runs", default=str(DEFAULT_RUNS), help="directory of runs (default: data/runs)")
    importing.add_argument("--overwrite", action="store_true", help="replace an import of another source at --run")
    importing.set_defaults(handler=command_import)

    deploy = sub.add_parser("deploy", help="build, then push site/ to the gh-pages branch (mkdocs gh-deploy)")
    deploy.add_argument("--runs", default=str(DEFAULT_RUNS), help="directory of runs (default: data/runs)")
    deploy.add_argument("--mkdocs-config", default=str(DEFAULT_MKDOCS), help="MkDocs config (default: mkdocs.yml)")
    deploy.add_argument("--jobs", type=int, help="processes rendering pages (default: every core)")
    deploy.add_argument("--message", help="commit message on the gh-pages branch")
    deploy.set_defaults(handler=command_deploy)

    export = sub.add_parser("export", help="write one example's static figures (PNG, PDF, SVG and CSV; paths as in "
                                           "the site), or with --head its token map for one head")
    export.add_argument("run")
    export.add_argument("dataset")
    export.add_argument("example")
    export.add_argument("--runs", default=str(DEFAULT_RUNS), help="directory of runs (default: data/runs)")
    export.add_argument("--out", default="exports", help="where to write them (default: exports/)")
    export.add_argument("--head", help="LAYER.HEAD, e.g. 1.2: export that head's token-by-token attention map")
    export.set_defaults(handler=command_export)

    init = sub.add_parser("init", help="create a report project (mkdocs.yml, docs, a sample config, templates/)")
    init.add_argument("directory", help="an absent or empty folder")
    init.set_defaults(handler=command_init)

    train = sub.add_parser("train-demo-model", help="train the shipped demo model from scratch (about 30 minutes on 2 cores)")
    train.add_argument("--steps", type=int, default=TrainSettings.steps)
    train.add_argument("--seed", type=int, default=1234)
    train.add_argument("--output", default=str(DEMO_MODEL))
    train.add_argument("--write-datasets", action="store_true", help="also rewrite the shipped datasets (deterministic)")
    train.add_argument("--latent", action="store_true", help="train the latent-reasoning demo model instead (about 2 "
                       "minutes) and rewrite its dataset")
    train.set_defaults(handler=command_train_demo_model)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (UsageError, ConfigError, DatasetError, ModelLoadError, RunFormatError, AnalysisError, CaptureError,
            ImportValidationError, RunExistsError, InitError, DeployError, SiteError,
            OutsideOwnedFolderError, AgentFormatError) as exc:
        print(f"atlas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
