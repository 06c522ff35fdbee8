"""Build: choose a dataset and an architecture; see its size, layer table and block diagram, beside its plain twin."""

import streamlit as st

from explorer import i18n
from explorer.data.config import model_config_for
from explorer.data.registry import DATASETS, dataset_info
from explorer.i18n import N_, _, ngettext
from explorer.nets.config import BLOCKS, FAMILIES, INITS, NORMS, PRESETS, ZERO_INIT_REFUSED, ModelConfig, preset
from explorer.nets.cost import check_model_cost, check_training_memory
from explorer.nets.describe import describe_network, option_label
from explorer.nets.kinds import PLACEMENTS, SHORTCUTS
from explorer.nets.memory import human_bytes
from explorer.nets.summary import block_diagram, layer_table, model_stats
from explorer.urlstate import BUILD_CONTROLS, WIDTHS, depth_options
from pages.common import ensure_entry, train_cfg
from pages.display import diagram, fmt_int, fmt_madds
from pages.lesson_links import is_pinned, lesson_pins, link_note, locked_controls, pinned

ensure_entry("pages/build.py")

HELP = {
    "dataset": N_("What the net learns from. Its image size, channels and classes set the net's input and output "
               "(digits: 1×8×8, built in and offline)."),
    "preset": N_("Start from one of the papers' networks; every field below can still be changed."),
    "family": N_("cifar: a 3×3 stem and three stages of 16/32/64 filters (He et al. 2015, §4.2); imagenet: a 7×7 "
              "stride-2 stem, max-pool and four stages of 64–512 filters (He et al. 2015, Table 1)."),
    "depth": N_("Weighted layers (convs + the final linear layer). CIFAR nets have 6n+2 layers with basic units "
             "(9n+2 with bottlenecks); deeper plain nets train worse — the degradation problem (He et al. 2015)."),
    "block": N_("basic: two 3×3 convs; bottleneck: 1×1 reduce, 3×3, 1×1 expand by 4 — cheaper at depth "
                "(He et al. 2015)."),
    "norm": N_("BatchNorm after (or before) each conv (Ioffe & Szegedy 2015); 'none' shows how much BN matters."),
    "init": N_("kaiming: weight variance 2/fan for ReLU nets (He et al. 2015, 'Delving Deep'); xavier: "
               "2/(fan_in+fan_out) (Glorot & Bengio 2010)."),
    "zero": N_("Start each residual branch at zero, so every unit starts as its shortcut: the last BN's scale where "
               "the branch ends in BN (Goyal et al. 2017), the last conv's weights where it ends in a conv (full "
               "pre-activation). Not offered where a zero branch could not learn (ReLU before, or BN after, the "
               "addition)."),
    "width": N_("Multiplies every stage's filter count (1.0 is the paper's); narrower nets train faster on a "
                "laptop."),
}
_FIELDS = ("family", "depth", "block", "shortcut", "placement", "norm", "init", "zero_init_residual", "width")


def _apply_preset() -> None:
    """Copy the chosen preset into the widgets (runs before the rerun draws them)."""
    name = st.session_state["build_preset"]
    if name == "custom":
        return
    cfg = preset(name)
    for f in _FIELDS:
        st.session_state[f"build_{f}"] = getattr(cfg, f)


def _seed_widgets() -> None:
    cfg = st.session_state["model_cfg"]
    for f in _FIELDS:
        st.session_state.setdefault(f"build_{f}", cfg[f])
    st.session_state.setdefault("build_dataset", st.session_state["dataset"])


