"""Look inside a network: gradient norms, residual-branch sizes, layer responses, feature maps, filters.

The training engine calls `conv_grad_norms` and `branch_ratios` every epoch, so both are cheap and
leave the model exactly as they found it (parameters, BN running statistics, train/eval mode).
Everything that changes the model for a moment (hooks, eval mode) is undone before returning.
Size budget: ~200 lines.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..i18n import _, decimal
from ..nets.builder import ResNet
from .evaluation import eval_no_grad

_EPS = 1e-12  # keeps a ratio finite when an input is all zeros


# ----------------------------------------------------------------------------- helpers


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _unit_inputs_outputs(model: ResNet, x: torch.Tensor) -> list:
    """One forward pass with hooks on every unit: [(name, unit, input, output)], in forward order.

    Must be called inside `eval_no_grad`. The hooks are removed even if the forward fails.
    """
    captured: dict = {}

    def _make_hook(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def _hook(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
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
    return dict(zip(names, norms, strict=True))


def conv_grad_norms(model: nn.Module) -> dict:
    """L2 norm of each conv layer's weight gradient, read after `loss.backward()`.

    Gradient norm per layer shows how the gradient's size changes from the output back to the input. He et
    al. 2015 (section 4.1) checked that with BN a deep plain net's gradients do not vanish; what happens in the
    user's own net is for these numbers to say (`gradient_flow_sentence`). Projection shortcuts are included;
    convs without a gradient are skipped. A pure read: no hooks, no copies, one device sync.

    Args:
        model: any nn.Module whose convs have `.weight.grad` filled in.
    Returns:
        {dotted conv name: float norm}, in the order the modules were registered (forward order here).
    """
    norms = conv_grad_norm_tensors(model)
    if not norms:
        return {}
    return dict(zip(norms, torch.stack(list(norms.values())).tolist(), strict=True))


def gradient_flow_sentence(name: str, records: list) -> str:
    """One sentence on what a run's gradient norms show: the conv nearest the input against the one nearest
    the output, before training and at the latest epoch. Nothing is assumed; the numbers say which is larger.

    Args:
        name: the run's name, e.g. "plain-56".
        records: its epoch records (dicts, or explorer.store.records.Metric); those with "grad_norms"
            {conv name: norm} are read (shortcut convs left out).
    Returns:
        e.g. "plain-56: before training the conv nearest the input got a gradient 2,400 times larger than the
        conv nearest the output; at epoch 15, 3.1 times larger."; a sentence saying so when none was recorded.
    """
    ratios = []
    for rec in records:
        grad_norms = _field(rec, "grad_norms")
        pairs = grad_norms.items() if isinstance(grad_norms, dict) else ()
        norms = [(k, v) for k, v in pairs if ".shortcut." not in f".{k}."]
        first, last = (norms[0][1], norms[-1][1]) if len(norms) > 1 else (None, None)
        if isinstance(first, (int, float)) and isinstance(last, (int, float)) and first > 0 and last > 0:
            epoch = _field(rec, "epoch")
            ratios.append((int(epoch) if isinstance(epoch, float) and epoch.is_integer() else epoch, first / last))
    if not ratios:
        return _("{name}: no gradient norms were recorded, so there is nothing to compare.").format(name=name)
    first = _ratio_words(ratios[0][1], ratios[0][0])
    if len(ratios) > 1:
        return _("{name}: {first}; {latest}.").format(name=name, first=first,
                                                      latest=_ratio_short(ratios[-1][1], ratios[-1][0]))
    return _("{name}: {first}.").format(name=name, first=first)


def _field(record: object, key: str) -> object:
    """A field of an epoch record, a dict or a record object (None when absent)."""
    return record.get(key) if isinstance(record, dict) else getattr(record, key, None)


def _ratio_words(ratio: float, epoch: object) -> str:
    """The first clause: before training (epoch 0) or at an epoch, the first conv's gradient against the last's."""
    times = decimal(ratio if ratio > 1 else 1 / ratio, 1)
    if epoch == 0:
        if 0.9 <= ratio <= 1.1:
            return _("before training the conv nearest the input got about the same gradient as the conv nearest "
                     "the output")
        if ratio > 1:
            return _("before training the conv nearest the input got a gradient {times} times larger than the conv "
                     "nearest the output").format(times=times)
        return _("before training the conv nearest the input got a gradient {times} times smaller than the conv "
                 "nearest the output").format(times=times)
    if 0.9 <= ratio <= 1.1:
        return _("at epoch {epoch} the conv nearest the input got about the same gradient as the conv nearest the "
                 "output").format(epoch=epoch)
    if ratio > 1:
        return _("at epoch {epoch} the conv nearest the input got a gradient {times} times larger than the conv "
                 "nearest the output").format(epoch=epoch, times=times)
    return _("at epoch {epoch} the conv nearest the input got a gradient {times} times smaller than the conv nearest "
             "the output").format(epoch=epoch, times=times)


def _ratio_short(ratio: float, epoch: object) -> str:
    """The latest epoch's clause, short: "at epoch 15, 3.1 times larger"."""
    times = decimal(ratio if ratio > 1 else 1 / ratio, 1)
    if 0.9 <= ratio <= 1.1:
        return _("at epoch {epoch}, about the same gradient").format(epoch=epoch)
    if ratio > 1:
        return _("at epoch {epoch}, {times} times larger").format(epoch=epoch, times=times)
    return _("at epoch {epoch}, {times} times smaller").format(epoch=epoch, times=times)


