"""Sampling: each example's output depends on its seed alone, not on its batch; greedy stays the default."""

import pytest
import torch

from generator.capture.generation import generate_batch
from generator.capture.sampling import Sampling
from generator.datasets import Example
from generator.demo_model.tokenizer import build_tokenizer
from tests.conftest import tiny_llama


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tokenizer = build_tokenizer()
    tokenizer.padding_side = "left"
    return tiny_llama(vocab_size=len(tokenizer)), tokenizer


EXAMPLES = [Example("a", "Q: 1+2="), Example("b", "Q: 17+4*6="), Example("c", "Q: 9=")]


def outputs(model, tokenizer, examples, sampling):
    return {g.example.id: g.token_ids[g.n_prompt_tokens:] for g in generate_batch(model, tokenizer, examples, 12,
                                                                                    sampling)}


def test_an_examples_sample_is_the_same_alone_and_in_any_batch(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    sampling = Sampling(temperature=1.5, seed=3)
    together = outputs(model, tokenizer, EXAMPLES, sampling)
    for example in EXAMPLES:
        assert outputs(model, tokenizer, [example], sampling)[example.id] == together[example.id]
    reordered = outputs(model, tokenizer, EXAMPLES[::-1], sampling)
    assert reordered == together
    other_seed = outputs(model, tokenizer, EXAMPLES, Sampling(temperature=1.5, seed=4))
    assert other_seed != together  # a random model at a high temperature: another seed, other tokens
    greedy = outputs(model, tokenizer, EXAMPLES, Sampling())
    assert greedy != together


def test_top_k_1_and_a_tiny_top_p_are_greedy(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    greedy = outputs(model, tokenizer, EXAMPLES, Sampling())
    assert outputs(model, tokenizer, EXAMPLES, Sampling(temperature=2.0, top_k=1, seed=5)) == greedy
    assert outputs(model, tokenizer, EXAMPLES, Sampling(temperature=2.0, top_p=1e-9, seed=5)) == greedy


def test_the_sampler_keeps_only_tokens_inside_top_k_and_top_p():
    sampler = Sampling(temperature=1.0, top_k=2, seed=0).processors([f"x{i}" for i in range(200)])[0]
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0]]).expand(200, -1)
    chosen = sampler(None, scores).argmax(-1)
    assert set(chosen.tolist()) == {0, 1}  # both of the top two are drawn over 200 rows, never the others
    nucleus = Sampling(temperature=1.0, top_p=0.5, seed=0).processors([f"x{i}" for i in range(50)])[0]
    assert set(nucleus(None, torch.tensor([[3.0, 0.0, 0.0, 0.0]]).expand(50, -1)).argmax(-1).tolist()) == {0}


def test_generation_that_captures_attention_samples_the_same_tokens(model_and_tokenizer):
    from generator.capture import CaptureOptions
    from generator.capture.generation_capture import generate_with_capture
    from generator.capture.segmentation import SegmentationSpec

    model, tokenizer = model_and_tokenizer
    sampling = Sampling(temperature=1.5, top_p=0.9, seed=3)
    captured = generate_with_capture(model, tokenizer, EXAMPLES, 12, SegmentationSpec(), CaptureOptions(), sampling)
    assert {c.generation.example.id: c.generation.token_ids[c.generation.n_prompt_tokens:] for c in captured} == \
        outputs(model, tokenizer, EXAMPLES, sampling)


@pytest.mark.parametrize("generation, message", [
    ({"temperature": -1}, "key 'generation.temperature': expected 0 (greedy) or more, got -1.0"),
    ({"top_p": 0}, "key 'generation.top_p': expected a probability in (0, 1], got 0.0"),
    ({"top_k": -2}, "key 'generation.top_k': expected 0 (no limit) or more, got -2"),
])
def test_bad_sampling_settings_are_named(generation, message):
    from generator.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config({"run_name": "r", "model": {"id": "m"}, "datasets": [{"name": "d", "path": "d.jsonl"}],
                      "generation": generation}, "run.yaml")
    assert str(caught.value) == f"run.yaml: {message}"


def test_a_sampled_run_records_how_each_example_was_sampled(tmp_path):
    from generator.config import parse_config, resolve_paths
    from generator.pipeline import execute_run
    from generator.store.run_directory import load_run
    from tests.conftest import save_tiny_checkpoint, write_dataset

    save_tiny_checkpoint(tmp_path / "model")
    write_dataset(tmp_path / "d.jsonl", [{"id": f"x-{i}", "prompt": f"Q: {i}+1="} for i in range(3)])

    def run(batch_size: int, name: str):
        written = parse_config({"run_name": name, "model": {"id": "./model"}, "seed": 7,
                                "datasets": [{"name": "d", "path": "d.jsonl"}], "output_dir": "runs",
                                "generation": {"max_new_tokens": 8, "batch_size": batch_size, "temperature": 1.3,
                                               "top_k": 20}})
        return load_run(execute_run(resolve_paths(written, tmp_path), written.to_dict(),
                                    written.config_hash()).directory)

    one, three = run(1, "one-by-one"), run(3, "batched")
    for index in range(3):
        a, b = one.trajectory("d", f"x-{index}"), three.trajectory("d", f"x-{index}")
        assert a.metadata["sampling"] == {"temperature": 1.3, "top_p": 1.0, "top_k": 20,
                                          "seed": Sampling(seed=7).example_seed(f"x-{index}")}
        assert a.generated_text == b.generated_text  # the same sample alone or in a batch of three


def test_the_picker_draws_like_the_batched_sampler_and_greedy_is_the_argmax():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0])
    assert Sampling().picker("x")(logits) == 0
    sampled = [Sampling(temperature=1.0, top_k=2, seed=0).picker(f"x{i}")(logits) for i in range(100)]
    assert set(sampled) == {0, 1}
    batched = Sampling(temperature=1.0, top_k=2, seed=0).processors([f"x{i}" for i in range(100)])[0]
    assert sampled == batched(None, logits.expand(100, -1)).argmax(-1).tolist()  # the same draw, one by one


def test_an_agent_query_is_sampled_with_its_own_seed():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generator.agent.formats import ReactLabels
    from generator.agent.loop import AgentSpec
    from generator.answers import AnswerCheck
    from generator.datasets import load_dataset
    from generator.sources import AgentLoop
    from tests.conftest import REPO_ROOT

    path = REPO_ROOT / "data/models/atlas-arith-demo"
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    spec = AgentSpec(labels=ReactLabels(question="Q:", thought="T:", call="C:", observation="O:", answer="A:"),
                     max_reply_tokens=24)
    queries = load_dataset(REPO_ROOT / "data/datasets/agent.jsonl")[:2]
    loop = AgentLoop(model, tokenizer, spec, "agent", AnswerCheck(), Sampling(temperature=1.2, seed=9))
    together = [t.text for t, _ in loop.make(queries)]
    alone = [loop.make([query])[0][0] for query in queries[::-1]][::-1]
    assert [t.text for t in alone] == together
    assert alone[0].metadata["sampling"]["seed"] == Sampling(seed=9).example_seed(queries[0].id)
