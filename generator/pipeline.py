"""model + datasets -> analyses -> run directory. Never renders anything."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from generator.analyses import Analysis, ExampleContext, get_analysis
from generator.capture import CaptureOptions, generate_with_capture_batched
from generator.capture.generation import Generation, generate, token_pieces
from generator.capture.model_loading import LoadedModel, load_model
from generator.capture.segmentation import parse_answer, segment_trajectory
from generator.config import RunConfig
from generator.datasets import Example, load_dataset
from generator.store.records import SCHEMA_VERSION, AnalysisEntry, DatasetEntry, Manifest, Trajectory, segment_ids
from generator.store.result_types import DatasetSummary
from generator.store.run_directory import RunWriter, write_run

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


def build_trajectory(generation: Generation, dataset: str, tokenizer, config: RunConfig) -> Trajectory:
    example: Example = generation.example
    pieces, offsets, text = token_pieces(tokenizer, generation.token_ids)
    prompt_end = offsets[generation.n_prompt_tokens - 1][1] if generation.n_prompt_tokens else 0
    generated_text = text[prompt_end:]
    parsed = parse_answer(generated_text, config.segmentation)
    correct = None if example.answer is None else (parsed is not None and parsed == example.answer.strip())
    metadata = {k: v for k, v in (("difficulty", example.difficulty), ("category", example.category)) if v}
    metadata.update(example.extra)
    return Trajectory(
        example_id=example.id,
        dataset=dataset,
        prompt=example.prompt,
        generated_text=generated_text,
        text=text,
        tokens=tuple(pieces),
        token_offsets=tuple(offsets),
        token_ids=generation.token_ids,
        n_prompt_tokens=generation.n_prompt_tokens,
        segments=segment_trajectory(text, offsets, generation.n_prompt_tokens, config.segmentation),
        expected_answer=example.answer,
        parsed_answer=parsed,
        correct=correct,
        metadata=metadata,
    )


@dataclass
class RunSummary:
    directory: Path
    n_examples: int
    accuracy_by_dataset: dict[str, float | None]


def analysis_entry(name: str, analysis: Analysis) -> AnalysisEntry:
    summary = analysis.summary_type
    return AnalysisEntry(name, analysis.result_type.__name__, summary.__name__ if summary else None)


def generation_capture(active: dict[str, tuple[Analysis, object]]) -> CaptureOptions | None:
    """The capture the first analysis that wants one asks for while generating (None: plain generation)."""
    for analysis, options in active.values():
        requested = analysis.capture_during_generation(options)
        if requested is not None:
            return requested
    return None


def execute_run(config: RunConfig, raw_config: dict, config_sha256: str, output_dir: Path | None = None,
                loaded: LoadedModel | None = None) -> RunSummary:
    """Run every dataset through the model and analyses and write the run directory atomically."""
    import torch

    torch.manual_seed(config.seed)
    datasets = {spec.name: load_dataset(Path(spec.path), spec.limit) for spec in config.datasets}
    all_analyses = {name: (get_analysis(name), get_analysis(name).parse_options(opts, "config", f"analyses.{name}"))
                    for name, opts in config.analyses.items()}
    loaded = loaded or load_model(config.model)
    model, tokenizer = loaded.model, loaded.tokenizer
    for analysis, options in all_analyses.values():
        analysis.check_model(model, options)
    directory = config.run_directory(output_dir)
    accuracy: dict[str, float | None] = {}

    def fill(writer: RunWriter) -> None:
        entries = []
        statistics: dict[str, list[DatasetSummary]] = {}
        for dataset, examples in datasets.items():
            spec = next(s for s in config.datasets if s.name == dataset)
            active = {name: pair for name, pair in all_analyses.items() if spec.analyses is None or name in spec.analyses}
            trajectories, captures = _generate(model, tokenizer, dataset, examples, config, generation_capture(active))
            digests: dict[str, list] = {name: [] for name in active}
            states = {name: analysis.prepare_dataset(model, tokenizer, trajectories, options)
                      for name, (analysis, options) in active.items()}
            for trajectory in tqdm(trajectories, desc=f"analysing {dataset}", unit="example"):
                writer.write_trajectory(trajectory)
                context = ExampleContext(
                    model=model,
                    tokenizer=tokenizer,
                    input_ids=torch.tensor([trajectory.token_ids], device=model.device),
                    trajectory=trajectory,
                    segment_ids=segment_ids(trajectory.segments, len(trajectory.tokens)),
                    segmentation=config.segmentation,
                    captured_attention=captures.get(trajectory.example_id),
                )
                for name, (analysis, options) in active.items():
                    context.dataset_state = states[name]
                    result = analysis.analyze_example(context, options)
                    writer.write_result(dataset, trajectory.example_id, result)
                    digests[name].append(analysis.digest(result))
            others = {type(kept[0]): kept for kept in digests.values() if kept}
            for name, (analysis, options) in active.items():
                summary = analysis.summarize_dataset(trajectories, digests[name], options, others)
                if summary is not None:
                    writer.write_summary(dataset, summary)
                    statistics.setdefault(dataset, []).append(summary)
            scored = [t.correct for t in trajectories if t.correct is not None]
            accuracy[dataset] = sum(scored) / len(scored) if scored else None
            entries.append(DatasetEntry(dataset, Path(spec.path).name, tuple(t.example_id for t in trajectories)))
        writer.write_summary_statistics(statistics)
        writer.write_manifest(Manifest(
            schema_version=SCHEMA_VERSION,
            run_name=config.run_name,
            created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            model=loaded.info,
            config=raw_config,
            config_sha256=config_sha256,
            library_versions=library_versions(),
            datasets=tuple(entries),
            analyses=tuple(analysis_entry(name, analysis) for name, (analysis, _) in all_analyses.items()),
        ))

    write_run(directory, fill)
    return RunSummary(directory, sum(len(e) for e in datasets.values()), accuracy)


def _generate(model, tokenizer, dataset: str, examples: list[Example], config: RunConfig,
              capture: CaptureOptions | None) -> tuple[list[Trajectory], dict[str, object]]:
    """Trajectories of one dataset, and the attention captured while generating when an analysis asked."""
    generation = config.generation
    if capture is None:
        generations = generate(model, tokenizer, examples, generation.max_new_tokens, generation.batch_size,
                               desc=f"generating {dataset}")
        captures = {}
    else:
        captured = generate_with_capture_batched(model, tokenizer, examples, generation.max_new_tokens,
                                                 generation.batch_size, config.segmentation, capture,
                                                 desc=f"generating {dataset}")
        generations = [c.generation for c in captured]
        captures = {c.generation.example.id: c.capture for c in captured}
    return [build_trajectory(g, dataset, tokenizer, config) for g in generations], captures
