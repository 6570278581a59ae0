"""Run configuration: a YAML file validated into dataclasses before any model loads.

Every error names the file, the dotted key and what was expected, so a typo costs seconds,
not a model load. Validation is driven by the dataclass fields themselves (one place).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from generator.agent.loop import AgentSpec
from generator.agent.tools import TOOLS
from generator.analyses import get_analysis, list_analyses
from generator.answers import AnswerCheck, AnswerFormat
from generator.capture.segmentation import SegmentationSpec
from generator.store import plain_data
from generator.store.names import name_problem
from generator.store.untrusted_json import UntrustedJSONError, check_tree
from generator.table_datasets import FieldMap, TableSource


class ConfigError(ValueError):
    """A config that cannot run; the message names the file and key."""


@dataclass(frozen=True)
class LatentCheckpointSpec:
    """Where a latent-reasoning model's own parts are, and what the file does not say (LoRA's alpha)."""

    path: str  # CODI: the folder with model.safetensors or pytorch_model.bin; Coconut: the checkpoint file
    format: Literal["codi", "coconut"] = "codi"
    lora_alpha: float = 32.0  # CODI's scripts train with 32; the rank is read from the adapter's shapes


@dataclass(frozen=True)
class LatentSpec:
    """Continuous thoughts (CODI, Coconut): after the prompt and ``begin``, the last layer's hidden state at the
    last position (through the projection, for CODI) becomes the next input embedding, ``thoughts`` times;
    then ``end`` and the answer, decoded greedily. ``begin``, ``end`` and ``placeholder`` (the token id stored
    where a thought sits) are token texts; null takes the checkpoint's own (CODI's bot, eot and pad)."""

    thoughts: int = 6
    projection: Literal["none", "codi"] = "none"
    begin: str | None = None
    end: str | None = None
    placeholder: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    id: str
    revision: str | None = None
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    # "auto": spread a model too large for one GPU over every visible GPU (and the CPU), through accelerate
    device_map: Literal["auto"] | None = None
    trust_remote_code: bool = False
    # a latent-reasoning checkpoint over the base model `id` (CODI: LoRA adapters and the projection;
    # Coconut: the fine-tuned weights with its three added tokens); generator/capture/latent_checkpoints.py
    latent_checkpoint: LatentCheckpointSpec | None = None

    @property
    def source(self) -> Literal["local", "hub"]:
        """Decided once, by ``resolve_paths``: a local checkpoint is an absolute path from then on."""
        return "local" if Path(self.id).is_absolute() else "hub"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: str | None = None  # a file: JSONL (ours), or .parquet, .csv, .json read through `datasets`
    limit: int | None = None
    analyses: tuple[str, ...] | None = None  # which of the run's analyses apply (default: all)
    description: str | None = None  # shown on the dataset's page
    # an agent dataset: each line's query is answered by the agent loop with these tools (docs/agents.md)
    agent: AgentSpec | None = None
    # this dataset's own options for some analyses, each merged key by key over the run's `analyses.<name>`
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # rows as researchers have them (generator/table_datasets.py): a hub id in the local cache instead
    # of a path, its subset and split, which column is which, an answer extracted from a solution
    # (GSM8K's `####`: answer_format: hash), a filter, and a shuffle with the run's seed
    hub: str | None = None
    subset: str | None = None
    split: str = "train"
    fields: FieldMap = field(default_factory=FieldMap)
    answer_format: AnswerFormat | None = None
    filter: dict[str, Any] = field(default_factory=dict)
    shuffle: bool = False

    TABLE_KEYS = ("hub", "subset", "split", "fields", "answer_format", "filter", "shuffle")

    def is_plain_jsonl(self) -> bool:
        """Our own JSONL with our field names (its strict reader), rather than a table through `datasets`."""
        return (self.hub is None and self.path is not None and Path(self.path).suffix.lower() == ".jsonl"
                and all(getattr(self, key) == getattr(DatasetSpec("x"), key) for key in self.TABLE_KEYS))

    def table(self) -> TableSource:
        return TableSource(self.path, self.hub, self.subset, self.split, self.fields, self.answer_format,
                           self.filter, self.shuffle)


@dataclass(frozen=True)
class GenerationSpec:
    max_new_tokens: int = 64
    batch_size: int = 16
    # a prompt that leaves no room for max_new_tokens in the model's context: "refuse" (an error
    # naming the example, before any example runs) or "truncate" (keep its last tokens, noted)
    long_prompts: Literal["refuse", "truncate"] = "refuse"
    # sampling (greedy when temperature is 0): each example draws from its own generator, seeded
    # from `seed` and its id, so its output does not depend on its batch; recorded in the trajectory
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no limit
    # continuous thoughts instead of text reasoning (CODI, Coconut); see LatentSpec
    latent: LatentSpec | None = None


@dataclass(frozen=True)
class PromptSpec:
    """How a dataset's prompt reaches the model: as written (``plain``), or as the user's message through
    the tokenizer's chat template (``chat``), after an optional system message, with the generation prompt
    and the template's own options (e.g. Qwen 3's ``enable_thinking: false``)."""

    format: Literal["plain", "chat"] = "plain"
    system: str | None = None
    template_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunConfig:
    run_name: str
    model: ModelSpec
    datasets: tuple[DatasetSpec, ...]
    analyses: dict[str, dict[str, Any]] = field(default_factory=lambda: {"attention": {}})
    generation: GenerationSpec = GenerationSpec()
    segmentation: SegmentationSpec = SegmentationSpec()
    answers: AnswerCheck = AnswerCheck()  # how a parsed answer is compared with the expected one
    prompts: PromptSpec = PromptSpec()  # plain, or through the model's chat template
    output_dir: str = "data/runs"
    seed: int = 0

    def analysis_options(self, spec: DatasetSpec, name: str) -> dict[str, Any]:
        """The options ``name`` runs with on one dataset: the run's, with the dataset's own keys over them."""
        return {**(self.analyses.get(name) or {}), **(spec.options.get(name) or {})}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        data = self.to_dict()
        for dataset in data["datasets"]:  # added later: runs made before agents existed keep their hash
            if dataset.get("agent") is None:
                dataset.pop("agent", None)
            for key in DatasetSpec.TABLE_KEYS:  # added later too
                if dataset.get(key) == dataclasses.asdict(DatasetSpec("x")).get(key):
                    dataset.pop(key)
        # added later too: a config that leaves them at their defaults keeps the hash it had
        if self.answers == AnswerCheck():
            data.pop("answers")
        if self.prompts == PromptSpec():
            data.pop("prompts")
        if self.model.latent_checkpoint is None:
            data["model"].pop("latent_checkpoint")
        for key in ("temperature", "top_p", "top_k", "latent"):
            if getattr(self.generation, key) == getattr(GenerationSpec(), key):
                data["generation"].pop(key)
        for key in ("answer_format", "steps", "think_tags", "max_steps"):
            if getattr(self.segmentation, key) == getattr(SegmentationSpec(), key):
                data["segmentation"].pop(key)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def run_directory(self, base: Path | None = None) -> Path:
        return Path(base or Path(self.output_dir)) / self.run_name


# A Hugging Face repo id: a name, or owner/name (huggingface_hub's rule, without its length limits).
HUB_ID = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?")  # fullmatch


def build_dataclass(cls: type, data: dict, prefix: str, source: str):
    """A config dataclass from YAML data; errors are ConfigErrors naming ``source`` and the key."""
    return plain_data.build_dataclass(cls, data, prefix, source, ConfigError)


def parse_config(data: Any, source: str = "<config>") -> RunConfig:
    """Validate a loaded YAML document; every check that needs no model happens here."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    config = build_dataclass(RunConfig, data, "", source)
    if name_problem(config.run_name):
        raise ConfigError(f"{source}: key 'run_name': {name_problem(config.run_name)}")
    if not config.datasets:
        raise ConfigError(f"{source}: key 'datasets': expected at least one dataset")
    for index, spec in enumerate(config.datasets):
        _check_dataset(config, index, spec, f"{source}: key 'datasets[{index}]")
    _check_generation(config, source)
    for name, options in config.analyses.items():
        try:
            analysis = get_analysis(name)
        except KeyError as exc:
            raise ConfigError(f"{source}: key 'analyses.{name}': {exc.args[0]}") from exc
        build_dataclass(analysis.options_type, options or {}, f"analyses.{name}", source)
    for index, spec in enumerate(config.datasets):
        _check_dataset_options(config, index, spec, source)
    return config


