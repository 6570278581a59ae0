"""Latent checkpoints load as their authors run them; the thought loop is CODI's; capture over thoughts is exact.

Stand-ins: random-weight Llama and GPT-2 bases with CODI checkpoints in CODI's key layout
(tests/latent_checkpoints.py), adapters and projection random so that skipping either shows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.capture import capture_attention
from generator.capture.generation import cache_of, with_cache
from generator.capture.latent import LatentModel, ThoughtEdit, run_latent
from generator.capture.latent_checkpoints import framing_ids
from generator.capture.model_loading import ModelLoadError, load_model
from generator.capture.thought_inputs import thoughts_in_place
from generator.config import LatentCheckpointSpec, LatentSpec, ModelSpec
from generator.store.records import LatentThoughts
from tests.latent_checkpoints import COCONUT_TOKENS, coconut_checkpoint, codi_checkpoint

FAMILIES = ["llama", "gpt2"]


@pytest.fixture(scope="module", params=FAMILIES)
def codi(request, tmp_path_factory):
    stand_in = codi_checkpoint(tmp_path_factory.mktemp(request.param), request.param)
    loaded = load_model(ModelSpec(id=str(stand_in.base), dtype="float32", device="cpu",
                                  latent_checkpoint=LatentCheckpointSpec(str(stand_in.checkpoint))))
    return stand_in, loaded


def latent_of(loaded, thoughts=6) -> LatentModel:
    ids = framing_ids(loaded.tokenizer, LatentSpec(thoughts, "codi"), loaded.latent_parts)
    return LatentModel(loaded.model, loaded.latent_parts.projection, ids["begin"], ids["end"], ids["placeholder"],
                       loaded.tokenizer.eos_token_id, thoughts)


def prompt(loaded, text):
    return loaded.tokenizer(text)["input_ids"] + [loaded.latent_parts.begin_id]


def test_the_merged_checkpoint_computes_what_the_adapters_do(codi):
    stand_in, loaded = codi
    vocabulary = len(loaded.tokenizer)
    assert (loaded.latent_parts.placeholder_id, loaded.latent_parts.begin_id, loaded.latent_parts.end_id) == (
        vocabulary, vocabulary + 1, vocabulary + 2)  # CODI's pad, bot, eot after the base vocabulary
    ids = torch.tensor([prompt(loaded, "Tom had 12 marbles and lost 5.") + [vocabulary + 2]])
    with torch.no_grad():
        ours, theirs = loaded.model(ids).logits, stand_in.reference(input_ids=ids).logits
        base_only = stand_in.reference.get_base_model()
        with stand_in.reference.disable_adapter():
            without = base_only(ids).logits
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert (ours - without).abs().max() > 1e-2  # the adapters matter: a loader that dropped them would fail
    x = torch.randn(3, loaded.model.config.get_text_config().hidden_size)
    assert torch.allclose(loaded.latent_parts.projection(x), stand_in.projection(x), atol=1e-6)


def codi_reference_loop(stand_in, question_ids, bot, eot, eos, thoughts, max_new_tokens):
    """CODI's own inference (its test.py with remove_eos): question + bot, hidden -> prj -> next input, k
    times, then eot and greedy decoding over the vocabulary without the framing ids."""
    model, prj = stand_in.reference, stand_in.projection
    base = model.get_base_model()  # the keyword its forward takes the cache by
    embed = model.get_input_embeddings()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([question_ids + [bot]]), use_cache=True, output_hidden_states=True)
        cache, latent = cache_of(out), prj(out.hidden_states[-1][:, -1:])
        inputs = []
        for _ in range(thoughts):
            inputs.append(latent[0, 0])
            out = model(inputs_embeds=latent, use_cache=True, output_hidden_states=True, **with_cache(base, cache))
            cache, latent = cache_of(out), prj(out.hidden_states[-1][:, -1:])
        step, answer = embed(torch.tensor([[eot]])), []
        for _ in range(max_new_tokens):
            out = model(inputs_embeds=step, use_cache=True, **with_cache(base, cache))
            cache, logits = cache_of(out), out.logits[0, -1].clone()
            logits[bot - 1:] = float("-inf")
            token = int(logits.argmax())
            answer.append(token)
            if token == eos:
                break
            step = embed(torch.tensor([[token]]))
    return torch.stack(inputs).numpy(), answer


def test_the_thought_loop_is_codis(codi):
    stand_in, loaded = codi
    latent = latent_of(loaded)
    question = loaded.tokenizer("Janet has 3 apples and buys 4 more.")["input_ids"]
    (run,) = run_latent(latent, [question + [latent.begin_id]], max_new_tokens=5)
    inputs, answer = codi_reference_loop(stand_in, question, latent.begin_id, latent.end_id, latent.eos_id, 6, 5)
    assert run.thought_inputs.shape == (6, loaded.model.config.get_text_config().hidden_size)
    assert np.abs(run.thought_inputs - inputs).max() < 1e-4
    assert run.answer_ids == answer


def test_a_padded_batch_gives_what_each_prompt_gives_alone(codi):
    _, loaded = codi
    latent = latent_of(loaded, thoughts=3)
    prompts = [prompt(loaded, "A train goes 60 miles in 2 hours. What is its speed?"), prompt(loaded, "Tom had 12.")]
    together = run_latent(latent, prompts, max_new_tokens=4)
    for run, alone in zip(together, [run_latent(latent, [p], max_new_tokens=4)[0] for p in prompts]):
        assert np.abs(run.thought_inputs - alone.thought_inputs).max() < 1e-4
        assert run.answer_ids == alone.answer_ids


def test_capture_over_the_thoughts_equals_the_models_eager_attention(codi):
    _, loaded = codi
    latent = latent_of(loaded, thoughts=4)
    (run,) = run_latent(latent, [prompt(loaded, "Tom had 12 marbles and lost 5.")], max_new_tokens=4)
    ids = run.prompt_ids + [latent.placeholder_id] * 4 + [latent.end_id] + run.answer_ids
    trajectory = _Stub(tuple(ids), LatentThoughts(run.thought_inputs, latent.placeholder_id))
    segments = np.zeros(len(ids), dtype=np.int64)
    with thoughts_in_place(loaded.model, trajectory):
        captured = capture_attention(loaded.model, torch.tensor([ids]), segments, keep_maps=True)
        embeds = loaded.model.get_input_embeddings()(torch.tensor([ids]))
    first = len(run.prompt_ids)
    assert torch.allclose(embeds[0, first:first + 4], torch.from_numpy(run.thought_inputs))  # the vectors, in place
    loaded.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            eager = loaded.model(inputs_embeds=embeds, output_attentions=True).attentions
    finally:
        loaded.model.set_attn_implementation("sdpa")
    expected = torch.stack([a[0] for a in eager]).numpy()
    assert captured.maps.shape == expected.shape
    assert np.abs(captured.maps - expected).max() < 1e-5


class _Stub:
    example_id = "stub"

    def __init__(self, token_ids, thoughts):
        self.token_ids, self.thoughts = token_ids, thoughts


def test_edits_replace_a_thought_at_its_input_or_a_layer_and_keep_or_recompute_the_rest(codi):
    _, loaded = codi
    latent = latent_of(loaded, thoughts=4)
    p = prompt(loaded, "Tom had 12 marbles and lost 5.")
    (base,) = run_latent(latent, [p], max_new_tokens=3)
    stored = torch.from_numpy(base.thought_inputs)[None].repeat(4, 1, 1)
    zero = torch.zeros(1, stored.shape[-1])
    edits = [None, ThoughtEdit((1,), zero), ThoughtEdit((1,), zero, recompute=False), ThoughtEdit((1,), zero, layer=1)]
    same, recomputed, kept, at_layer = run_latent(latent, [p] * 4, 3, edits=edits, stored=stored)
    assert np.array_equal(same.thought_inputs, base.thought_inputs) and same.answer_ids == base.answer_ids
    assert np.array_equal(recomputed.thought_inputs[0], base.thought_inputs[0])
    assert not recomputed.thought_inputs[1].any()
    assert np.abs(recomputed.thought_inputs[2] - base.thought_inputs[2]).max() > 1e-3  # made again after the edit
    assert not kept.thought_inputs[1].any() and np.array_equal(kept.thought_inputs[2:], base.thought_inputs[2:])
    # at a layer: the input stays, what comes after it changes
    assert np.array_equal(at_layer.thought_inputs[:2], base.thought_inputs[:2])
    assert np.abs(at_layer.thought_inputs[2] - base.thought_inputs[2]).max() > 1e-3
    scored = run_latent(latent, [p], 3, forced=[base.answer_ids])[0]
    assert scored.answer_logprob is not None and scored.answer_logprob <= 0


def test_a_checkpoint_that_does_not_fit_is_one_line_naming_the_file(tmp_path):
    from safetensors.torch import load_file, save_file

    stand_in = codi_checkpoint(tmp_path, "llama")
    file = stand_in.checkpoint / "model.safetensors"
    state = load_file(str(file))
    state.pop(next(k for k in state if "lora_B" in k))
    save_file(state, str(file))
    with pytest.raises(ModelLoadError, match=r"model.safetensors: does not fit the base model: 1 weight\(s\) missing"):
        load_model(ModelSpec(id=str(stand_in.base), device="cpu",
                             latent_checkpoint=LatentCheckpointSpec(str(stand_in.checkpoint))))
    with pytest.raises(ModelLoadError, match="no model.safetensors or pytorch_model.bin"):
        load_model(ModelSpec(id=str(stand_in.base), device="cpu",
                             latent_checkpoint=LatentCheckpointSpec(str(tmp_path))))


def test_a_coconut_checkpoint_loads_with_its_latent_tokens_and_feeds_hidden_states_back(tmp_path):
    base, checkpoint, trained = coconut_checkpoint(tmp_path)
    loaded = load_model(ModelSpec(id=str(base), device="cpu",
                                  latent_checkpoint=LatentCheckpointSpec(str(checkpoint), format="coconut")))
    begin, end, latent_token = loaded.tokenizer.convert_tokens_to_ids(COCONUT_TOKENS)
    parts = loaded.latent_parts
    assert (parts.begin_id, parts.end_id, parts.placeholder_id, parts.projection) == (begin, end, latent_token, None)
    ids = torch.tensor([loaded.tokenizer("Tom had 12 marbles.")["input_ids"] + [begin]])
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, trained(ids).logits)
    latent = LatentModel(loaded.model, None, begin, end, latent_token, loaded.tokenizer.eos_token_id, 2)
    (run,) = run_latent(latent, [ids[0].tolist()], max_new_tokens=2)
    with torch.no_grad():  # no projection: thought 1's input is the last layer's hidden state at the begin token
        hidden = trained(ids, output_hidden_states=True).hidden_states[-1][0, -1]
    assert np.abs(run.thought_inputs[0] - hidden.numpy()).max() < 1e-5
