"""Look inside a network: gradient norms, residual-branch sizes, layer responses, feature maps, filters.

The training engine calls `conv_grad_norms` and `branch_ratios` every epoch, so both are cheap and
leave the model exactly as they found it (parameters, BN running statistics, train/eval mode).
Everything that changes the model for a moment (hooks, eval mode) is undone before returning.
Size budget: ~200 lines.
"""
from __future__ import annotations

import torch
from torch import nn

from .evaluation import eval_no_grad

_EPS = 1e-12  # keeps a ratio finite when an input is all zeros


# ----------------------------------------------------------------------------- helpers


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _unit_inputs_outputs(model: nn.Module, x: torch.Tensor) -> list:
    """One forward pass with hooks on every unit: [(name, unit, input, output)], in forward order.

    Must be called inside `eval_no_grad`. The hooks are removed even if the forward fails.
    """
    captured: dict = {}

    def _make_hook(name):
        def _hook(module, args, output):
            captured[name] = (args[0], output)
        return _hook

    units = model.units()
    handles = [unit.register_forward_hook(_make_hook(name)) for name, unit in units]
    try:
        model(x.to(_device_of(model)))
    finally:
        for h in handles:
            h.remove()
    return [(name, unit, *captured[name]) for name, unit in units if name in captured]


def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1)  # (B, C, H, W) -> (B,)


# ----------------------------------------------------------------------------- public
def conv_grad_norm_tensors(model: nn.Module) -> dict:
    """Like `conv_grad_norms`, but the norms stay 0-dim tensors on the model's device (no device sync).

    The engine sums these over an epoch's steps and reads them once at the end of the epoch.

    Args:
        model: any nn.Module whose convs have `.weight.grad` filled in.
    Returns:
        {dotted conv name: 0-dim tensor}, in the order the modules were registered (forward order here).
    """
    names, grads = [], []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.weight.grad is not None:
            names.append(name)
            grads.append(m.weight.grad.detach())
    if not grads:
        return {}
    # One fused kernel where torch has it (as clip_grad_norm_ does); one norm per tensor otherwise.
    norms = torch._foreach_norm(grads) if hasattr(torch, "_foreach_norm") else [g.norm() for g in grads]
    return dict(zip(names, norms))


def conv_grad_norms(model: nn.Module) -> dict:
    """L2 norm of each conv layer's weight gradient, read after `loss.backward()`.

    Gradient norm per layer shows where a deep plain net's gradient fades (He et al. 2015, section 4.1).
    Projection shortcuts are included; convs without a gradient are skipped. A pure read: no hooks,
    no copies, one device sync.

    Args:
        model: any nn.Module whose convs have `.weight.grad` filled in.
    Returns:
        {dotted conv name: float norm}, in the order the modules were registered (forward order here).
    """
    norms = conv_grad_norm_tensors(model)
    if not norms:
        return {}
    return dict(zip(norms, torch.stack(list(norms.values())).tolist()))


def branch_ratios(model: nn.Module, x: torch.Tensor) -> dict:
    """Per unit, the batch mean of ||F(x_i)|| / ||x_i||: how large the residual branch is next to its input.

    Small ratios mean the units are close to the identity, as He et al. 2015 (section 4.2) observe.
    For a plain unit (no shortcut) the ratio is ||output_i|| / ||input_i||. Evaluated in eval mode
    without gradients; the model's parameters, BN statistics and mode are left as they were.

    Args:
        model: a `explorer.models.ResNet` (anything with `.units()`).
        x: (B, C, H, W) probe batch.
    Returns:
        {unit dotted name (e.g. "layer2.0"): float ratio}, in forward order.
    """
    with eval_no_grad(model):
        ratios = []
        records = _unit_inputs_outputs(model, x)
        for _, unit, inp, out in records:
            top = out if unit.shortcut is None else unit.residual_branch(inp)
            ratios.append((_per_sample_norm(top) / _per_sample_norm(inp).clamp_min(_EPS)).mean())
    if not ratios:
        return {}
    return dict(zip([r[0] for r in records], torch.stack(ratios).tolist()))


def layer_responses(model: nn.Module, x: torch.Tensor) -> dict:
    """Per unit, the standard deviation of its residual branch's output F(x) (He et al. 2015, Figure 7).

    F(x) is the part added to the shortcut: after the branch's last BN where the placement ends with BN,
    after its last conv otherwise. A plain unit has the same layers, so its branch output is used too.
    The std is taken over every element of F(x) for the batch (images, channels, positions), in eval mode;
    the model is left as it was.

    Args:
        model: a `explorer.models.ResNet`.
        x: (B, C, H, W) images, e.g. a test batch.
    Returns:
        {unit dotted name: float std}, in forward order.
    """
    with eval_no_grad(model):
        records = _unit_inputs_outputs(model, x)
        stds = [unit.residual_branch(inp).std(unbiased=False) for _, unit, inp, _ in records]
    if not stds:
        return {}
    return dict(zip([r[0] for r in records], torch.stack(stds).tolist()))


def feature_maps(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """Activations of one named module for one image, in eval mode (the model is left as it was).

    Args:
        model: any nn.Module.
        x: one image, (C, H, W) or (1, C, H, W).
        layer: dotted module name, e.g. "conv1", "layer2.0" or "layer2.0.relu1".
    Returns:
        (C', h, w) float tensor on the CPU.
    """
    modules = dict(model.named_modules())
    if not layer or layer not in modules:
        raise ValueError(f"There is no layer named {layer!r} in this model; pick one from its layer list.")
    if x.dim() == 3:
        x = x.unsqueeze(0)  # (C, H, W) -> (1, C, H, W)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"feature_maps needs one image shaped (C, H, W); got shape {tuple(x.shape)}.")
    captured = []
    handle = modules[layer].register_forward_hook(lambda m, args, out: captured.append(out))
    try:
        with eval_no_grad(model):
            model(x.to(_device_of(model)))
    finally:
        handle.remove()
    out = captured[0] if captured else None
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise ValueError(f"Layer {layer!r} does not give image-shaped feature maps; pick a conv, BN, ReLU or unit.")
    return out[0].detach().float().cpu()  # (1, C', h, w) -> (C', h, w)


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The first conv's filters, each rescaled to [0, 1] on its own, ready to show as small images.

    Args:
        model: a net with a `conv1` convolution (ours and torchvision's).
    Returns:
        (out, in, k, k) float tensor on the CPU; a constant filter becomes all zeros.
    """
    conv = getattr(model, "conv1", None)
    if not isinstance(conv, nn.Conv2d):
        raise ValueError("This model has no first convolution named conv1 to show.")
    w = conv.weight.detach().float().cpu().clone()  # (out, in, k, k)
    flat = w.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    span = (flat.max(dim=1).values.view(-1, 1, 1, 1) - low)
    return torch.where(span > 0, (w - low) / span.clamp_min(_EPS), torch.zeros_like(w))