def _check_dataset(config: RunConfig, index: int, spec: DatasetSpec, where: str) -> None:
    """One dataset's name, analyses, agent and limit (``where`` ends in the open key: ``...datasets[i]``)."""
    if name_problem(spec.name):
        raise ConfigError(f"{where}.name': {name_problem(spec.name)} (it names a folder and a page)")
    if spec.name in [d.name for d in config.datasets[:index]]:
        raise ConfigError(f"{where}.name': dataset name {spec.name!r} is used twice")
    for name in spec.analyses or ():
        if name not in config.analyses:
            raise ConfigError(f"{where}.analyses': {plain_data.shown(name)} is not configured under 'analyses' "
                              f"(configured: {', '.join(config.analyses) or 'none'})")
    _check_agent_use(spec, where)
    if spec.path is None and spec.hub is None:
        raise ConfigError(f"{where}.path': required (a dataset file; or 'hub': a hub dataset id in the local cache)")
    if spec.path is not None and spec.hub is not None:
        raise ConfigError(f"{where}.hub': give 'path' (a file) or 'hub' (a hub dataset id), not both")
    if spec.limit is not None and spec.limit < 1:
        raise ConfigError(f"{where}.limit': expected a positive integer, got {spec.limit}")


def _check_agent_use(spec: DatasetSpec, where: str) -> None:
    """An agent section that can run, and agent-only analyses only where there is one."""
    if spec.agent is not None:
        check_agent_spec(spec.agent, f"{where}.agent")
        return
    for name in spec.analyses or ():
        if name in list_analyses() and get_analysis(name).requires_agent:
            raise ConfigError(f"{where}.analyses': {name!r} runs on agent datasets only (give this dataset an "
                              "'agent' section, or leave it out)")


