"""How every causal analysis scores the model's answer: teacher forced, greedily decoded, or by behaviour.

Teacher forcing puts an answer (the expected one, or another an analysis asks about) in place
of the model's own after its reasoning, and scores the answer's tokens: their summed
log-probability and whether greedy decoding would produce each. Greedy decoding asks the model
again and reads what it says. A behaviour (``correct`` or ``field:<name>``) says which answer
counts. Interventions (``generator/analyses/interventions.py``) call these on edited models.
"""

from __future__ import annotations

import re
from typing import Callable

from generator.capture.segmentation import SegmentationSpec
from generator.results.behaviour import Behaviour
from generator.store.records import Trajectory


def target_answer(trajectory: Trajectory, behaviour: str) -> str | None:
    """The answer a behaviour looks for in this item (None: the item has none)."""
    return Behaviour.parse(behaviour).target(trajectory)


def teacher_forced_answer(trajectory: Trajectory, tokenizer, spec: SegmentationSpec,
                          answer: str | None = None) -> tuple[list[int], int] | None:
    """The trajectory's tokens up to its answer value, then the expected answer; and where that starts.

    The expected answer is written the way the model wrote it when the run's check found the
    model right (``72`` for a dataset's ``72.0`` under ``answers.check: numeric``), so "still
    correct" under an edit means the model still gives its own right answer; otherwise it is
    the dataset's text. ``answer`` scores another answer in the same place (e.g. a known wrong
    one). None when there is nothing to score (no answer, or no answer in the generation).
    """
    if answer is None:
        own = trajectory.correct and trajectory.parsed_answer
        answer = trajectory.parsed_answer if own else trajectory.expected_answer
    if answer is None:
        return None
    return forced_answer(list(trajectory.token_ids), list(trajectory.token_offsets), trajectory.text,
                         len(trajectory.text) - len(trajectory.generated_text), trajectory.n_prompt_tokens, answer,
                         tokenizer, spec)


def forced_answer(token_ids: list[int], offsets: list, text: str, generated_from: int, n_prompt_tokens: int,
                  answer: str, tokenizer, spec: SegmentationSpec) -> tuple[list[int], int] | None:
    """``token_ids`` up to where the generation's last answer value starts (in ``text`` from character
    ``generated_from``), then ``answer``'s tokens, and the index of its first token. None when the
    generation has no answer (or the answer pattern has no group to mark its value)."""
    if spec.answer_format == "pattern" and re.compile(spec.answer_pattern).groups < 1:
        return None
    found = spec.answer(text[generated_from:])
    if found is None:
        return None
    value_start = generated_from + found.value_start
    cut = next(i for i, (a, b) in enumerate(offsets) if i >= n_prompt_tokens and b > value_start and b > a)
    lead = text[offsets[cut][0]:value_start]  # e.g. a space merged into the token
    return list(token_ids[:cut]) + continuation_ids(tokenizer, lead + answer.strip()), cut


def continuation_ids(tokenizer, text: str) -> list[int]:
    """Tokens of ``text`` as it continues a sequence, not as the start of one.

    SentencePiece-style tokenizers (Llama 2, Mistral) give the start of a text a dummy space
    ("73" becomes "▁73", read as " 73"), and their decoder hides it again. Encoding a newline
    before the text and dropping the newline's tokens gives the continuation's own; checked by
    decoding, else the text's plain encoding (byte-level BPE needs no such care).
    """
    head = tokenizer("\n", add_special_tokens=False)["input_ids"]
    both = tokenizer("\n" + text, add_special_tokens=False)["input_ids"]
    if head and both[:len(head)] == head and tokenizer.decode(both) == "\n" + text:
        return list(both[len(head):])
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def answer_scores(logits, ids, start: int):
    """Per batch row: log-probability of tokens ids[start:] and whether each is the argmax.

    ``logits`` are those that predict the answer (``[batch, len(ids) - start, vocab]``, as
    ``answer_logits`` returns them).
    """
    import torch

    targets = torch.tensor(ids[start:], device=logits.device)
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # [batch, n_answer, vocab]
    picked = log_probs.gather(-1, targets.expand(logits.shape[0], -1).unsqueeze(-1)).squeeze(-1)
    correct = (log_probs.argmax(-1) == targets).all(-1)
    return picked.sum(-1).cpu().numpy(), correct.cpu().numpy()


def answer_logits(model, input_ids, start: int):
    """The logits that predict tokens ``start:`` of each row, and only those (``logits_to_keep``): a
    batch of long sequences never holds ``[batch, T, vocab]`` (64 rows x 1,024 tokens x a 150k
    vocabulary would be 39 GB)."""
    return model(input_ids=input_ids, use_cache=False, logits_to_keep=input_ids.shape[1] - start + 1).logits[:, :-1]


def scored(model, input_ids, ids, start: int):
    """``answer_scores`` of running ``input_ids`` (a batch of ``ids``, perhaps edited by hooks)."""
    return answer_scores(answer_logits(model, input_ids, start), ids, start)


def answer_measure(model, ids: list[int], start: int) -> Callable[[int], tuple]:
    """A measure for ``intervene``: ``rows`` copies of ``ids`` run, each row's answer scored
    (log-probability of tokens ``start:``, and whether greedy decoding gives them)."""
    import torch

    batch = torch.tensor([ids], device=model.device)
    return lambda rows: scored(model, batch.expand(rows, -1), ids, start)


def last_logits_measure(model, ids: list[int], donor: list[int] | None = None) -> Callable[[int], tuple]:
    """A measure for ``intervene``: ``rows`` copies of ``ids`` run, the logits at the last position of each
    (``[rows, vocab]``, in the model's dtype). A ``donor`` runs as row 0 before them (some edits read it)
    and is dropped."""
    import torch

    lead = [list(donor)] if donor is not None else []

    def measure(rows: int) -> tuple:
        inputs = torch.tensor(lead + [ids] * rows, device=model.device)
        return (model(input_ids=inputs, use_cache=False, logits_to_keep=1).logits[len(lead):, -1],)
    return measure


def greedy_ids(model, prompt_ids: list[int], max_new_tokens: int, eos: int) -> list[int]:
    """The model's greedy continuation of one prompt (new token ids only)."""
    import torch

    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([prompt_ids], device=model.device),
                             attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long, device=model.device),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=eos)
    return out[0, len(prompt_ids):].tolist()
