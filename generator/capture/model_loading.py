"""Loading a causal LM and its tokenizer: the same code path for a hub id and a local path."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.store.records import ModelInfo


class ModelLoadError(RuntimeError):
    """The model named in the config could not be loaded; nothing was run."""


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    info: ModelInfo


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
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(spec.id) if spec.source == "local" else None
    if local is not None and not local.is_dir():
        raise ModelLoadError(f"{local}: model.id: no such local checkpoint directory")
    device = device or resolve_device(spec.device)
    dtype = getattr(torch, spec.dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.id, revision=spec.revision,
                                                  trust_remote_code=spec.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            spec.id, revision=spec.revision, dtype=dtype, attn_implementation="sdpa",
            trust_remote_code=spec.trust_remote_code,
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load model {spec.id!r}: {exc}\n"
            "(a hub id needs its weights in the local Hugging Face cache when there is no network)"
        ) from exc
    model.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    text_config = model.config.get_text_config()
    info = ModelInfo(
        id=local.name if local is not None else spec.id,
        revision=spec.revision,
        weights_sha256=weights_sha256(local) if local is not None else None,
        architecture=type(model).__name__,
        num_layers=text_config.num_hidden_layers,
        num_heads=text_config.num_attention_heads,
        dtype=spec.dtype,
        device=device,
        source=spec.source,
    )
    return LoadedModel(model, tokenizer, info)
