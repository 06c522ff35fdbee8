"""What a config builds, as numbers and pictures: torchinfo's layer table and a block diagram (DOT).

Everything here builds the net on the meta device (shapes, no memory): describing a ResNet-152 costs the
server no weights. Callers check a config with explorer.nets.cost.check_model_cost first.

Size budget: ~200 lines.
"""
from __future__ import annotations

from torch import nn
from torchinfo import summary as torchinfo_summary

from ..i18n import N_, _, ngettext
from .blocks import ResidualUnit
from .builder import ResNet, count_parameters, meta_model
from .config import ModelConfig
from .kinds import SHORTCUTS


def layer_table(cfg: ModelConfig, max_depth: int = 3) -> dict:
    """torchinfo's summary as plain rows, with totals.

    Args:
        cfg: the network to describe, at batch size 1 and its own input shape.
        max_depth: deepest module level to list (1: stages, 2: units, 3: layers in units).
    Returns:
        {"rows": [{"name", "type", "depth", "output_shape", "params", "mult_adds"}],
         "total_params", "trainable_params", "total_mult_adds"}; params include sub-modules.
    """
    model = meta_model(cfg)
    names = {id(m): n for n, m in model.named_modules()}
    stats = torchinfo_summary(model, input_size=(1, cfg.in_channels, cfg.input_size, cfg.input_size),
                              depth=max(max_depth, 1), verbose=0, device="meta")
    macs: dict[str, int] = {}  # dotted module name -> mult-adds of it and everything under it
    for info in stats.summary_list:
        if info.is_leaf_layer:
            parts = names[id(info.module)].split(".")
            for k in range(1, len(parts) + 1):
                prefix = ".".join(parts[:k])
                macs[prefix] = macs.get(prefix, 0) + info.macs
    rows = []
    for info in stats.summary_list:
        if info.depth == 0 or info.depth > max_depth:
            continue
        module = info.module
        rows.append({
            "name": names.get(id(module), info.var_name),
            "type": info.class_name,
            "depth": info.depth,
            "output_shape": list(info.output_size),
            "params": sum(p.numel() for p in module.parameters()),
            "mult_adds": macs.get(names.get(id(module), ""), info.macs),
        })
    return {"rows": rows, "total_params": stats.total_params, "trainable_params": stats.trainable_params,
            "total_mult_adds": stats.total_mult_adds}


def model_stats(cfg: ModelConfig) -> dict:
    """Parameter count and mult-adds of one forward pass on one image."""
    model = meta_model(cfg)
    stats = torchinfo_summary(model, input_size=(1, cfg.in_channels, cfg.input_size, cfg.input_size),
                              depth=1, verbose=0, device="meta")
    return {"params": count_parameters(model), "mult_adds": int(stats.total_mult_adds),
            "layers": cfg.num_layers, "units": sum(cfg.blocks_per_stage)}


# ----------------------------------------------------------------------------- block diagram
def _conv_text(conv: nn.Conv2d) -> str:
    k = conv.kernel_size[0]
    stride = f"/{conv.stride[0]}" if conv.stride[0] > 1 else ""
    return f"{k}×{k} conv, {conv.out_channels}{stride}"


def _branch_text(unit: ResidualUnit) -> str:
    parts = []
    for name in unit._branch_names:
        m = getattr(unit, name)
        if isinstance(m, nn.Conv2d):
            parts.append(_conv_text(m))
        elif isinstance(m, nn.BatchNorm2d):
            parts.append("BN")
        elif isinstance(m, nn.ReLU):
            parts.append("ReLU")
    return "\\n".join(parts)


def _after_text(unit: ResidualUnit) -> str:
    ops = ["BN" if isinstance(getattr(unit, n), nn.BatchNorm2d) else "ReLU"
           for n in unit._after_names if not isinstance(getattr(unit, n), nn.Identity)]
    return " → ".join(ops)


# What the diagram writes on a shortcut's arrow, by its label (the labels stay: the style compares them).
_ARROW_TEXT = {"identity": N_("identity"), "zero-pad": N_("zero-pad"), "projection": N_("projection")}


def _dot_text(text: str) -> str:
    """A translated text made safe inside a DOT label's double quotes."""
    return text.replace("\\", "").replace('"', "'")