def branch_ratios(model: ResNet, x: torch.Tensor) -> dict[str, float]:
    """Per unit, the batch mean of ||F(x_i)|| / ||x_i||: how large the residual branch is next to its input.

    Small ratios mean the units are close to the identity, as He et al. 2015 (section 4.2) observe.
    For a plain unit (no shortcut) the ratio is ||output_i|| / ||input_i||. Evaluated in eval mode
    without gradients; the model's parameters, BN statistics and mode are left as they were.

    Args:
        model: an `explorer.nets.builder.ResNet` (anything with `.units()`).
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
    return dict(zip([r[0] for r in records], torch.stack(ratios).tolist(), strict=True))


def response_points(model: ResNet) -> list:
    """Where He et al. 2015 (Figure 7) read each 3x3 layer's response: after its BN, before the addition or ReLU.

    For each 3x3 conv (the stem's too, where it is 3x3), in network order: the BN that directly follows it
    in the stem or in its unit's branch (in a full pre-activation unit, the next conv's BN), or the conv
    itself where nothing normalises it before the addition (the last conv of a pre-activation branch).

    Args:
        model: a `explorer.nets.builder.ResNet` (anything with conv1, bn1 and `.units()`).
    Returns:
        [(conv dotted name, the module whose output is the response)], input to output.
    """
    def is_3x3(m: object) -> bool:
        return isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (3, 3)

    points: list[tuple[str, nn.Module]] = []
    if is_3x3(getattr(model, "conv1", None)):
        points.append(("conv1", model.bn1 if isinstance(model.bn1, nn.BatchNorm2d) else model.conv1))
    for unit_name, unit in model.units():
        layers = unit.branch_layers()
        for k, (name, conv) in enumerate(layers):
            if is_3x3(conv):
                after = layers[k + 1][1] if k + 1 < len(layers) else None
                points.append((f"{unit_name}.{name}", after if isinstance(after, nn.BatchNorm2d) else conv))
    return points


def layer_responses(model: ResNet, x: torch.Tensor) -> dict[str, float]:
    """Std of every 3x3 layer's response, after BN and before the addition or ReLU (He et al. 2015, Figure 7).

    The paper plots these in network order (top) and sorted by magnitude (bottom): ResNets' responses are
    generally smaller than plain nets', and smaller in deeper ResNets. `response_points` says where each is
    read. The std is taken over every element of the response for the batch (images, channels, positions),
    in eval mode; the model is left as it was.

    Args:
        model: a `explorer.nets.builder.ResNet`.
        x: (B, C, H, W) images, e.g. a test batch.
    Returns:
        {3x3 conv dotted name: float std}, in network order.
    """
    points = response_points(model)
    captured: dict = {}
    handles = [module.register_forward_hook(lambda m, args, out, name=name: captured.__setitem__(name, out))
               for name, module in points]
    try:
        with eval_no_grad(model):
            model(x.to(_device_of(model)))
            stds = [captured[name].float().std(unbiased=False) for name, _module in points]
    finally:
        for h in handles:
            h.remove()
    if not stds:
        return {}
    return dict(zip([name for name, _module in points], torch.stack(stds).tolist(), strict=True))


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
        raise ValueError(_("There is no layer named {layer} in this model; pick one from its layer list.").format(
            layer=repr(layer)))
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
        raise ValueError(_("Layer {layer} does not give image-shaped feature maps; pick a conv, BN, ReLU or "
                           "unit.").format(layer=repr(layer)))
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
        raise ValueError(_("This model has no first convolution named conv1 to show."))
    w = conv.weight.detach().float().cpu().clone()  # (out, in, k, k)
    flat = w.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    span = (flat.max(dim=1).values.view(-1, 1, 1, 1) - low)
    return torch.where(span > 0, (w - low) / span.clamp_min(_EPS), torch.zeros_like(w))