def choose() -> dict:
    """The architecture widgets; returns the chosen fields. A lesson link's locked controls are drawn disabled at the
    link's value and its hidden ones are not drawn (pages.lesson_links.pinned)."""
    _seed_widgets()
    ss = st.session_state
    left, right = st.columns(2)
    with left:
        names = [n for n, spec in DATASETS.items() if not spec.needs_path]
        pinned("dataset", "build_dataset", lambda off: st.selectbox(
            _("Dataset"), names, key="build_dataset", help=_(HELP["dataset"]), disabled=off,
            format_func=lambda n: _("{dataset} — {channels}×{size}²").format(
                dataset=n, channels=DATASETS[n].in_channels, size=DATASETS[n].input_size)))
        pinned("preset", "build_preset", lambda off: st.selectbox(
            _("Preset"), ["custom", *PRESETS], key="build_preset", on_change=_apply_preset, help=_(HELP["preset"]),
            format_func=option_label, disabled=off))
        family = pinned("family", "build_family", lambda off: st.radio(
            _("Family"), FAMILIES, key="build_family", horizontal=True, format_func=option_label,
            help=_(HELP["family"]), disabled=off))
        block = pinned("block", "build_block", lambda off: st.radio(
            _("Block"), BLOCKS, key="build_block", horizontal=True, format_func=option_label,
            help=_(HELP["block"]), disabled=off))
        options = list(depth_options(family, block))
        if is_pinned("depth"):  # the link's depth stays, even where another block would not offer it
            options = sorted({*options, lesson_pins()["depth"]})
        elif ss["build_depth"] not in options:
            ss["build_depth"] = min(options, key=lambda d: abs(d - ss["build_depth"]))
        pinned("depth", "build_depth", lambda off: st.selectbox(
            _("Depth"), options, key="build_depth", help=_(HELP["depth"]), disabled=off))
        lo, hi, step = WIDTHS
        ss["build_width"] = min(max(float(ss["build_width"]), lo), hi)
        pinned("width", "build_width", lambda off: st.slider(
            _("Width"), lo, hi, step=step, key="build_width", help=_(HELP["width"]), disabled=off))
    with right:
        architecture_right()
    return {f: ss[f"build_{f}"] for f in _FIELDS}


def architecture_right() -> None:
    """Shortcut, placement, normalisation, initialisation and zero-init (each lockable by a lesson link)."""
    ss, hidden = st.session_state, locked_controls()[1]
    pinned("shortcut", "build_shortcut", lambda off: st.radio(
        _("Shortcut"), list(SHORTCUTS), key="build_shortcut", horizontal=True, disabled=off,
        format_func=option_label, help=" ".join(f"**{option_label(k)}**: {_(v.help)}" for k, v in SHORTCUTS.items())))
    if "shortcut" not in hidden:
        st.caption(_(SHORTCUTS[ss["build_shortcut"]].help))
    pinned("placement", "build_placement", lambda off: st.selectbox(
        _("BN / ReLU placement"), list(PLACEMENTS), key="build_placement", disabled=off, format_func=option_label,
        help=_("Where BatchNorm and ReLU sit in each unit (He et al. 2016; Gross & Wilber 2016).")))
    if "placement" not in hidden:
        st.caption(_(PLACEMENTS[ss["build_placement"]].help))
    pinned("norm", "build_norm", lambda off: st.radio(
        _("Normalisation"), NORMS, key="build_norm", horizontal=True, format_func=option_label,
        help=_(HELP["norm"]), disabled=off))
    pinned("init", "build_init", lambda off: st.radio(
        _("Initialisation"), INITS, key="build_init", horizontal=True, format_func=option_label,
        help=_(HELP["init"]), disabled=off))
    refused = ZERO_INIT_REFUSED.get(ss["build_placement"])
    if refused:  # a zero branch could not learn here: the refusal wins over a link's value
        ss["build_zero_init_residual"] = False
        if "zero_init_residual" not in hidden:
            st.checkbox(_("Start each branch at zero (zero-init)"), key="build_zero_init_residual",
                        help=_(HELP["zero"]), disabled=True)
        st.caption(_(refused))
        return
    pinned("zero_init_residual", "build_zero_init_residual", lambda off: st.checkbox(
        _("Start each branch at zero (zero-init)"), key="build_zero_init_residual", help=_(HELP["zero"]), disabled=off))


