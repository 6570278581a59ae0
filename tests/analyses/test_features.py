import numpy as np
import pytest
import torch

from generator.analyses import AnalysisError, get_analysis
from generator.analyses.features import load_sae
from tests.capture.test_architectures import build


def test_mlp_neurons_are_the_input_of_the_down_projection():
    model = build("llama-gqa")
    analysis = get_analysis("features")
    options = analysis.parse_options({"layer": 1})
    ids = [3, 4, 5, 6]
    values = analysis.activations(model, ids, options, None)
    mlp = model.model.layers[1].mlp
    captured = {}
    handle = mlp.register_forward_hook(lambda m, a, o: captured.setdefault("x", a[0]))
    with torch.no_grad():
        model(input_ids=torch.tensor([ids]))
    handle.remove()
    x = captured["x"][0]
    expected = (mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)).detach().numpy()
    np.testing.assert_allclose(values, expected, atol=1e-5)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_sae_applied_to_the_residual_stream(tmp_path, suffix):
    from safetensors.numpy import save_file

    model = build("qwen2")
    d = model.config.hidden_size
    weight = np.eye(d, 6, dtype=np.float32)  # feature i reads residual dimension i
    bias = np.full(6, -0.1, dtype=np.float32)
    threshold = np.full(6, 0.05, dtype=np.float32)
    path = tmp_path / f"sae{suffix}"
    if suffix == ".npz":
        np.savez(path, W_enc=weight, b_enc=bias, threshold=threshold)
    else:
        save_file({"W_enc": weight, "b_enc": bias, "threshold": threshold}, str(path))
    analysis = get_analysis("features")
    options = analysis.parse_options({"layer": 2, "sae": str(path)})
    sae = load_sae(path, d)
    values = analysis.activations(model, [1, 2, 3], options, sae)
    captured = {}
    def keep(module, args, kwargs):
        captured["x"] = (args or (kwargs["hidden_states"],))[0]

    handle = model.model.layers[2].register_forward_pre_hook(keep, with_kwargs=True)
    with torch.no_grad():
        model(input_ids=torch.tensor([[1, 2, 3]]))
    handle.remove()
    pre = captured["x"][0].numpy()[:, :6] - 0.1
    np.testing.assert_allclose(values, np.where(pre > 0.05, pre, 0.0), atol=1e-5)


@pytest.mark.parametrize("tensors,message", [
    ({"b_enc": np.zeros(3, np.float32)}, "key 'W_enc' (or 'encoder.weight'): missing"),
    ({"W_enc": np.zeros((5, 3), np.float32), "b_enc": np.zeros(3, np.float32)}, "expected shape [32, n_features]"),
    ({"W_enc": np.zeros((32, 3), np.float32)}, "key 'b_enc': expected shape [3]"),
    ({"W_enc": np.full((32, 3), np.nan, np.float32), "b_enc": np.zeros(3, np.float32)}, "contains NaN"),
])
def test_bad_sae_files_name_the_key(tmp_path, tensors, message):
    path = tmp_path / "sae.npz"
    np.savez(path, **tensors)
    with pytest.raises(AnalysisError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_sae(path, 32)
    with pytest.raises(AnalysisError, match="not found"):
        load_sae(tmp_path / "absent.safetensors", 32)
