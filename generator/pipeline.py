"""model + datasets -> analyses -> run directory, example by example. Never renders anything.

Per dataset, three stages: (1) batch by batch, make the trajectories (a ``TrajectorySource``:
generation, generation that captures attention when an analysis asks, or the agent loop) and
run every analysis that needs no other example, writing each example whole as it
finishes; (2) analyses that need the whole dataset first (``prepare_dataset``) read the stored
trajectories back and add their results; (3) the dataset summaries are computed from the
stored results. Memory holds one batch, never the dataset; a killed run resumes at the first
unfinished batch, and several processes share the batches (``distributed.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import platform
import shutil
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from collections.abc import Sequence

from tqdm import tqdm

from generator.analyses import Analysis, AnalysisError, ExampleContext, get_analysis
from generator.capture import CaptureError, CaptureOptions
from generator.capture.model_loading import LoadedModel, load_model
from generator.capture.thought_inputs import thoughts_in_place
from generator.chat_prompts import render_prompts
from generator.config import ConfigError, DatasetSpec, RunConfig
from generator.datasets import DatasetError, Example, load_dataset
from generator.distributed import Shard, finish, shard_from_environment, start, wait_for_all
from generator.sources import TrajectorySource, source_for
from generator.table_datasets import read_table
from generator.store.records import SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, Trajectory, segment_ids
from generator.store.result_types import DatasetSummary
from generator.store.run_directory import Run, RunWriter, check_target, open_run, publish_run, run_root_for_rank

RECORDED_LIBRARIES = ("torch", "transformers", "tokenizers", "safetensors", "numpy")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        versions["attention-atlas"] = importlib.metadata.version("attention-atlas")
    except importlib.metadata.PackageNotFoundError:
        pass
    return versions


@dataclass
class RunSummary:
    directory: Path
    n_examples: int
    accuracy_by_dataset: dict[str, float | None]
    mode: str  # "new", "resume" or "replace"
    reused: int = 0  # examples a resumed run found finished
    shard: Shard = Shard()


class StoredTrajectories(Sequence[Trajectory]):
    """A dataset's trajectories read from the run as they are reached, never all held at once.

    With ``model``, iterating puts each latent trajectory's thoughts in place while the loop body runs
    (so ``prepare_dataset`` runs the model on the inputs it generated from).
    """

    def __init__(self, root: Path, dataset: str, example_ids: list[str], model=None) -> None:
        self.run = Run.unsealed(root)
        self.dataset, self.example_ids, self.model = dataset, example_ids, model

    def __iter__(self):
        for index in range(len(self)):
            trajectory = self[index]
            with thoughts_in_place(self.model, trajectory) if self.model is not None else contextlib.nullcontext():
                yield trajectory

    def __len__(self) -> int:
        return len(self.example_ids)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.run.trajectory(self.dataset, self.example_ids[index])


def analysis_entry(name: str, analysis: Analysis) -> AnalysisEntry:
    summary = analysis.summary_type
    return AnalysisEntry(name, analysis.result_type.__name__, summary.__name__ if summary else None)


@dataclass(frozen=True)
class PlannedAnalysis:
    """One analysis as it runs on one dataset: its options parsed, the dataset's own merged over the run's."""

    name: str
    analysis: Analysis
    options: Any

    def needs_whole_dataset(self) -> bool:
        return self.analysis.needs_whole_dataset()


Planned = dict[str, PlannedAnalysis]  # a dataset's analyses by name, in the config's order


def generation_capture(active: Planned) -> CaptureOptions | None:
    """The capture the first analysis that wants one asks for while generating (None: plain generation)."""
    for planned in active.values():
        requested = planned.analysis.capture_during_generation(planned.options)
        if requested is not None:
            return requested
    return None


@dataclass
class _Job:
    """Everything one dataset's part of a run needs."""

    model: object
    tokenizer: object
    config: RunConfig
    writer: RunWriter
    shard: Shard
    dataset: str
    examples: list[Example]
    active: Planned
    source: TrajectorySource  # how its trajectories are made (generation, with capture, the agent loop)

    def context(self, trajectory: Trajectory, captured=None) -> ExampleContext:
        import torch

        return ExampleContext(model=self.model, tokenizer=self.tokenizer,
                              input_ids=torch.tensor([trajectory.token_ids], device=self.model.device),
                              trajectory=trajectory, segment_ids=segment_ids(trajectory.segments, len(trajectory.tokens)),
                              segmentation=self.config.segmentation, answers=self.config.answers,
                              captured_attention=captured, latent=self.source.latent)

    def analyse(self, analysis: Analysis, context: ExampleContext, options):
        """One analysis of one example; a latent trajectory's thoughts are in place for every forward it runs."""
        with thoughts_in_place(self.model, context.trajectory):
            return analysis.analyze_example(context, options)

    def batches(self) -> list[list[Example]]:
        size = self.config.generation.batch_size
        return [self.examples[i:i + size] for i in range(0, len(self.examples), size)]

    def trajectories(self, in_place: bool = False) -> StoredTrajectories:
        return StoredTrajectories(self.writer.root, self.dataset, [e.id for e in self.examples],
                                  self.model if in_place else None)