def _shortcut_label(unit: ResidualUnit) -> str:
    sc = unit.shortcut
    if isinstance(sc, nn.Identity):
        return "identity"
    return SHORTCUTS[unit.shortcut_kind].label


def _shown_units(model: ResNet, max_per_stage: int) -> list:
    """(stage name, unit index, unit or None for an ellipsis with a count)."""
    max_per_stage = max(max_per_stage, 2)  # an elided stage needs room for its "… k more" and its last unit
    shown = []
    for stage in model.stages:
        units = list(getattr(model, stage))
        if len(units) <= max_per_stage:
            shown += [(stage, i, u) for i, u in enumerate(units)]
        else:
            hidden = len(units) - (max_per_stage - 1)
            shown += [(stage, i, units[i]) for i in range(max_per_stage - 2)]
            shown.append((stage, hidden, None))
            shown.append((stage, len(units) - 1, units[-1]))
    return shown


def block_diagram(cfg: ModelConfig, max_per_stage: int = 4) -> str:
    """A Graphviz DOT diagram, unit by unit, with shortcut arrows labelled identity / zero-pad / projection.

    Stages longer than max_per_stage show their first units, "… k more units", and the last unit.
    """
    model = meta_model(cfg)
    c, s = cfg.in_channels, cfg.input_size
    lines = ["digraph resnet {", '  rankdir=TB; nodesep=0.25; ranksep=0.22;',
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];',
             f'  input [label="{_dot_text(_("input {channels}×{size}×{size}").format(channels=c, size=s))}", '
             'fillcolor="#ffffff"];']
    stem = _conv_text(model.conv1) + ("" if isinstance(model.bn1, nn.Identity) else "\\nBN\\nReLU")
    if cfg.family == "imagenet":
        stem += "\\n3×3 max-pool/2"
    lines.append(f'  stem [label="{stem}"];')
    lines.append("  input -> stem;")
    prev = "stem"
    for k, (stage, idx, unit) in enumerate(_shown_units(model, max_per_stage)):
        node = f"u{k}"
        if unit is None:
            more = ngettext("… {n} more unit …", "… {n} more units …", idx).format(n=idx)
            lines.append(f'  {node} [label="{_dot_text(more)}", shape=plaintext, style=""];')
            lines.append(f"  {prev} -> {node} [style=dotted];")
            prev = node
            continue
        label = f"{stage}.{idx}\\n{_branch_text(unit)}"
        lines.append(f'  {node} [label="{label}"];')
        lines.append(f"  {prev} -> {node};")
        after = _after_text(unit)
        if unit.shortcut is None:
            if after:
                lines.append(f'  {node}_out [label="{after}", fillcolor="#f6f6f6"];')
                lines.append(f"  {node} -> {node}_out;")
                node = f"{node}_out"
        else:
            add = "+" + (f"\\n{after}" if after else "")
            lines.append(f'  {node}_add [label="{add}", shape=circle, fillcolor="#fde9c8", width=0.3];')
            lines.append(f"  {node} -> {node}_add;")
            kind = _shortcut_label(unit)
            style = "dashed" if kind == "identity" else "bold"
            arrow = _dot_text(_(_ARROW_TEXT[kind]) if kind in _ARROW_TEXT else kind)
            lines.append(f'  {prev} -> {node}_add [label="{arrow}", style={style}, color="#c0392b", '
                         f'fontcolor="#c0392b"];')
            node = f"{node}_add"
        prev = node
    ends = (("BN", model.bn_final), ("ReLU", model.relu_final))
    final = [label for label, m in ends if not isinstance(m, nn.Identity)]
    pool = _dot_text(_("global avg pool"))
    tail = "".join(f"{op} → " for op in final[:-1]) + (f"{final[-1]}\\n" if final else "") + pool
    lines.append(f'  pool [label="{tail}"];')
    classes = ngettext("linear, {n} class", "linear, {n} classes", cfg.num_classes).format(n=cfg.num_classes)
    lines.append(f'  fc [label="{_dot_text(classes)}", fillcolor="#ffffff"];')
    lines.append(f"  {prev} -> pool -> fc;")
    lines.append("}")
    return "\n".join(lines)
