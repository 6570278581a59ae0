"""`atlas import activations FILE.json`: activation dumps (Neuronpedia-style feature views).

Format: {"model": str, "results": [{"probe_id", "prompt", "tokens": [...], and either
"counts": [[...]] (features x tokens, the legacy form) or "features": [{"feature_id" (or
"index" / "id"), "activations": [... one per token], optional "label"}]}]}. Every probe
result is imported, one example each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generator.importers.base import ImportedExample, ImportedRun, Importer, ImportValidationError, finite_array, \
    read_json, require, safe_id, text_trajectory
from generator.results.features import FeaturesExample, FeaturesSummary

ID_KEYS = ("feature_id", "index", "id")


def _features(result: dict, where: str, n_tokens: int) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(activations [token, feature], feature ids [feature], labels) of one probe result."""
    if "counts" in result:
        counts = finite_array(result["counts"], where, "counts", 2)
        if counts.shape[1] != n_tokens:
            raise ImportValidationError(f"{where}: field 'counts': expected rows of {n_tokens} values (one per token), "
                                        f"got {counts.shape[1]}")
        return counts.T.copy(), np.arange(counts.shape[0], dtype=np.int64), {}
    features = require(result, "features", list, where, "a list of feature objects (or a 'counts' array)")
    if not features:
        raise ImportValidationError(f"{where}: field 'features': expected at least one feature")
    columns, ids, labels = [], [], {}
    for index, feature in enumerate(features):
        here = f"{where}.features[{index}]"
        if not isinstance(feature, dict):
            raise ImportValidationError(f"{here}: expected an object, got {type(feature).__name__}")
        key = next((k for k in ID_KEYS if k in feature), None)
        if key is None or isinstance(feature[key], bool) or not isinstance(feature[key], int):
            raise ImportValidationError(f"{here}: field 'feature_id': missing or not an integer "
                                        f"(one of {', '.join(ID_KEYS)})")
        values = finite_array(require(feature, "activations", list, here, "a list of numbers"), here, "activations", 1)
        if len(values) != n_tokens:
            raise ImportValidationError(f"{here}: field 'activations': expected {n_tokens} values (one per token), "
                                        f"got {len(values)}")
        columns.append(values)
        ids.append(int(feature[key]))
        if isinstance(feature.get("label") or feature.get("description"), str):
            labels[int(feature[key])] = feature.get("label") or feature.get("description")
    return np.stack(columns, axis=1), np.array(ids, dtype=np.int64), labels


def read(source: Path) -> ImportedRun:
    if not source.is_file():
        raise ImportValidationError(f"{source}: expected an activation dump JSON file")
    data = read_json(source)
    if not isinstance(data, dict):
        raise ImportValidationError(f"{source}: expected a JSON object with 'results', got {type(data).__name__}")
    results = require(data, "results", list, str(source), "a list of probe results")
    if not results:
        raise ImportValidationError(f"{source}: field 'results': expected at least one probe result")
    dataset = safe_id(source.stem, set())
    examples, taken, all_labels = [], set(), {}
    for index, result in enumerate(results):
        where = f"{source}: results[{index}]"
        if not isinstance(result, dict):
            raise ImportValidationError(f"{where}: expected an object, got {type(result).__name__}")
        tokens = require(result, "tokens", list, where, "a list of token strings")
        if not tokens or not all(isinstance(t, str) for t in tokens):
            raise ImportValidationError(f"{where}: field 'tokens': expected a non-empty list of strings")
        activations, ids, labels = _features(result, where, len(tokens))
        all_labels.update(labels)
        prompt = result.get("prompt") if isinstance(result.get("prompt"), str) else ""
        example_id = safe_id(result.get("probe_id", f"probe-{index}"), taken)
        trajectory = text_trajectory(example_id, dataset, list(tokens), prompt=prompt,
                                     metadata={"probe_id": str(result.get("probe_id", index))})
        examples.append(ImportedExample(trajectory, (FeaturesExample(activations, ids),)))
    model = data.get("model") if isinstance(data.get("model"), str) else "unknown"
    summary = FeaturesSummary(source="imported", feature_labels={str(k): v for k, v in sorted(all_labels.items())})
    return ImportedRun(f"{model} (imported activations)", 0, 0, examples, {dataset: [summary]})


IMPORTER = Importer("activations", "an activation dump JSON (legacy 'counts' or 'features' lists)", read)
