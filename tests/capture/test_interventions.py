import pytest
import torch

from generator.capture.architectures import UnsupportedArchitecture, layout_of
from generator.capture.interventions import Site, edited, recording
from tests.capture.test_architectures import build


@pytest.mark.parametrize("name", ["llama-gqa", "gpt2", "gemma2-softcap"])
def test_patching_every_head_equals_patching_the_attention_output(name):
    model = build(name)
    clean, corrupted = torch.tensor([[5, 6, 7, 8, 9]]), torch.tensor([[11, 6, 7, 8, 9]])
    n_heads = model.config.num_attention_heads
    sites = [Site(1, "attn_out")] + [Site(1, "head", h) for h in range(n_heads)]
    with torch.no_grad(), recording(model, sites) as store:
        model(input_ids=clean)

    def copy(site):
        return lambda x: store[site].clone()

    with torch.no_grad():
        with edited(model, [(sites[0], copy(sites[0]))]):
            by_block = model(input_ids=corrupted).logits
        with edited(model, [(s, copy(s)) for s in sites[1:]]):
            by_heads = model(input_ids=corrupted).logits
    assert torch.allclose(by_block, by_heads, atol=1e-5)


def test_hooks_are_removed_even_when_the_forward_fails():
    model = build("llama-gqa")
    with pytest.raises(RuntimeError):
        with edited(model, [(Site(0, "resid_pre"), lambda x: (_ for _ in ()).throw(RuntimeError("boom")))]):
            model(input_ids=torch.tensor([[1, 2, 3]]))
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())


def test_identity_edits_change_nothing_and_bad_sites_are_named():
    model = build("qwen2")
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        with edited(model, [(Site(l, c), lambda x: x) for l in range(3) for c in ("resid_pre", "attn_out", "mlp_out")]):
            assert torch.equal(model(input_ids=ids).logits, expected)
    with pytest.raises(ValueError, match="layer 7 is out of range"):
        with edited(model, [(Site(7, "mlp_out"), lambda x: x)]):
            pass


def test_unknown_architectures_are_named():
    class Mystery(torch.nn.Module):
        pass

    with pytest.raises(UnsupportedArchitecture, match="Mystery: no entry in architectures.yaml"):
        layout_of(Mystery())