@st.cache_data(max_entries=64, show_spinner=False)
def _describe(cfg_dict: dict, lang: str) -> dict:
    """Numbers, table and diagram, all from the net on the meta device (no weights in the server); the description
    in the reader's language (`lang` keys the cache)."""
    cfg = ModelConfig.from_dict(cfg_dict)
    return {"stats": model_stats(cfg), "table": layer_table(cfg, max_depth=3), "dot": block_diagram(cfg),
            "description": describe_network(cfg)}


def show(cfg: ModelConfig) -> None:
    """Size of the net and of its plain twin, the layer table and the block diagram."""
    twin = cfg.plain() if not cfg.is_plain else cfg.residual("A")
    try:
        check_model_cost(cfg)
        check_model_cost(twin)
    except ValueError as exc:
        st.error(str(exc))
        return
    mine, other = _describe(cfg.to_dict(), i18n.current()), _describe(twin.to_dict(), i18n.current())
    units = sum(cfg.blocks_per_stage)
    st.header(ngettext("{name}: {layers} layers, {units} unit", "{name}: {layers} layers, {units} units", units)
              .format(name=cfg.name, layers=i18n.count(cfg.num_layers), units=i18n.count(units)))
    cols = st.columns(4)
    cols[0].metric(_("Parameters ({name})").format(name=cfg.name), fmt_int(mine["stats"]["params"]))
    cols[1].metric(_("Mult-adds ({name})").format(name=cfg.name), fmt_madds(mine["stats"]["mult_adds"]))
    delta = mine["stats"]["params"] - other["stats"]["params"]
    change = ("+" if delta < 0 else "-") + i18n.count(abs(delta))  # f"{-delta:+,}" the reader's way
    cols[2].metric(_("Parameters ({name})").format(name=twin.name), fmt_int(other["stats"]["params"]),
                   delta=_("{change} vs {name}").format(change=change, name=cfg.name) if delta else None,
                   delta_color="off")
    cols[3].metric(_("Mult-adds ({name})").format(name=twin.name), fmt_madds(other["stats"]["mult_adds"]))
    show_training_memory(cfg, twin)
    if cfg.shortcut == "A" or twin.shortcut == "A":
        st.caption(_("With zero-padding shortcuts (option A) a ResNet and its plain twin have exactly the same "
                     "parameters: the shortcut is free (He et al. 2015)."))
    pictured, table = st.tabs([_("Block diagram"), _("Layer table")])
    with pictured:
        diagram(st, mine["dot"], mine["description"], width="content")
    with table:
        rows = [{_("layer"): r["name"], _("type"): r["type"], _("output"): "×".join(map(str, r["output_shape"][1:])),
                 _("params"): r["params"], _("mult-adds"): r["mult_adds"]} for r in mine["table"]["rows"]]
        st.dataframe(rows, width="stretch", hide_index=True, key="build_layer_table")


def show_training_memory(cfg: ModelConfig, twin: ModelConfig) -> None:
    """The memory one training step of the twins needs (explorer.nets.cost), or why a job would be refused."""
    try:
        batch = train_cfg().batch_size
        need = check_training_memory((cfg, twin), batch)
    except ValueError as exc:
        st.error(str(exc))
        return
    st.metric(_("Training memory (both, batch {batch})").format(batch=i18n.count(batch)), human_bytes(need),
              help=_("Activations kept for the backward pass, the gradient in flight, the weights' gradients and "
                     "momentum, counted on the meta device before anything is built."))


st.title(_("Build a network"))
link_note(BUILD_CONTROLS)
fields = choose()
st.session_state["dataset"] = st.session_state["build_dataset"]
try:
    chosen = ModelConfig(**{**ModelConfig().to_dict(), **fields})
    cfg = model_config_for(chosen, dataset_info(st.session_state["dataset"]))
except ValueError as exc:
    st.error(str(exc))
    st.stop()
st.session_state["model_cfg"] = chosen.to_dict()
if st.button(_("Train this ▶"), key="build_train", type="primary",
             help=_("Open the Train page with this architecture and dataset.")):
    st.switch_page("pages/train.py")
show(cfg)