@dataclass
class RunPlan:
    """A run as it will go: everything read and checked from the config and datasets, before a model loads."""

    config: RunConfig
    raw_config: dict
    config_sha256: str
    directory: Path
    inputs_sha256: str  # the config's hash and every dataset file's bytes: what a run resumes by
    datasets: dict[str, list[Example]]  # as read; fitted to the model's context once it loads
    analyses: dict[str, Analysis]  # every configured analysis (the manifest lists them)
    by_dataset: dict[str, Planned]  # the analyses each dataset runs, options parsed once


def plan_run(config: RunConfig, raw_config: dict, config_sha256: str, output_dir: Path | None,
             overwrite: bool, shard: Shard) -> RunPlan:
    """Every check that needs no model: datasets readable, options valid, the target ours to write."""
    if shard.world > 1 and config.model.device_map is not None:
        raise ConfigError("model.device_map: 'auto' spreads one model over every GPU; it cannot be combined with "
                          f"{shard.world} data-parallel processes (launch one process, or leave device_map unset)")
    loaded = {spec.name: load_examples(spec, config.seed) for spec in config.datasets}
    datasets = {name: examples for name, (examples, _) in loaded.items()}
    analyses = {name: get_analysis(name) for name in config.analyses}
    by_dataset = {spec.name: dataset_analyses(config, spec, analyses) for spec in config.datasets}
    directory = config.run_directory(output_dir)
    inputs = inputs_sha256(config_sha256, [path for _, files in loaded.values() for path in files])
    check_target(directory, inputs, overwrite)  # refuse before a model loads
    return RunPlan(config, raw_config, config_sha256, directory, inputs, datasets, analyses, by_dataset)


def execute_run(config: RunConfig, raw_config: dict, config_sha256: str, output_dir: Path | None = None,
                loaded: LoadedModel | None = None, overwrite: bool = False, shard: Shard | None = None) -> RunSummary:
    """Run every dataset through the model and analyses, writing each example as it finishes.

    Rerunning the same config resumes: finished examples are kept, the rest are done, and the
    result equals an uninterrupted run. Every input is checked before the model loads. The
    stages: plan (no model), check against the loaded model, open the run, generate and
    analyse, seal (summaries, manifest, and a replacement swapped in).
    """
    import torch

    shard = shard or shard_from_environment()
    torch.manual_seed(config.seed)
    plan = plan_run(config, raw_config, config_sha256, output_dir, overwrite, shard)
    loaded = loaded or load_model(config.model, device=_device_for(config, shard))
    start(shard, str(loaded.model.device))
    datasets, sources = _check_with_model(plan, loaded)
    writer, mode, existed = _open(plan, loaded, overwrite, shard)
    reused = sum(writer.has_example(name, e.id) for name, examples in datasets.items() for e in examples)
    jobs = [_Job(loaded.model, loaded.tokenizer, config, writer, shard, spec.name, datasets[spec.name],
                 plan.by_dataset[spec.name], sources[spec.name]) for spec in config.datasets]
    _run_stages(jobs, writer, mode, existed and writer.root == plan.directory, shard)
    accuracy = {job.dataset: _accuracy(job.trajectories()) for job in jobs}
    if shard.is_main:
        _seal(plan, loaded, jobs, writer, datasets)
    wait_for_all(shard)
    finish(shard)
    return RunSummary(plan.directory, sum(len(e) for e in datasets.values()), accuracy, mode, reused, shard)


