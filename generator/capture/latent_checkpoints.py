"""Loading latent-reasoning checkpoints (CODI, Coconut) over their base model, and the ids framing thoughts.

CODI (github.com/zhenyi4/CODI) saves its whole training module: the base model wrapped by peft's
LoRA under ``codi.`` (``codi.base_model.model.<base key>``, adapters as ``...lora_A.default.weight``),
embeddings resized by three ids after the base vocabulary (pad, begin-of-thought, end-of-thought),
and the projection under ``prj.`` (Dropout, Linear, GELU, Linear, then LayerNorm ``prj.ln`` unless
trained without it). The LoRA rank is read from the adapter shapes; alpha is not in the file (CODI's
scripts use 32), so the config gives it. The adapters are merged through peft, so the model that
runs is a plain transformers model and every capture and intervention applies to it unchanged.

Coconut (github.com/facebookresearch/coconut) saves a state dict of its wrapper: the fine-tuned
GPT-2 under ``base_causallm.``, with three tokens added to the tokenizer (``<|start-latent|>``,
``<|end-latent|>``, ``<|latent|>``); it has no projection.

Anything missing, left over or of the wrong shape is one ``ModelLoadError`` line naming the file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.capture.load_errors import ModelLoadError

COCONUT_TOKENS = ("<|start-latent|>", "<|end-latent|>", "<|latent|>")
# buffers older transformers saved with GPT-2 (the causal mask): not weights, absent from today's models
LEGACY_BUFFERS = (".attn.bias", ".attn.masked_bias")
CODI_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass
class LatentParts:
    """What a latent checkpoint adds to its base model: the projection, and its framing token ids."""

    projection: Any | None
    begin_id: int | None
    end_id: int | None
    placeholder_id: int | None


def read_state_dict(path: Path) -> dict:
    """Tensors of a safetensors file or a torch pickle (read with ``weights_only``: no code runs)."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - both readers raise several kinds for a damaged file
        raise ModelLoadError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                     ) from exc


def load_latent_checkpoint(model, tokenizer, spec) -> tuple[Any, LatentParts]:
    """``model`` with the checkpoint's weights in it (a new object for CODI: the adapters merged), and its parts."""
    path = Path(spec.path)
    if spec.format == "codi":
        return _load_codi(model, path, spec.lora_alpha)
    return _load_coconut(model, tokenizer, path)


def _codi_file(folder: Path) -> Path:
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: model.latent_checkpoint.path: no such CODI checkpoint folder")
    for name in CODI_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise ModelLoadError(f"{folder}: model.latent_checkpoint.path: no {' or '.join(CODI_WEIGHT_FILES)} in the folder")


def _load_codi(model, folder: Path, lora_alpha: float) -> tuple[Any, LatentParts]:
    file = _codi_file(folder)
    state = read_state_dict(file)
    base = {k[len("codi."):]: v for k, v in state.items() if k.startswith("codi.")}
    projection_state = {k[len("prj."):]: v for k, v in state.items() if k.startswith("prj.")}
    if not base:
        raise ModelLoadError(f"{file}: no 'codi.' keys: not a CODI checkpoint (expected the saved CODI module)")
    vocabulary = model.config.get_text_config().vocab_size
    rows = _embedding_rows(model, base, file)
    model.resize_token_embeddings(rows, mean_resizing=False)  # every row is then read from the checkpoint
    merged = _merge_lora(model, base, file, lora_alpha)
    projection = _codi_projection(projection_state, merged, file) if projection_state else None
    return merged, LatentParts(projection, begin_id=vocabulary + 1, end_id=vocabulary + 2, placeholder_id=vocabulary)


def _embedding_rows(model, base: dict, file: Path) -> int:
    """The checkpoint's vocabulary rows (CODI adds three), checked against the base model's width."""
    name = _input_embedding_name(model)
    for key, value in base.items():
        if key.endswith(name + ".weight") and "lora_" not in key:
            hidden = model.get_input_embeddings().weight.shape[1]
            if value.shape[1] != hidden:
                raise ModelLoadError(f"{file}: key 'codi.{key}': width {value.shape[1]}, but the base model's hidden size "
                             f"is {hidden}: a checkpoint of another base model")
            return int(value.shape[0])
    raise ModelLoadError(f"{file}: no input embedding ('{name}.weight') under 'codi.'")


def _input_embedding_name(model) -> str:
    embedding = model.get_input_embeddings()
    for name, module in model.named_modules():
        if module is embedding:
            return name
    raise ModelLoadError("the base model has no input embedding module")


