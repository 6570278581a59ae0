"""Loading a causal LM and its tokenizer: the same code path for a hub id and a local path."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.capture.latent_checkpoints import LatentParts, load_latent_checkpoint
from generator.capture.load_errors import ModelLoadError
from generator.store.records import ModelInfo


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    info: ModelInfo
    latent_parts: LatentParts | None = None  # a latent checkpoint's projection and framing ids


def resolve_device(requested: str) -> str:
    import torch

    if requested != "auto":
        if requested == "cuda" and not torch.cuda.is_available():
            raise ModelLoadError("model.device is 'cuda' but no CUDA device is available")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def weights_sha256(path: Path) -> str | None:
    """Hash of a local checkpoint's weight files, so a run names exactly which weights it used."""
    files = sorted(p for p in Path(path).glob("*") if p.suffix in {".safetensors", ".bin"})
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_model(spec, device: str | None = None) -> LoadedModel:
    """Load ``spec`` (a config's ``ModelSpec``, paths already resolved: a local checkpoint is absolute).

    ``device`` overrides ``spec.device`` (each process of a multi-GPU run takes its own GPU).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(spec.id) if spec.source == "local" else None
    if local is not None and not local.is_dir():
        raise ModelLoadError(f"{local}: model.id: no such local checkpoint directory")
    device = device or resolve_device(spec.device)
    local_only = local is not None or _in_hub_cache(spec.id, spec.revision)
    if not local_only and not hub_reachable():
        raise ModelLoadError(f"model.id {spec.id!r}: not a local path, not in the local Hugging Face cache, and the "
                             "hub cannot be reached (no network); download it where there is one, or give a local "
                             "checkpoint as ./path")
    common = dict(revision=spec.revision, trust_remote_code=spec.trust_remote_code, local_files_only=local_only)
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.id, **common)
        model, parts = _with_latent_checkpoint(_load_weights(AutoModelForCausalLM, spec, common), tokenizer, spec)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers and safetensors raise many kinds for a bad checkpoint
        where = f"{local}: " if local is not None else f"model {spec.id!r}: "
        raise ModelLoadError(f"{where}could not load the model ({type(exc).__name__}: {_first_line(exc)})") from exc
    if spec.device_map is None:
        model.to(device)
        if parts is not None and parts.projection is not None:
            parts.projection.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    info = _model_info(spec, model, local, device)
    return LoadedModel(model, tokenizer, info, parts)


def _model_info(spec, model, local: Path | None, device: str) -> ModelInfo:
    """What the manifest records of the loaded model (a local checkpoint by folder name and weights' hash)."""
    text_config = model.config.get_text_config()
    return ModelInfo(
        id=local.name if local is not None else spec.id,
        revision=spec.revision,
        weights_sha256=_weights_hash(spec, local),
        architecture=type(model).__name__,
        num_layers=text_config.num_hidden_layers,
        num_heads=text_config.num_attention_heads,
        dtype=spec.dtype,
        device="auto (device_map)" if spec.device_map else device,
        source=spec.source,
    )


def _with_latent_checkpoint(model, tokenizer, spec) -> tuple[Any, LatentParts | None]:
    """The base model with a latent checkpoint's weights in it (CODI, Coconut), and its parts; else as it is."""
    if spec.latent_checkpoint is None:
        return model, None
    return load_latent_checkpoint(model, tokenizer, spec.latent_checkpoint)


def _weights_hash(spec, local: Path | None) -> str | None:
    """The local weights' hash; with a latent checkpoint, the checkpoint's files hashed after the base's."""
    base = weights_sha256(local) if local is not None else None
    checkpoint = spec.latent_checkpoint
    if checkpoint is None:
        return base
    path = Path(checkpoint.path)
    own = weights_sha256(path) if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(f"{base or spec.id}:{own}".encode()).hexdigest()


def _load_weights(auto_class, spec, common: dict):
    """The model in SDPA where transformers allows it, else its default attention (e.g. Gemma 2's eager).

    Capture and interventions route attention themselves, so they do not depend on SDPA.
    Weights of the wrong shape are an error, never silently re-initialised.
    """
    import torch

    if spec.device_map is not None and importlib.util.find_spec("accelerate") is None:
        raise ModelLoadError("model.device_map 'auto' needs the accelerate package (pip install accelerate)")
    kwargs = dict(common, dtype=getattr(torch, spec.dtype), device_map=spec.device_map,
                  output_loading_info=True)
    with _quiet_transformers():  # its load report would bury our one-line error
        try:
            model, info = auto_class.from_pretrained(spec.id, attn_implementation="sdpa", **kwargs)
        except ValueError as exc:  # e.g. Gemma 2: "does not support ... scaled_dot_product_attention"
            if "sdpa" not in str(exc).lower() and "scaled_dot_product_attention" not in str(exc):
                raise
            model, info = auto_class.from_pretrained(spec.id, attn_implementation="eager", **kwargs)
        except RuntimeError as exc:
            if "mismatched" not in str(exc) and "size mismatch" not in str(exc):
                raise
            raise ModelLoadError(f"{spec.id}: the weights do not fit the model's config (tensor sizes differ from "
                                 "config.json; was the config edited, or the weights saved from another model?)") from exc
    problems = {key: info.get(key) for key in ("missing_keys", "mismatched_keys", "error_msgs") if info.get(key)}
    if problems:
        key, found = next(iter(problems.items()))
        shown = ", ".join(str(item) for item in list(found)[:3])
        raise ModelLoadError(f"{spec.id}: the weights do not fit the model's config ({key.replace('_', ' ')}: "
                             f"{shown}{' ...' if len(found) > 3 else ''})")
    return model


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity(hf_logging.CRITICAL)
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _in_hub_cache(repo_id: str, revision: str | None) -> bool:
    """Whether the hub id's config is in the local Hugging Face cache (then no network is touched)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - an id the hub library cannot parse is simply not cached
        return False
    return isinstance(found, str)


def hub_reachable(timeout: float = 2.0) -> bool:
    """One quick connection to the hub; False at once offline (HF_HUB_OFFLINE) or without a network."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False
