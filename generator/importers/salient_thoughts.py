"""`atlas import salient-thoughts DIR`: trees of <dataset>_<index>/salient_thoughts.npy arrays.

Each array is (layers, heads, steps): the attention the answer paid to each thought step.
The dataset comes from the folder name (``aime_1`` -> dataset ``aime``). Layer numbers are
1, 5, 9, 13, 17, 21, 25 when there are 7 rows (as in the scripts this replaces), else 0..L-1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generator.importers.base import ImportedExample, ImportedRun, Importer, ImportValidationError, finite_array, \
    text_trajectory
from generator.results.salience import SalienceExample, summarize_salience
from generator.store.records import Segment

FILE_NAME = "salient_thoughts.npy"
SEVEN_LAYERS = (1, 5, 9, 13, 17, 21, 25)


def layer_numbers(n_rows: int) -> list[int]:
    return list(SEVEN_LAYERS) if n_rows == 7 else list(range(n_rows))


def _sort_key(path: Path) -> tuple[str, int]:
    dataset, _, index = path.parent.name.rpartition("_")
    return dataset, int(index) if index.isdigit() else -1


def read(source: Path) -> ImportedRun:
    if not source.is_dir():
        raise ImportValidationError(f"{source}: expected a directory of <dataset>_<index>/{FILE_NAME} folders")
    files = sorted(source.glob(f"*/{FILE_NAME}"), key=_sort_key)
    if not files:
        raise ImportValidationError(f"{source}: no <dataset>_<index>/{FILE_NAME} files found")
    examples, shape = [], None
    for path in files:
        example = _read_example(path, shape)
        shape = example.results[0].salience.shape[:2]
        examples.append(example)
    summaries = {}
    for dataset in sorted({e.trajectory.dataset for e in examples}):
        members = [e for e in examples if e.trajectory.dataset == dataset]
        summaries[dataset] = [summarize_salience("answer (imported)", layer_numbers(shape[0]),
                                                 [e.results[0] for e in members],
                                                 [[s.name for s in e.trajectory.segments] for e in members])]
    return ImportedRun("imported salient thoughts", int(shape[0]), int(shape[1]), examples, summaries)


def _read_example(path: Path, shape: tuple[int, int] | None) -> ImportedExample:
    """One <dataset>_<index>/salient_thoughts.npy as an example; ``shape`` is (layers, heads) of the others."""
    dataset, underscore, index = path.parent.name.rpartition("_")
    if not underscore or not dataset or not index.isdigit():
        raise ImportValidationError(f"{path}: folder name {path.parent.name!r}: expected <dataset>_<index>, "
                                    "e.g. aime_1 or math-algebra_0")
    try:
        # memory-mapped: a header that claims more than the file holds fails here, nothing is allocated
        raw = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ImportValidationError(f"{path}: not a NumPy .npy array ({exc})") from exc
    array = finite_array(raw, str(path), "array", 3)
    if shape is not None and array.shape[:2] != shape:
        raise ImportValidationError(f"{path}: field 'array': expected (layers, heads) = {shape} like the other "
                                    f"files, got {array.shape[:2]}")
    steps = [Segment(f"step {i + 1}", "step", 0, 0, 0, 0) for i in range(array.shape[2])]
    trajectory = text_trajectory(path.parent.name, dataset, [], segments=steps,
                                 metadata={"source": f"{path.parent.name}/{FILE_NAME}"})
    layers = layer_numbers(array.shape[0])
    return ImportedExample(trajectory, (SalienceExample(
        array, np.array(layers, np.int64), np.arange(array.shape[2], dtype=np.int64)),))


IMPORTER = Importer("salient-thoughts", "a tree of <dataset>_<index>/salient_thoughts.npy (layers, heads, steps)", read)
