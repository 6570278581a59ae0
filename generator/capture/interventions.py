"""Reading and editing activations at named sites, with hooks that remove themselves.

A site is a place data flows through every decoder layer:

- ``resid_pre``   the residual stream entering layer L        # [batch, pos, d_model]
- ``attn_out``    the attention block's output in layer L      # [batch, pos, d_model]
- ``mlp_out``     the MLP block's output in layer L            # [batch, pos, d_model]
- ``head``        one head's slice of the input to the head-mixing projection
                                                               # [batch, pos, d_head]
- ``mlp_neurons`` the MLP's hidden activations (input to its last projection)
                                                               # [batch, pos, d_mlp]

Edits and recordings are installed for the duration of a ``with`` block and removed after,
whatever happens, so an exception never leaves a model hooked.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Literal

from generator.capture.architectures import layer_module

Component = Literal["resid_pre", "attn_out", "mlp_out", "head", "mlp_neurons"]
COMPONENTS: tuple[Component, ...] = ("resid_pre", "attn_out", "mlp_out", "head", "mlp_neurons")


@dataclass(frozen=True)
class Site:
    layer: int
    component: Component
    head: int | None = None


# An edit receives the site's activation ([batch, pos, dim], for 'head' [batch, pos, d_head])
# and returns the replacement (it may modify it in place and return it).
Edit = Callable[["object"], "object"]


def _head_slice(model, head: int) -> slice:
    config = model.config.get_text_config()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return slice(head * head_dim, (head + 1) * head_dim)


def _check_layer(model, layer: int) -> None:
    n_layers = model.config.get_text_config().num_hidden_layers
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} is out of range: the model has layers 0..{n_layers - 1}")


def _install(model, site: Site, edit: Edit):
    """Register the hook for one site; returns its handle."""
    _check_layer(model, site.layer)
    if site.component == "resid_pre":
        def pre_hook(module, args, kwargs):
            if args:
                return (edit(args[0]),) + tuple(args[1:]), kwargs
            kwargs["hidden_states"] = edit(kwargs["hidden_states"])
            return args, kwargs
        return layer_module(model, site.layer, "block").register_forward_pre_hook(pre_hook, with_kwargs=True)
    if site.component in ("attn_out", "mlp_out"):
        module = layer_module(model, site.layer, "attention" if site.component == "attn_out" else "mlp")

        def post_hook(module, args, output):
            if isinstance(output, tuple):
                return (edit(output[0]),) + tuple(output[1:])
            return edit(output)
        return module.register_forward_hook(post_hook)
    if site.component == "mlp_neurons":
        def neuron_hook(module, args):
            return (edit(args[0]),) + tuple(args[1:])
        return layer_module(model, site.layer, "mlp_output").register_forward_pre_hook(neuron_hook)
    if site.component == "head":
        if site.head is None:
            raise ValueError("a 'head' site needs a head index")
        columns = _head_slice(model, site.head)

        def head_hook(module, args):
            mixed = args[0].clone()
            mixed[..., columns] = edit(mixed[..., columns])
            return (mixed,) + tuple(args[1:])
        return layer_module(model, site.layer, "attention_output").register_forward_pre_hook(head_hook)
    raise ValueError(f"unknown site component {site.component!r}; expected one of {', '.join(COMPONENTS)}")


@contextlib.contextmanager
def edited(model, edits: list[tuple[Site, Edit]]) -> Iterator[None]:
    handles = []
    try:
        for site, edit in edits:
            handles.append(_install(model, site, edit))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def recording(model, sites: list[Site]) -> Iterator[dict[Site, object]]:
    """Record each site's activation (detached) during the block's forward pass."""
    store: dict[Site, object] = {}

    def keep(site: Site) -> Edit:
        def edit(x):
            store[site] = x.detach().clone()
            return x
        return edit

    with edited(model, [(site, keep(site)) for site in sites]):
        yield store


@contextlib.contextmanager
def heads_replaced(model, per_row: list[tuple[int, int] | None], means: dict[tuple[int, int], object] | None = None
                   ) -> Iterator[None]:
    """Batch row ``i`` runs with head ``per_row[i] = (layer, head)`` replaced at every position:
    by zeros, or by ``means[(layer, head)]`` (a ``[d_head]`` vector). One hook per layer, so a
    batch that ablates every head of a model costs one forward pass, not one per head."""
    by_layer: dict[int, list[tuple[int, int]]] = {}
    for row, site in enumerate(per_row):
        if site is not None:
            by_layer.setdefault(site[0], []).append((row, site[1]))
    handles = []

    def hook_for(layer: int, rows: list[tuple[int, int]]):
        def hook(module, args):
            mixed = args[0].clone()
            for row, head in rows:
                columns = _head_slice(model, head)
                if means is None:
                    mixed[row, :, columns] = 0
                else:
                    mixed[row, :, columns] = means[(layer, head)].to(mixed.dtype)
            return (mixed,) + tuple(args[1:])
        return hook

    try:
        for layer, rows in sorted(by_layer.items()):
            _check_layer(model, layer)
            handles.append(layer_module(model, layer, "attention_output").register_forward_pre_hook(
                hook_for(layer, rows)))
        yield
    finally:
        for handle in handles:
            handle.remove()