def _check_generation(config: RunConfig, source: str) -> None:
    for key in ("max_new_tokens", "batch_size"):
        if getattr(config.generation, key) < 1:
            raise ConfigError(f"{source}: key 'generation.{key}': expected a positive integer")
    generation = config.generation
    for key, good, expected in (("temperature", generation.temperature >= 0, "0 (greedy) or more"),
                                ("top_p", 0 < generation.top_p <= 1, "a probability in (0, 1]"),
                                ("top_k", generation.top_k >= 0, "0 (no limit) or more")):
        if not good:
            raise ConfigError(f"{source}: key 'generation.{key}': expected {expected}, got {getattr(generation, key)}")
    _check_latent(config, source)
    for key in ("step_pattern", "answer_pattern"):
        try:
            re.compile(getattr(config.segmentation, key))
        except re.error as exc:
            raise ConfigError(f"{source}: key 'segmentation.{key}': not a valid regular expression ({exc})") from exc


def _check_latent(config: RunConfig, source: str) -> None:
    """Thoughts that can run: a positive count, greedy decoding, a projection only from a CODI checkpoint."""
    latent, checkpoint = config.generation.latent, config.model.latent_checkpoint
    if latent is None:
        if checkpoint is not None:
            raise ConfigError(f"{source}: key 'generation.latent': required with model.latent_checkpoint (how many "
                              "thoughts, which projection)")
        return
    if latent.thoughts < 1:
        raise ConfigError(f"{source}: key 'generation.latent.thoughts': expected a positive integer, "
                          f"got {latent.thoughts}")
    if config.generation.temperature != 0:
        raise ConfigError(f"{source}: key 'generation.temperature': latent runs decode greedily (0), "
                          f"got {config.generation.temperature}")
    if latent.projection == "codi" and (checkpoint is None or checkpoint.format != "codi"):
        raise ConfigError(f"{source}: key 'generation.latent.projection': 'codi' needs model.latent_checkpoint with "
                          "format 'codi' (the projection's weights are in it)")
    if any(d.agent is not None for d in config.datasets):
        raise ConfigError(f"{source}: key 'generation.latent': latent runs have no agent loop; remove the "
                          "datasets' 'agent' sections")


def _check_dataset_options(config: RunConfig, index: int, spec: DatasetSpec, source: str) -> None:
    """A dataset's own analysis options: for analyses it runs, valid once merged over the run's."""
    for name in spec.options:
        where = f"datasets[{index}].options.{name}"
        if name not in config.analyses or (spec.analyses is not None and name not in spec.analyses):
            raise ConfigError(f"{source}: key '{where}': {name!r} does not run on this dataset (options are "
                              "given only for analyses configured under 'analyses' that the dataset runs)")
        build_dataclass(get_analysis(name).options_type, config.analysis_options(spec, name), where, source)