def _check_with_model(plan: RunPlan, loaded: LoadedModel) -> tuple[dict[str, list[Example]],
                                                                   dict[str, TrajectorySource]]:
    """Each dataset's analyses checked against the model, its trajectory source against the model and
    tokenizer (an agent's chat template), prompts fitted."""
    config = plan.config
    for planned in (p for analyses in plan.by_dataset.values() for p in analyses.values()):
        planned.analysis.check_model(loaded.model, planned.options)
    sources = {spec.name: source_for(loaded, config, spec.name, spec.agent,
                                     generation_capture(_streaming(plan.by_dataset[spec.name])))
               for spec in config.datasets}
    for source in sources.values():
        source.check()
    datasets = {spec.name: fit_prompts(render_prompts(plan.datasets[spec.name], loaded.tokenizer, config.prompts,
                                                      loaded.info.id), loaded, config, spec.path or spec.hub)
                for spec in config.datasets}
    return datasets, sources


def _open(plan: RunPlan, loaded: LoadedModel, overwrite: bool, shard: Shard) -> tuple[RunWriter, str, bool]:
    """The writer every rank writes through, the mode, and whether the folder was there before (rank 0)."""
    weights = {"id": loaded.info.id, "revision": loaded.info.revision, "weights_sha256": loaded.info.weights_sha256}
    existed = False
    if shard.is_main:
        # an empty folder of the user's: on failure we empty it, never remove it
        existed = plan.directory.exists() and check_target(plan.directory, plan.inputs_sha256, overwrite) != "replace"
        writer, mode = open_run(plan.directory, plan.inputs_sha256, weights, overwrite)
    wait_for_all(shard)
    if not shard.is_main:
        writer, mode = RunWriter(run_root_for_rank(plan.directory)), "resume"
    return writer, mode, existed


def _run_stages(jobs: list[_Job], writer: RunWriter, mode: str, existed: bool, shard: Shard) -> None:
    """Generate and analyse every dataset, then the analyses that need a whole dataset; a failure before
    any example finished leaves nothing of ours behind, a later one keeps what finished for a resume."""
    try:
        for job in jobs:
            _generate_and_analyse(job)
        wait_for_all(shard)  # every example of every dataset is on disk
        for job in jobs:
            _analyse_with_the_whole_dataset(job)
    except BaseException as exc:
        finished = sum(1 for _ in writer.layout.examples.glob("*/*/trajectory.json"))
        if shard.is_main and mode != "resume" and not finished:
            _remove_unfinished(writer.root, existed)
        elif isinstance(exc, (AnalysisError, CaptureError)):
            raise type(exc)(f"{exc} ({finished} finished examples are kept in {writer.root}; after fixing the "
                            "cause, the same command resumes if the config and datasets are unchanged)") from exc
        raise
    wait_for_all(shard)


def _seal(plan: RunPlan, loaded: LoadedModel, jobs: list[_Job], writer: RunWriter,
          datasets: dict[str, list[Example]]) -> None:
    """Summaries, then the manifest (written last: a run without one is unfinished), then a replacement
    takes the old run's place, complete."""
    config = plan.config
    _summarise(jobs, writer)
    writer.write_manifest(Manifest(
        schema_version=SCHEMA_VERSION,
        run_name=config.run_name,
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        model=loaded.info,
        config=plan.raw_config,
        config_sha256=plan.config_sha256,
        library_versions=library_versions(),
        datasets=tuple(DatasetEntry(spec.name, Path(spec.path).name if spec.path else f"hub:{spec.hub}",
                                    tuple(e.id for e in datasets[spec.name]))
                       for spec in config.datasets),
        analyses=tuple(analysis_entry(name, analysis) for name, analysis in plan.analyses.items()),
    ))
    writer.mark_complete()
    publish_run(writer, plan.directory)


