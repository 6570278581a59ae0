"""Run configuration: a YAML file validated into dataclasses before any model loads.

Every error names the file, the dotted key and what was expected, so a typo costs seconds,
not a model load. Validation is driven by the dataclass fields themselves (one place).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A config that cannot run; the message names the file and key."""


@dataclass(frozen=True)
class ModelSpec:
    id: str
    revision: str | None = None
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    trust_remote_code: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: str
    limit: int | None = None
    analyses: tuple[str, ...] | None = None  # which of the run's analyses apply (default: all)
    description: str | None = None  # shown on the dataset's page


@dataclass(frozen=True)
class GenerationSpec:
    max_new_tokens: int = 64
    batch_size: int = 16


@dataclass(frozen=True)
class SegmentationSpec:
    """Regular expressions that split a generation into reasoning steps and an answer."""

    step_pattern: str = r"T:"
    answer_pattern: str = r"A:\s*(-?[0-9][0-9.,]*)"


@dataclass(frozen=True)
class RunConfig:
    run_name: str
    model: ModelSpec
    datasets: tuple[DatasetSpec, ...]
    analyses: dict[str, dict[str, Any]] = field(default_factory=lambda: {"attention": {}})
    generation: GenerationSpec = GenerationSpec()
    segmentation: SegmentationSpec = SegmentationSpec()
    output_dir: str = "data/runs"
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def run_directory(self, base: Path | None = None) -> Path:
        return Path(base or Path(self.output_dir)) / self.run_name


RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number",
            type(None): "null"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check ``value`` against the annotation ``tp``; raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    fail = ConfigError(f"{source}: key '{key}': expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise fail
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _convert(value, option, key, source)
            except ConfigError:
                continue
        raise fail
    if tp is type(None):
        if value is not None:
            raise fail
        return None
    if tp is Any:
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise fail
        (item_type, *_) = typing.get_args(tp)
        return tuple(_convert(v, item_type, f"{key}[{i}]", source) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise fail
        _, value_type = typing.get_args(tp)
        return {str(k): _convert(v if v is not None else {}, value_type, f"{key}.{k}", source) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail
        return build_dataclass(tp, value, key, source)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail
        return float(value)
    if tp is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{source}: key '{key}': expected a non-empty string, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r}")


def build_dataclass(cls: type, data: dict, prefix: str, source: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"{source}: key '{where}': unknown key; expected one of {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: key '{key}': required, expected {_describe(hints[name])}")
            continue
        kwargs[name] = _convert(data[name], hints[name], key, source)
    return cls(**kwargs)


def parse_config(data: Any, source: str = "<config>") -> RunConfig:
    """Validate a loaded YAML document; every check that needs no model happens here."""
    from generator.analyses import get_analysis

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    config = build_dataclass(RunConfig, data, "", source)
    if not RUN_NAME.match(config.run_name):
        raise ConfigError(f"{source}: key 'run_name': expected letters, digits, '.', '_' or '-', got {config.run_name!r}")
    if not config.datasets:
        raise ConfigError(f"{source}: key 'datasets': expected at least one dataset")
    names = [d.name for d in config.datasets]
    for index, spec in enumerate(config.datasets):
        if not RUN_NAME.match(spec.name):
            raise ConfigError(f"{source}: key 'datasets[{index}].name': expected letters, digits, '.', '_' or '-' "
                              f"(it names a directory), got {spec.name!r}")
        if spec.name in names[:index]:
            raise ConfigError(f"{source}: key 'datasets[{index}].name': dataset name {spec.name!r} is used twice")
        for name in spec.analyses or ():
            if name not in config.analyses:
                raise ConfigError(f"{source}: key 'datasets[{index}].analyses': {name!r} is not configured under "
                                  f"'analyses' (configured: {', '.join(config.analyses) or 'none'})")
        if spec.limit is not None and spec.limit < 1:
            raise ConfigError(f"{source}: key 'datasets[{index}].limit': expected a positive integer, got {spec.limit}")
    for key in ("max_new_tokens", "batch_size"):
        if getattr(config.generation, key) < 1:
            raise ConfigError(f"{source}: key 'generation.{key}': expected a positive integer")
    for key in ("step_pattern", "answer_pattern"):
        try:
            re.compile(getattr(config.segmentation, key))
        except re.error as exc:
            raise ConfigError(f"{source}: key 'segmentation.{key}': not a valid regular expression ({exc})") from exc
    for name, options in config.analyses.items():
        try:
            analysis = get_analysis(name)
        except KeyError as exc:
            raise ConfigError(f"{source}: key 'analyses.{name}': {exc.args[0]}") from exc
        analysis.parse_options(options, source, f"analyses.{name}")
    return config


def read_config(path: Path) -> RunConfig:
    """Read and validate ``path``, paths kept as written (this is what a run's manifest records)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_config(data, str(path))


def load_config(path: Path) -> RunConfig:
    """Read and validate ``path``; relative paths in it are taken relative to the file."""
    return resolve_paths(read_config(path), Path(path).parent)


def resolve_paths(config: RunConfig, base: Path) -> RunConfig:
    # Relative dataset paths are relative to the config file, like any build tool's config.
    datasets = tuple(
        dataclasses.replace(d, path=str(_resolve(base, d.path))) for d in config.datasets
    )
    model = config.model
    local = _resolve(base, model.id)
    if local.exists():
        model = dataclasses.replace(model, id=str(local))
    return dataclasses.replace(config, datasets=datasets, model=model,
                               output_dir=str(_resolve(base, config.output_dir)))


def _resolve(base: Path, value: str) -> Path:
    candidate = Path(value)
    return candidate if candidate.is_absolute() else (base / candidate)