def _merge_lora(model, base: dict, file: Path, lora_alpha: float):
    """Adapters merged into the base weights through peft; the result is a plain transformers model."""
    adapters = {k: v for k, v in base.items() if ".lora_A." in k}
    if not adapters:
        return _load_plain(model, {k.removeprefix("base_model.model."): v for k, v in base.items()}, file, "codi.")
    from peft import LoraConfig, get_peft_model

    rank = int(next(iter(adapters.values())).shape[0])
    targets = sorted({k.split(".lora_A.")[0].rsplit(".", 1)[-1] for k in adapters})
    # GPT-2's Conv1D stores weights transposed: peft must be told (CODI's own run lets peft warn and fix it)
    transposed = any(type(m).__name__ == "Conv1D" for n, m in model.named_modules() if n.rsplit(".", 1)[-1] in targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft asks transformers a deprecated question
        wrapped = get_peft_model(model, LoraConfig(r=rank, lora_alpha=lora_alpha, target_modules=targets,
                                                   lora_dropout=0.0, init_lora_weights=False,
                                                   fan_in_fan_out=transposed))
    expected = wrapped.state_dict()
    mapped = {_peft_key(key, expected): value for key, value in base.items()}
    _check_keys(expected, mapped, file, "codi.", tied=_tied_names(model))
    wrapped.load_state_dict(mapped, strict=False)
    merged = wrapped.merge_and_unload()
    merged.tie_weights()
    return merged


def _peft_key(key: str, expected: dict) -> str:
    """Keys saved by an older peft name a wrapped layer's own weight without ``base_layer``."""
    if key in expected:
        return key
    head, _, last = key.rpartition(".")
    candidate = f"{head}.base_layer.{last}"
    return candidate if candidate in expected else key


def _tied_names(model) -> set[str]:
    tied = getattr(model.config.get_text_config(), "tie_word_embeddings", False)
    return {"lm_head.weight"} if tied else set()


def _check_keys(expected: dict, found: dict, file: Path, prefix: str, tied: set[str]) -> None:
    """Every weight present, none left over, every shape the model's: else one line naming the first of each."""
    missing = [k for k in expected if k not in found and not any(k.endswith(t) for t in tied)]
    unexpected = [k for k in found if k not in expected and not k.endswith(LEGACY_BUFFERS)]
    wrong = [f"{prefix}{k} {tuple(v.shape)} (the model has {tuple(expected[k].shape)})"
             for k, v in found.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weight(s) missing, e.g. {prefix}{missing[0]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected, e.g. {prefix}{unexpected[0]}")
    if wrong:
        problems.append(f"{len(wrong)} of the wrong shape, e.g. {wrong[0]}")
    if problems:
        raise ModelLoadError(f"{file}: does not fit the base model: {'; '.join(problems)}")


def _load_plain(model, state: dict, file: Path, prefix: str):
    _check_keys(model.state_dict(), state, file, prefix, tied=_tied_names(model))
    model.load_state_dict({k: v for k, v in state.items() if not k.endswith(LEGACY_BUFFERS)}, strict=False)
    model.tie_weights()
    return model


def _codi_projection(state: dict, model, file: Path):
    """CODI's projection: Dropout, Linear(d, p), GELU, Linear(p, d), and LayerNorm(d) as ``ln`` when trained with it."""
    from torch import nn

    hidden = model.get_input_embeddings().weight.shape[1]
    if "1.weight" not in state or "3.weight" not in state:
        raise ModelLoadError(f"{file}: keys 'prj.1.weight' and 'prj.3.weight' expected (CODI's projection), found "
                     f"{', '.join('prj.' + k for k in sorted(state))}")
    width = state["1.weight"].shape[0]
    projection = nn.Sequential(nn.Dropout(0.0), nn.Linear(hidden, width), nn.GELU(), nn.Linear(width, hidden))
    if "ln.weight" in state:
        projection.add_module("ln", nn.LayerNorm(hidden))
    _check_keys(projection.state_dict(), state, file, "prj.", tied=set())
    projection.load_state_dict(state)
    weight = model.get_input_embeddings().weight
    return projection.to(device=weight.device, dtype=weight.dtype).eval().requires_grad_(False)


def _load_coconut(model, tokenizer, file: Path) -> tuple[Any, LatentParts]:
    if not file.is_file():
        raise ModelLoadError(f"{file}: model.latent_checkpoint.path: no such Coconut checkpoint file")
    state = read_state_dict(file)
    base = {k[len("base_causallm."):]: v for k, v in state.items() if k.startswith("base_causallm.")}
    if not base:
        raise ModelLoadError(f"{file}: no 'base_causallm.' keys: not a Coconut checkpoint")
    tokenizer.add_tokens(list(COCONUT_TOKENS))
    model.resize_token_embeddings(_embedding_rows(model, base, file), mean_resizing=False)
    _load_plain(model, base, file, "base_causallm.")
    begin, end, placeholder = tokenizer.convert_tokens_to_ids(list(COCONUT_TOKENS))
    return model, LatentParts(None, begin, end, placeholder)


def framing_ids(tokenizer, latent_spec, parts: LatentParts | None, source: str = "generation.latent") -> dict[str, int]:
    """begin, end and placeholder ids: the config's token texts, else the checkpoint's own."""
    ids = {}
    for key in ("begin", "end", "placeholder"):
        text = getattr(latent_spec, key)
        if text is None:
            own = getattr(parts, f"{key}_id", None) if parts is not None else None
            if own is None:
                raise ModelLoadError(f"{source}.{key}: required (a token of the tokenizer; this model has no latent "
                             "checkpoint that names one)")
            ids[key] = int(own)
            continue
        token = tokenizer.convert_tokens_to_ids(text)
        if token is None or token == tokenizer.unk_token_id or tokenizer.convert_ids_to_tokens(token) != text:
            raise ModelLoadError(f"{source}.{key}: {text!r} is not one token of the tokenizer")
        ids[key] = int(token)
    if len(set(ids.values())) < 3:
        raise ModelLoadError(f"{source}: begin, end and placeholder must be three different tokens, got ids {ids}")
    return ids
