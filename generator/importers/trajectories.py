"""`atlas import trajectories DIR`: trajectory JSON files (and manifest.json) of the attention agent.

Each file: {"id", "test_case": {"category", "query", ...}, "response", "tokens",
"attention_data": {"tokens", "attention_matrix", "num_layers", "num_heads"}, "metadata"}. The
matrix is ``[query, key]`` (one map), ``[head, query, key]`` (one layer) or
``[layer, head, query, key]``; every layer and head in it is kept, and ``num_layers`` /
``num_heads`` must agree with its shape. Segment mass, entropy and max weight come from
``results.attention``, the same definitions a captured run uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generator.importers.base import ImportedExample, ImportedRun, Importer, ImportValidationError, finite_array, \
    read_json, require, safe_id, text_trajectory
from generator.results.attention import AttentionExample, attention_example, summaries_from_weights
from generator.store.records import Segment, Trajectory, segment_ids


def imported_attention(matrix: np.ndarray, trajectory: Trajectory) -> AttentionExample:
    """The attention result of imported maps ``[layer, head, query, key]``."""
    maps = matrix.astype(np.float64)
    ids = segment_ids(trajectory.segments, matrix.shape[-1])
    mass, entropy, max_weight = summaries_from_weights(maps, ids, len(trajectory.segments))
    return attention_example(mass, entropy, max_weight, trajectory, maps=maps.astype(np.float32))


def read(source: Path) -> ImportedRun:
    if not source.is_dir():
        raise ImportValidationError(f"{source}: expected a directory of trajectory_*.json files")
    files = _listed_files(source)
    if not files:
        raise ImportValidationError(f"{source}: no trajectory JSON files found")
    examples, taken, shape = [], set(), None
    for path in files:
        data = read_json(path)
        where = str(path)
        test_case = require(data, "test_case", dict, where, "an object with 'query'")
        query = require(test_case, "query", str, f"{where}: test_case", "a string")
        response = data.get("response") if isinstance(data.get("response"), str) else ""
        attention = require(data, "attention_data", dict, where, "an object with 'tokens' and 'attention_matrix'")
        tokens, matrix = _tokens_and_maps(attention, where)
        if shape is None:
            shape = matrix.shape[:2]
        elif matrix.shape[:2] != shape:
            raise ImportValidationError(f"{where}: field 'attention_data.attention_matrix': {matrix.shape[0]} layers x "
                                        f"{matrix.shape[1]} heads, but the files before it have {shape[0]} x {shape[1]}")
        dataset = safe_id(test_case.get("category") or "trajectories", set())
        example_id = safe_id(data.get("id", path.stem), taken)
        segment = Segment("sequence", "other", 0, len(tokens), 0, sum(len(t) for t in tokens))
        described = (("timestamp", data.get("timestamp")), ("category", test_case.get("category")),
                     ("description", test_case.get("description")))
        trajectory = text_trajectory(example_id, dataset, list(tokens), prompt=query, generated=response,
                                     segments=[segment], metadata={k: str(v) for k, v in described if v is not None})
        examples.append(ImportedExample(trajectory, (imported_attention(matrix, trajectory),)))
    return ImportedRun("imported trajectories", int(shape[0]), int(shape[1]), examples)


def _listed_files(source: Path) -> list[Path]:
    """The files manifest.json lists (each inside ``source``), or every other JSON file when there is none."""
    manifest_path = source / "manifest.json"
    if not manifest_path.exists():
        return sorted(p for p in source.glob("*.json") if p.name != "manifest.json")
    listed = read_json(manifest_path)
    entries = listed.get("trajectories", listed) if isinstance(listed, dict) else listed
    if not isinstance(entries, list):
        raise ImportValidationError(f"{manifest_path}: expected a list of trajectories (or {{'trajectories': [...]}})")
    names = [e.get("filename") or e.get("file") if isinstance(e, dict) else e for e in entries]
    inside = source.resolve()
    for name in names:
        if not isinstance(name, str) or not (source / name).is_file():
            raise ImportValidationError(f"{manifest_path}: lists {name!r}, which is not a file in {source}")
        if not (source / name).resolve().is_relative_to(inside):
            raise ImportValidationError(f"{manifest_path}: lists {name!r}, which lies outside {source}; "
                                        "importers read only inside the folder they are given")
    return [source / n for n in names]


def _tokens_and_maps(attention: dict, where: str) -> tuple[list[str], np.ndarray]:
    """The tokens and the maps ``[layer, head, query, key]``: square over the tokens, non-negative, finite,
    and of the layer and head counts the file states."""
    tokens = require(attention, "tokens", list, f"{where}: attention_data", "a list of token strings")
    if not tokens or not all(isinstance(t, str) for t in tokens):
        raise ImportValidationError(f"{where}: field 'attention_data.tokens': expected a non-empty list of strings")
    matrix = finite_array(require(attention, "attention_matrix", list, f"{where}: attention_data", "a list"),
                          where, "attention_data.attention_matrix", (2, 3, 4))
    matrix = matrix.reshape((1,) * (4 - matrix.ndim) + matrix.shape)  # [layer, head, query, key]
    if matrix.shape[2:] != (len(tokens), len(tokens)):
        raise ImportValidationError(f"{where}: field 'attention_data.attention_matrix': expected {len(tokens)} x "
                                    f"{len(tokens)} maps (tokens x tokens), got {matrix.shape[2]} x {matrix.shape[3]}")
    for key, axis in (("num_layers", 0), ("num_heads", 1)):
        stated = attention.get(key)
        if matrix.shape[axis] > 1 and stated is not None and stated != matrix.shape[axis]:
            raise ImportValidationError(f"{where}: field 'attention_data.{key}': says {stated}, but the matrix "
                                        f"has {matrix.shape[axis]}")
    if (matrix < 0).any():
        raise ImportValidationError(f"{where}: field 'attention_data.attention_matrix': negative weights")
    return tokens, matrix


IMPORTER = Importer("trajectories", "trajectory JSON files and manifest.json of the attention agent", read)