def dataset_analyses(config: RunConfig, spec: DatasetSpec, analyses: dict[str, Analysis]) -> Planned:
    """The analyses that run on one dataset, each with its options there (the dataset's own merged in)."""
    chosen = {name: analysis for name, analysis in analyses.items()
              if (spec.analyses is None or name in spec.analyses)
              and (spec.agent is not None or not analysis.requires_agent)}
    return {name: PlannedAnalysis(name, analysis, analysis.parse_options(
                config.analysis_options(spec, name), "config",
                f"datasets.{spec.name}.options.{name}" if name in spec.options else f"analyses.{name}"))
            for name, analysis in chosen.items()}


def fit_prompts(examples: list[Example], loaded: LoadedModel, config: RunConfig,
                source: str | Path) -> list[Example]:
    """Prompts that leave room for ``max_new_tokens`` in the model's context, refused or truncated."""
    context = getattr(loaded.model.config.get_text_config(), "max_position_embeddings", None)
    if not context:
        return examples
    new_tokens = config.generation.max_new_tokens
    latent = config.generation.latent  # its begin, thoughts and end take room too
    room = context - new_tokens - (latent.thoughts + 2 if latent is not None else 0)
    if room < 1:
        raise ConfigError(f"generation.max_new_tokens: {new_tokens} leaves no room for a prompt in the model's "
                          f"context of {context} tokens")
    fitted = []
    for example in examples:
        text, specials = example.model_text()
        ids = loaded.tokenizer(text, add_special_tokens=specials)["input_ids"]
        example = _note_unencoded(example, loaded.tokenizer, ids)
        if len(ids) <= room:
            fitted.append(example)
        elif config.generation.long_prompts == "refuse" or example.model_input is not None:
            raise DatasetError(f"{source}: example {example.id!r}: the prompt has {len(ids)} tokens, and with "
                               f"generation.max_new_tokens {new_tokens} the model's context of {context} tokens is "
                               "exceeded; shorten it" + (", or set generation.long_prompts: truncate"
                                                         if example.model_input is None else
                                                         " (chat prompts are refused, never cut: a cut template "
                                                         "would mislead the model)"))
        else:
            plain = loaded.tokenizer(example.prompt, add_special_tokens=False)["input_ids"]
            keep = room - (len(ids) - len(plain))  # room for the special tokens the tokenizer adds (<bos>)
            kept = loaded.tokenizer.decode(plain[len(plain) - keep:], skip_special_tokens=True)
            note = f"kept the last {keep} of {len(plain)} prompt tokens (the model's context is {context})"
            fitted.append(dataclasses.replace(example, prompt=kept, extra={**example.extra, "prompt_truncated": note}))
    return fitted


def _note_unencoded(example: Example, tokenizer, ids: list[int]) -> Example:
    """A prompt whose characters the tokenizer cannot encode (dropped, or read as unknown) says so on its page.

    The model never saw those characters: ``Q: ١٢+٣=`` reaches a tokenizer without Arabic-Indic
    digits as ``Q: +=``. Found by decoding the prompt's own tokens again.
    """
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    lost = sorted({ch for ch in example.prompt if not ch.isspace()} - set(decoded))
    if not lost:
        return example
    shown = " ".join(f"{ch} (U+{ord(ch):04X})" for ch in lost[:12]) + (" ..." if len(lost) > 12 else "")
    note = f"the tokenizer cannot encode {len(lost)} character(s) of the prompt, so the model never saw them: {shown}"
    return dataclasses.replace(example, extra={**example.extra, "prompt_not_encoded": note})


def _remove_unfinished(directory: Path, existed: bool) -> None:
    """A run that failed before any example finished: what we wrote goes, a folder we did not make stays."""
    if not existed:
        shutil.rmtree(directory, ignore_errors=True)
        return
    # it was empty when the run began (or held a run of ours that --overwrite moved away): all in it is ours
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def load_examples(spec: DatasetSpec, seed: int) -> tuple[list[Example], list[Path]]:
    """A dataset's examples and the files they came from: our JSONL reader, or a table through `datasets`."""
    if spec.is_plain_jsonl():
        return load_dataset(Path(spec.path), spec.limit), [Path(spec.path)]
    return read_table(spec.table(), seed, spec.limit)