def check_agent_spec(spec: AgentSpec, where: str) -> None:
    """Tools that exist, limits that can run: checked before any model loads."""
    for position, name in enumerate(spec.tools):
        if name not in TOOLS:
            raise ConfigError(f"{where}.tools[{position}]': unknown tool {name!r} (registered: {', '.join(TOOLS)})")
    for key in ("max_steps", "max_observation_chars", "max_reply_tokens"):
        if getattr(spec, key) < 1:
            raise ConfigError(f"{where}.{key}': expected a positive integer, got {getattr(spec, key)}")
    if spec.tool_timeout_s <= 0:
        raise ConfigError(f"{where}.tool_timeout_s': expected a positive number of seconds, got {spec.tool_timeout_s}")
    if spec.format == "react":
        labels = [getattr(spec.labels, f.name) for f in dataclasses.fields(spec.labels)]
        if len(set(labels)) != len(labels) or not all(label.strip() for label in labels):
            raise ConfigError(f"{where}.labels': expected five different, non-empty labels, got {labels}")


class StrictYAMLLoader(yaml.SafeLoader):
    """YAML without aliases and without duplicate keys.

    An alias can expand a few hundred bytes into gigabytes (the "billion laughs"), and a key
    written twice silently keeps only its last value; a run config needs neither.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted in a run config; "
                                              "write the value out", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value",
                                                        key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"key {plain_data.shown(key)} is given twice "
                                                        "in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_config(path: Path) -> RunConfig:
    """Read and validate ``path``, paths kept as written (this is what a run's manifest records)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                          f"{exc.start}); save the config as UTF-8") from exc
    try:
        data = yaml.load(text, Loader=StrictYAMLLoader)  # noqa: S506 - a SafeLoader, stricter
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: nested too deeply to be a run config") from exc
    try:
        check_tree(data)  # "\ud800" is valid YAML, but no manifest or page could hold it
    except UntrustedJSONError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data, str(path))


def load_config(path: Path) -> RunConfig:
    """Read and validate ``path``; relative paths in it are taken relative to the file."""
    return resolve_paths(read_config(path), Path(path).parent, str(path))


def resolve_paths(config: RunConfig, base: Path, source: str = "<config>") -> RunConfig:
    """Relative paths become relative to the config file, like any build tool's config.

    This is also the one place that decides whether ``model.id`` is a local checkpoint (it
    becomes an absolute path) or a hub id (it stays as written).
    """
    datasets = tuple(
        dataclasses.replace(d, path=str(_resolve(base, d.path)) if d.path is not None else None)
        for d in config.datasets
    )
    model = dataclasses.replace(config.model, id=resolve_model_id(config.model.id, base, source))
    if model.latent_checkpoint is not None:
        checkpoint = model.latent_checkpoint
        model = dataclasses.replace(model, latent_checkpoint=dataclasses.replace(
            checkpoint, path=str(_resolve(base, str(Path(checkpoint.path).expanduser())).resolve())))
    return dataclasses.replace(config, datasets=datasets, model=model,
                               output_dir=str(_resolve(base, config.output_dir)))


def resolve_model_id(model_id: str, base: Path, source: str = "<config>") -> str:
    """An absolute path for a local checkpoint, the id itself for the hub; ambiguity is an error.

    Written as a path (``./x``, ``../x``, ``/x``, ``~/x``, or more than one ``/``) means local.
    An id shaped like a hub id (``gpt2``, ``Qwen/Qwen2.5-0.5B``) means the hub, unless a folder of
    that name sits next to the config: then we refuse to guess.
    """
    if not HUB_ID.fullmatch(model_id) or model_id.startswith((".", "~")):
        return str(_resolve(base, str(Path(model_id).expanduser())).resolve())
    if _resolve(base, model_id).exists():
        raise ConfigError(f"{source}: key 'model.id': {model_id!r} is both a hub id and a folder next to the config "
                          f"({_resolve(base, model_id).resolve()}); write './{model_id}' for the folder, or move it")
    return model_id


def _resolve(base: Path, value: str) -> Path:
    candidate = Path(value)
    return candidate if candidate.is_absolute() else (base / candidate)
