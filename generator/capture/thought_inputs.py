"""Stored thoughts put back in place: every forward pass over a latent trajectory sees the model's input.

A latent trajectory stores a placeholder id at each thought's position and the thought's input
vector beside it (``thoughts.safetensors``). While ``thoughts_in_place`` is active, the model's
input-embedding module returns, in every row that holds the placeholders, the stored vectors at
their positions (the i-th placeholder of a row gets thought i). So every analysis that runs the
model on the trajectory's ids (attention capture, salience, logit lens, knockouts) runs it on the
exact input sequence the model generated from, without knowing about thoughts. A row with no
placeholder (a prompt built from text, a decoding step) is left alone; a row with some but not
all of them is an error, never a silent mix.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np


_STACKS: dict[int, list] = {}  # id(model) -> trajectories whose thoughts are in place, innermost last


@contextlib.contextmanager
def thoughts_in_place(model, trajectory) -> Iterator[None]:
    """Within the block, the placeholder positions of every row take the trajectory's thought inputs (a
    trajectory without thoughts: nothing changes). Blocks nest: the innermost trajectory's thoughts are
    in place (a resample donor read while an example is analysed)."""
    thoughts = getattr(trajectory, "thoughts", None)
    if thoughts is None or len(thoughts.inputs) == 0:
        yield
        return
    stack = _STACKS.setdefault(id(model), [])
    handle = model.get_input_embeddings().register_forward_hook(_hook(stack)) if not stack else None
    stack.append(trajectory)
    try:
        yield
    finally:
        stack.pop()
        if handle is not None:
            handle.remove()
            del _STACKS[id(model)]


def _hook(stack: list):
    def hook(module, args, output):
        ids = args[0] if args else None
        return output if ids is None else _put_in_place(ids, output, stack[-1])
    return hook


def _put_in_place(ids, output, trajectory):
    """``output`` with the placeholder positions of each row that holds them replaced by the thoughts."""
    import torch

    thoughts = trajectory.thoughts
    if not torch.is_tensor(ids) or ids.dtype not in (torch.long, torch.int):
        return output
    found = ids == thoughts.placeholder_id
    counts = found.sum(-1)
    if not bool(counts.any()):
        return output
    vectors = torch.as_tensor(np.asarray(thoughts.inputs, dtype=np.float32))
    if bool(((counts != 0) & (counts != len(vectors))).any()):
        raise ValueError(f"a row holds {int(counts.max())} thought placeholders (id {thoughts.placeholder_id}); "
                         f"the trajectory has {len(vectors)} thoughts: edit thoughts through their vectors, not ids")
    first = trajectory.token_ids.index(thoughts.placeholder_id)
    before = torch.tensor(trajectory.token_ids[:first], dtype=ids.dtype)
    for row in counts.nonzero()[:, 0].tolist():
        start = int(found[row].nonzero()[0, 0]) - first
        if start < 0 or not torch.equal(ids[row, start:start + first].cpu(), before):
            raise ValueError(f"a forward over another latent trajectory while the thoughts of "
                             f"{trajectory.example_id!r} are in place")
    output = output.clone()
    rows, columns = found.nonzero(as_tuple=True)
    order = torch.arange(len(vectors), device=output.device).repeat(int((counts > 0).sum()))
    output[rows, columns] = vectors.to(output.device, output.dtype)[order]
    return output