def inputs_sha256(config_sha256: str, dataset_files: list[Path]) -> str:
    """What a resumable run is identified by: its config and the bytes of its dataset files."""
    digest = hashlib.sha256(config_sha256.encode())
    for path in dataset_files:
        digest.update(hashlib.sha256(Path(path).read_bytes()).hexdigest().encode())
    return digest.hexdigest()


def _device_for(config: RunConfig, shard: Shard) -> str | None:
    """With several processes on CUDA, each takes the GPU of its local rank."""
    if shard.world > 1 and config.model.device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            return f"cuda:{shard.local_rank}"
    return None


def _streaming(active: Planned) -> Planned:
    """The analyses that run on each example as it is made (the others need the whole dataset first)."""
    return {name: planned for name, planned in active.items() if not planned.needs_whole_dataset()}


def _generate_and_analyse(job: _Job) -> None:
    """Batch by batch: make the trajectories, then run every analysis that needs no other example; each
    example's directory appears whole. Finished batches are skipped."""
    streaming = _streaming(job.active)
    with tqdm(total=len(job.examples), desc=f"generating {job.dataset}", unit="example") as bar:
        for index, batch in enumerate(job.batches()):
            bar.update(len(batch))
            todo = {e.id for e in batch if not job.writer.has_example(job.dataset, e.id)}
            if not todo or not job.shard.owns_batch(index):
                continue
            if not job.source.whole_batches:
                batch = [e for e in batch if e.id in todo]
            for trajectory, captured in job.source.make(batch):
                if trajectory.example_id in todo:
                    context = job.context(trajectory, captured)
                    results = [job.analyse(p.analysis, context, p.options) for p in streaming.values()]
                    job.writer.write_example(trajectory, results)


def _analyse_with_the_whole_dataset(job: _Job) -> None:
    """Analyses that prepare over every trajectory first (e.g. dataset means); results missing are added."""
    later = [planned for planned in job.active.values() if planned.needs_whole_dataset()]
    if not later:
        return
    trajectories = job.trajectories()
    size = job.config.generation.batch_size
    for name, analysis, options in ((p.name, p.analysis, p.options) for p in later):
        state = analysis.prepare_dataset(job.model, job.tokenizer, job.trajectories(in_place=True), options)
        for position, trajectory in enumerate(tqdm(trajectories, desc=f"{name} on {job.dataset}", unit="example")):
            if not job.shard.owns_batch(position // size) or job.writer.has_result(job.dataset, trajectory.example_id,
                                                                                      name):
                continue
            context = job.context(trajectory)
            context.dataset_state = state
            job.writer.write_result(job.dataset, trajectory.example_id, job.analyse(analysis, context, options))


def _summarise(jobs: list[_Job], writer: RunWriter) -> None:
    """Dataset summaries from every example's stored results (so a resumed run sums the same files)."""
    run = Run.unsealed(writer.root)
    statistics: dict[str, list[DatasetSummary]] = {}
    for job in jobs:
        inputs = {name: planned.analysis.summary_input() for name, planned in job.active.items()}
        digests = {name: [run.result(job.dataset, e.id, kind) for e in job.examples] if kind else []
                   for name, kind in inputs.items()}
        others = {inputs[name]: kept for name, kept in digests.items() if inputs[name] is not None}
        for name, planned in job.active.items():
            summary = planned.analysis.summarize_dataset(job.trajectories(), digests[name], planned.options, others)
            if summary is not None:
                writer.write_summary(job.dataset, summary)
                statistics.setdefault(job.dataset, []).append(summary)
    writer.write_summary_statistics(statistics)


def _accuracy(trajectories: Sequence[Trajectory]) -> float | None:
    scored = [t.correct for t in trajectories if t.correct is not None]
    return sum(scored) / len(scored) if scored else None
