"""Per-token feature activations: a chosen MLP layer's neurons, or a user's sparse autoencoder.

An SAE file (safetensors or npz) holds an encoder weight ``W_enc`` ([d_in, n_features], or
``encoder.weight`` as [n_features, d_in]), a bias ``b_enc`` and optionally a JumpReLU
``threshold``; it is applied to the residual stream entering, or the MLP output of, a chosen
layer. Each example keeps the activations of its own top-k features and of the dataset's
top-k, so pages can show each feature across every example.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from generator.analyses.base import Analysis, AnalysisError, ExampleContext, check_layers
from generator.capture.interventions import Site, recording
from generator.results.features import FEATURES, FeaturesExample, FeaturesSummary
from generator.store.plain_data import OptionError
from generator.store.records import Trajectory


@dataclass(frozen=True)
class FeatureOptions:
    layer: int = -1  # the MLP layer (neurons) or the layer the SAE reads; -1 means the middle layer
    sae: str | None = None  # path to an SAE file; none means MLP neurons
    sae_site: Literal["resid_pre", "mlp_out"] = "resid_pre"  # where the SAE reads
    top_k: int = 8
    tokens_per_row: int = 20
    show_values: bool = True

    def __post_init__(self) -> None:
        for name in ("top_k", "tokens_per_row"):
            if getattr(self, name) < 1:
                raise OptionError(name, f"expected a positive integer, got {getattr(self, name)}")
        if self.layer < -1:
            raise OptionError("layer", f"expected a layer number, or -1 for the middle layer, got {self.layer}")


@dataclass
class SparseAutoencoder:
    weight: np.ndarray  # [d_in, n_features]
    bias: np.ndarray  # [n_features]
    threshold: np.ndarray | None  # [n_features]


def load_sae(path: Path, d_in: int) -> SparseAutoencoder:
    """Read and check an SAE file; errors name the file, the key and the expected shape."""
    path = Path(path)
    tensors = _sae_tensors(path)
    if "W_enc" in tensors:
        weight = tensors["W_enc"]
    elif "encoder.weight" in tensors:
        weight = tensors["encoder.weight"].T
    else:
        raise AnalysisError(f"{path}: key 'W_enc' (or 'encoder.weight'): missing; keys are {sorted(tensors)}")
    if weight.ndim != 2 or weight.shape[0] != d_in:
        raise AnalysisError(f"{path}: key 'W_enc': expected shape [{d_in}, n_features] for this model, got {list(weight.shape)}")
    n = weight.shape[1]
    bias = tensors.get("b_enc", tensors.get("encoder.bias"))
    if bias is None or bias.shape != (n,):
        raise AnalysisError(f"{path}: key 'b_enc': expected shape [{n}], got "
                            f"{None if bias is None else list(bias.shape)}")
    threshold = tensors.get("threshold")
    if threshold is not None and threshold.shape != (n,):
        raise AnalysisError(f"{path}: key 'threshold': expected shape [{n}], got {list(threshold.shape)}")
    for key, value in (("W_enc", weight), ("b_enc", bias), ("threshold", threshold)):
        if value is not None and not np.isfinite(value).all():
            raise AnalysisError(f"{path}: key {key!r}: contains NaN or infinity")
    return SparseAutoencoder(weight.astype(np.float32), bias.astype(np.float32),
                             None if threshold is None else threshold.astype(np.float32))


def _sae_tensors(path: Path) -> dict[str, np.ndarray]:
    """Every array of a safetensors or npz file (never a pickle)."""
    if not path.is_file():
        raise AnalysisError(f"{path}: SAE file not found (analyses.features.sae)")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {k: np.asarray(data[k]) for k in data.files}
        from safetensors.numpy import load_file

        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise AnalysisError(f"{path}: not a readable safetensors or npz file ({exc})") from exc


class FeatureAnalysis(Analysis):
    declaration = FEATURES
    options_type = FeatureOptions
    digest_type = None  # the summary reads no example

    def _layer(self, model, options: FeatureOptions) -> int:
        n_layers = model.config.get_text_config().num_hidden_layers
        return n_layers // 2 if options.layer == -1 else options.layer

    def check_model(self, model, options: FeatureOptions) -> None:
        if options.layer != -1:
            check_layers(model, [options.layer], "analyses.features.layer")
        if options.sae:
            load_sae(Path(options.sae), model.config.get_text_config().hidden_size)

    def activations(self, model, token_ids, options: FeatureOptions, sae: SparseAutoencoder | None) -> np.ndarray:
        """[token, feature] activations of one sequence."""
        import torch

        layer = self._layer(model, options)
        site = Site(layer, "mlp_neurons") if sae is None else Site(layer, options.sae_site)
        with recording(model, [site]) as store, torch.no_grad():
            model(input_ids=torch.tensor([token_ids], device=model.device), use_cache=False)
        values = store[site][0].float().cpu().numpy()
        if sae is None:
            return values
        pre = values @ sae.weight + sae.bias
        if sae.threshold is not None:
            return np.where(pre > sae.threshold, pre, 0.0).astype(np.float32)  # JumpReLU
        return np.maximum(pre, 0.0).astype(np.float32)

    def prepare_dataset(self, model, tokenizer, trajectories, options: FeatureOptions) -> dict[str, Any]:
        sae = load_sae(Path(options.sae), model.config.get_text_config().hidden_size) if options.sae else None
        maxima = None
        for trajectory in trajectories:
            peak = self.activations(model, trajectory.token_ids, options, sae).max(axis=0)
            maxima = peak if maxima is None else np.maximum(maxima, peak)
        top = np.argsort(-maxima, kind="stable")[: options.top_k] if maxima is not None else np.zeros(0, np.int64)
        return {"sae": sae, "dataset_top": top}

    def analyze_example(self, context: ExampleContext, options: FeatureOptions) -> FeaturesExample:
        state = context.dataset_state
        values = self.activations(context.model, context.trajectory.token_ids, options, state["sae"])
        own = np.argsort(-values.max(axis=0), kind="stable")[: options.top_k]
        keep = np.array(list(dict.fromkeys([*own.tolist(), *state["dataset_top"].tolist()])), dtype=np.int64)
        return FeaturesExample(activations=values[:, keep].astype(np.float32), feature_ids=keep,
                               own_top=np.arange(len(own), dtype=np.int64))

    def summarize_dataset(self, trajectories: Sequence[Trajectory], digests: list[FeaturesExample],
                          options: FeatureOptions, others: Mapping[type, list[Any]]) -> FeaturesSummary:
        return FeaturesSummary(source=f"SAE {Path(options.sae).name}" if options.sae else "MLP neurons",
                               top_k=options.top_k, tokens_per_row=options.tokens_per_row,
                               show_values=options.show_values)
