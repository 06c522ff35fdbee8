"""Train: set up an experiment (twin, depth sweep, placement comparison), start it as a job, watch it live."""
import time

import streamlit as st

from explorer import i18n
from explorer.access.policy import Action
from explorer.classroom.pause import HELD_SENTENCE
from explorer.data.config import DataConfig
from explorer.data.datasets import dataset_info
from explorer.data.registry import DATASETS
from explorer.figures.classroom import tally_chart
from explorer.figures.clicks import clicked_point, epoch_table
from explorer.figures.curves import gradient_profile, loss_curve, run_series, training_curves
from explorer.figures.images import sample_strip
from explorer.figures.papers import degradation_note, reference_tables
from explorer.i18n import N_, _, count, pct
from explorer.jobs.status import job_status
from explorer.nets.config import CIFAR_DEPTHS
from explorer.nets.describe import option_label
from explorer.nets.kinds import PLACEMENTS, SHORTCUTS
from explorer.store.records import ACTIVE
from explorer.store.runstore import Filter
from explorer.text import plain_text
from explorer.training import experiments
from explorer.training.recipes import SCHEDULES
from explorer.urlstate import BATCH_SIZES, EPOCHS, LR, TRAIN_CONTROLS
from pages.a11y import skip_link, skip_target
from pages.class_panel import class_caption, predict_first
from pages.common import (
    classroom,
    ensure_entry,
    job_manager,
    may,
    model_cfg,
    my_class,
    results_gating,
    store,
    train_cfg,
)
from pages.display import dataset_name, plot
from pages.follow import class_paused, pause_note
from pages.job_actions import act, act_and_rerun, show_job_status, start_experiment
from pages.lesson_links import control, link_note
from pages.live import live_caption, live_fragment, stop_watching

ensure_entry("pages/train.py")

KIND_LABELS = {"twin": N_("Twin"), "sweep": N_("Sweep"), "compare": N_("Compare")}
KIND_WORDS = {"twin": N_("twin"), "sweep": N_("sweep"), "compare": N_("compare")}
KIND_HELP = {
    "twin": N_("Your net and its plain twin: the same layers, the same starting weights, with and without shortcuts "
            "(with zero-init, the ResNet's branches start at zero and the plain twin's layers do not)."),
    "sweep": N_("Plain and residual nets at several depths, as in Figure 6 of He et al. 2015."),
    "compare": N_("Several BN/ReLU placements or shortcut types at one depth (He et al. 2016, Table 2; Gross & "
                  "Wilber 2016)."),
}
CURVES_HELP = N_("This app's view: training error left, test error right; plain nets dashed, ResNets solid, one colour "
               "per depth. The paper's Figure 6 (He et al. 2015) is laid out differently: plain nets and ResNets in "
               "separate panels, dashed for training error and bold for test error; the toggle shows that layout.")


# What the recipe's pickers show for their values (the values stay as they are: the code and the links use them).
SCHEDULE_LABELS = {"constant": N_("constant"), "step": N_("step"), "cosine": N_("cosine"), "onecycle": N_("onecycle")}
DEVICE_LABELS = {"auto": N_("auto"), "cpu": N_("cpu"), "cuda": N_("cuda"), "mps": N_("mps")}
# The controls a shared link may lock or hide, by the names the link uses.
CONTROL_LABELS = {"kind": N_("kind"), "dataset": N_("dataset"), "epochs": N_("epochs"), "batch_size": N_("batch_size"),
                  "lr": N_("lr"), "schedule": N_("schedule"), "device": N_("device"), "preset": N_("preset"),
                  "family": N_("family"), "block": N_("block"), "depth": N_("depth"), "width": N_("width"),
                  "shortcut": N_("shortcut"), "placement": N_("placement"), "norm": N_("norm"), "init": N_("init"),
                  "zero_init_residual": N_("zero_init_residual")}


def _control_label(name: str) -> str:
    return _(CONTROL_LABELS[name]) if name in CONTROL_LABELS else name


def _kind_label(kind: str) -> str:
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind.capitalize()


# ----------------------------------------------------------------------------- setup
@st.cache_data(show_spinner=False, max_entries=8)
def _samples(dataset: str) -> tuple:
    """One training image per class, for the strip under the dataset choice."""
    from explorer.data.datasets import load_dataset, normalize
    from explorer.data.images import tensor_to_display
    ds = load_dataset(DataConfig(name=dataset, train_subset=200, test_subset=10))
    images, labels = [], []
    for c, name in enumerate(ds.preprocessing.classes):
        idx = (ds.y_train == c).nonzero()
        if len(idx):
            x = normalize(ds.x_train[idx[0, 0]][None], ds.preprocessing)
            images.append(tensor_to_display(x, ds.preprocessing))
            labels.append(name)
    return images, labels


@st.cache_resource(show_spinner=False, max_entries=8)
def _sample_figure(dataset: str, lang: str):
    """The strip as a figure object, built once per dataset and language (most of this page's own run time when
    rebuilt; its words are in the reader's language)."""
    return sample_strip(*_samples(dataset))


def _sample_strip(dataset: str) -> None:
    if not dataset_info(dataset).offline:
        st.caption(_("{dataset} needs a download the first time it is used.").format(dataset=dataset_name(dataset)))
        return
    try:
        figure = _sample_figure(dataset, i18n.current())
    except Exception as exc:  # noqa: BLE001 - a missing dataset must not break the page
        st.caption(_("No samples to show: {error}").format(error=exc))
        return
    plot(st, figure, key="train_samples", config={"displayModeBar": False})


def setup_form() -> None:
    """Kind, data and recipe; the architecture comes from the Build page."""
    ss = st.session_state
    ss.setdefault("train_kind", ss.get("kind", "twin"))
    ss.setdefault("train_dataset", ss["dataset"])
    kind = control("kind", lambda off: st.radio(
        _("Experiment"), list(KIND_HELP), key="train_kind", horizontal=True, disabled=off, format_func=_kind_label,
        help=" ".join(f"**{_(KIND_WORDS[k])}**: {_(v)}" for k, v in KIND_HELP.items())))
    st.caption(_(KIND_HELP[kind]))
    ss["kind"] = kind
    names = [n for n, spec in DATASETS.items() if not spec.needs_path]
    ss["dataset"] = control("dataset", lambda off: st.selectbox(
        _("Dataset"), names, key="train_dataset", disabled=off, format_func=dataset_name,
        help=_("Digits is built in and offline; the others need their files (Fashion-MNIST ships with Debian's "
               "dataset-fashion-mnist package).")))
    _sample_strip(ss["dataset"])
    try:
        base = model_cfg()
    except ValueError as exc:
        st.error(_("The architecture from the Build page does not fit this dataset: {error}").format(error=exc))
        return
    st.markdown(_("**Architecture** (from the Build page): `{name}`, shortcut {shortcut}, {placement} placement, "
                  "{norm} norm, {init} init.").format(name=base.name, shortcut=base.shortcut,
                                                      placement=option_label(base.placement),
                                                      norm=option_label(base.norm), init=option_label(base.init)))
    if kind == "sweep":
        st.multiselect(_("Depths"), list(CIFAR_DEPTHS["basic"]), default=list(experiments.FIGURE6_DEPTHS),
                       key="train_depths", help=_("Each depth trains a plain net and a ResNet (6n+2 layers)."))
        note = experiments.fit_for_sweep(base)[1]
        if note:
            st.info(note)
    elif kind == "compare":
        st.multiselect(_("Placements"), list(PLACEMENTS), default=["original", "full_preact"], key="train_placements",
                       help=_("Where BN and ReLU sit in each unit."))
        st.multiselect(_("Shortcuts"), list(SHORTCUTS), default=[base.residual().shortcut], key="train_shortcuts",
                       help=_("'none' adds the plain net to the comparison."))
        note = experiments.compare_init_note(base, st.session_state.get("train_placements", ()),
                                             st.session_state.get("train_shortcuts", ()))
        if note:
            st.info(note)
    recipe_widgets()


def share_setup() -> None:
    """A link that presets this experiment and can lock or hide chosen controls (TensorFlow Playground's links)."""
    import urllib.parse

    from explorer import urlstate
    with st.expander(_("Share this setup"), expanded=False):
        c = st.columns(2)
        lock = c[0].multiselect(_("Lock (shown, not changeable)"), urlstate.CONTROLS, key="train_share_lock",
                                format_func=_control_label)
        hide = c[1].multiselect(_("Hide"), urlstate.CONTROLS, key="train_share_hide", format_func=_control_label)
        query = {**st.query_params.to_dict(), **urlstate.controls_to_query(lock, hide)}
        for key in ("lock", "hide"):
            if key not in urlstate.controls_to_query(lock, hide):
                query.pop(key, None)
        base = (st.context.url or "").split("?")[0] if getattr(st.context, "url", None) else "/train"
        st.code(f"{base}?{urllib.parse.urlencode(query)}", language=None)
        st.caption(_("The link sets up the experiment; it gives no rights (stopping jobs stays with their owners)."))


def recipe_widgets() -> None:
    """Epochs, batch size, learning rate, schedule, device; stored as overrides of the dataset's recipe."""
    defaults = train_cfg()
    c = st.columns(5)
    # Values are kept inside the widgets' ranges (explorer.urlstate), so no setup can break the page; a lesson
    # link may lock (disable) or hide a control (control()).
    epochs = control("epochs", lambda off: c[0].number_input(
        _("Epochs"), *EPOCHS, value=min(max(int(defaults.epochs), EPOCHS[0]), EPOCHS[1]), key="train_epochs",
        disabled=off))
    batch = control("batch_size", lambda off: c[1].selectbox(
        _("Batch size"), BATCH_SIZES,
        index=BATCH_SIZES.index(defaults.batch_size) if defaults.batch_size in BATCH_SIZES else 3,
        key="train_batch", disabled=off))
    lr = control("lr", lambda off: c[2].number_input(
        _("Learning rate"), *LR, value=min(max(float(defaults.lr), LR[0]), LR[1]), format="%.4f", key="train_lr",
        disabled=off))
    schedule = control("schedule", lambda off: c[3].selectbox(
        _("Schedule"), SCHEDULES, index=SCHEDULES.index(defaults.schedule), key="train_schedule", disabled=off,
        format_func=lambda v: _(SCHEDULE_LABELS.get(v, v)),
        help=_("step: ÷10 at {half} and {three_quarters} of training, as in the paper; cosine; one-cycle; "
               "constant.").format(half=pct(50, 0), three_quarters=pct(75, 0))))
    devices = ["auto", "cpu"] + (["cuda"] if _cuda() else [])
    device = control("device", lambda off: c[4].selectbox(
        _("Device"), devices, key="train_device", disabled=off, format_func=lambda v: _(DEVICE_LABELS.get(v, v)),
        help=_("auto uses a GPU when there is one.")))
    st.session_state["train"] = {"epochs": int(epochs), "batch_size": int(batch), "lr": float(lr),
                                 "schedule": schedule, "device": device}


@st.cache_resource
def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def build_spec():
    """The experiment the widgets describe (ValueError with one sentence when impossible)."""
    ss = st.session_state
    return experiments.for_kind(ss["kind"], model_cfg(), DataConfig(name=ss["dataset"]), train_cfg(),
                                depths=ss.get("train_depths") or (), placements=ss.get("train_placements") or (),
                                shortcuts=ss.get("train_shortcuts") or ())


# ----------------------------------------------------------------------------- live view
def _runs_for_charts(exp) -> list:
    s = store()
    return [run_series(run, s.read_metrics(exp.id, run.id)) for run in exp.runs]


def _data_version(exp) -> tuple:
    """The newest metric record of each run: the charts change only when this does."""
    return store().metrics_version(exp.id)


# Figures are cached as objects (st.cache_resource: no copy on a hit) and rebuilt only when the metrics
# files grew, at most once a second while a job runs. Building plotly figures is most of what watching a job
# costs the server (docs/benchmarks.md).
@st.cache_resource(max_entries=64, show_spinner=False)
def _epoch_figures(exp_id: str, version: tuple, layout: str, lang: str, _exp) -> tuple:
    runs = _runs_for_charts(_exp)
    return training_curves(runs, layout=layout), gradient_profile(runs), any(r.records for r in runs)


@st.cache_resource(max_entries=64, show_spinner=False)
def _loss_figure(exp_id: str, version: tuple, lang: str, _exp):
    return loss_curve(_runs_for_charts(_exp))


def _remember_epoch() -> None:
    """on_select callback: keep the clicked point of the training curves under a plain session key."""
    st.session_state["train_clicked_epoch"] = clicked_point(st.session_state.get("train_curves"))


def epoch_numbers(exp) -> None:
    """Each run's numbers at the epoch last clicked on the training curves (click-through, issue 15)."""
    point = st.session_state.get("train_clicked_epoch")
    rows = epoch_table(_runs_for_charts(exp), point["x"]) if point else []
    if rows:
        st.markdown(_("**Epoch {epoch}** (clicked on the chart):").format(epoch=point["x"]))
        st.dataframe(rows, hide_index=True, key="train_epoch_table")
    else:
        st.caption(_("Click a point of the curves to see that epoch's numbers for every net."))


def status_line(exp) -> None:
    if exp.status == "queued" and class_paused():  # the job manager holds it (explorer.classroom.pause)
        st.info(_(HELD_SENTENCE))
        return
    position = job_manager().queued_wait(exp.id) if exp.status == "queued" else None
    show_job_status(job_status(exp, position, left=job_manager().time_left(exp)))
    for run in exp.runs:
        if run.status == "diverged":
            st.warning(plain_text(_("{run} diverged: {reason}").format(
                run=run.name, reason=run.message or _("its loss became NaN."))))


def _throttled_version(exp) -> tuple:
    """The data version the charts show: it moves when the metrics grew, at most once a second while live."""
    new = (exp.status, tuple(r.status for r in exp.runs), *_data_version(exp))
    shown = st.session_state.setdefault("_train_chart_version", {})
    old, when = shown.get(exp.id, (None, 0.0))
    if old is not None and new != old and exp.status in ACTIVE and time.monotonic() - when < 1.0:
        return old
    if new != old:
        shown[exp.id] = (new, time.monotonic())
    return new


def charts_panel(exp) -> None:
    version = _throttled_version(exp)
    figure6 = st.toggle(_("Figure 6 layout"), key="train_figure6", help=_(CURVES_HELP))
    curves, grads, has_data = _epoch_figures(exp.id, version, "figure6" if figure6 else "splits", i18n.current(), exp)
    if not has_data:
        st.caption(_("The first numbers appear after the first few steps."))
        return
    loss = _loss_figure(exp.id, version, i18n.current(), exp)
    plot(st, curves, key="train_curves", live=exp.status in ACTIVE, listen=True, on_select=_remember_epoch,
         selection_mode="points")
    st.caption(_(CURVES_HELP))
    epoch_numbers(exp)
    scale = degradation_note({r.name: r.final.train_error if r.final else None for r in exp.runs}, exp.dataset) \
        if exp.spec_kind == "sweep" and exp.status == "completed" else None
    if scale:
        st.caption(scale)
    left, right = st.columns(2)
    plot(left, loss, key="train_loss", live=exp.status in ACTIVE, listen=True)
    plot(right, grads, key="train_grads", live=exp.status in ACTIVE)
    if any(r.zero_init_residual for r in exp.runs):
        right.caption(_("The ResNets here start with zeroed branches (Goyal et al. 2017): before the first step no "
                        "gradient reaches the convs behind each branch's zeroed layer, so their epoch-0 profile is "
                        "mostly empty by design."))
    speeds = [r.images_per_second for r in exp.runs if r.images_per_second]
    if speeds:
        st.caption(_("Training speed: {speed} images/s per net ({device} device).").format(
            speed=count(speeds[0]), device=exp.device))


def stop_button(exp) -> None:
    if exp.status in ACTIVE and may(Action.STOP, exp.owner) \
            and st.button(_("Stop"), key="train_stop",
                          help=_("Ends the job at its next batch; what it reached is kept.")) \
            and act(Action.STOP, exp.id):
        st.toast(_("Stopping…"))


def resume_button(exp) -> None:
    """Resume for an interrupted job (its owner or the teacher): it goes on from its last completed epoch."""
    if exp.status != "interrupted" or not may(Action.RESUME, exp.owner):
        return
    help_text = _("Goes on from the last completed epoch.") if exp.resumable else \
        _("No epoch was completed before the interruption, so it starts again from the beginning.")
    if st.button(_("Resume"), key="train_resume", help=help_text, disabled=class_paused()):
        act_and_rerun(Action.RESUME, exp.id)


def observed(exp) -> None:
    """The charts, unless an open class question on this kind of experiment still hides them from this session
    (predict, then observe: explorer.classroom.gating); once revealed, the class's tally stands beside the curves."""
    from explorer.classroom import questions
    gate = results_gating().gate(exp.spec_kind, exp.owner)
    if gate is not None:
        predict_first(gate, "train")
        return
    mine = my_class()
    if mine is None:
        charts_panel(exp)
        return
    room, owner = classroom(), st.session_state["owner"]
    latest = questions.latest_question(room, mine[0].id, exp.spec_kind)
    if latest is not None and latest.revealed is not None:
        t = questions.tally(room, latest)
        left, right = st.columns([1, 2])
        left.markdown(f"**{plain_text(latest.prompt)}**")
        yours = questions.my_answer(room, latest.id, owner)
        left.caption(_("Your prediction: {answer}.").format(answer=plain_text(yours)) if yours
                     else _("You did not answer this one."))
        if t.answered:
            plot(right, tally_chart(t.counts, _("The class's predictions ({answered} of {members} answered)").format(
                answered=count(t.answered), members=count(t.members))),
                 key="train_tally")
        else:
            right.caption(_("Nobody in the class answered this question: no answers yet."))
    elif latest is not None:
        yours = plain_text(questions.my_answer(room, latest.id, owner) or "–")
        st.caption(_("Your prediction is in: {answer}. The class's answers appear here when the teacher reveals "
                     "them.").format(answer=yours))
    charts_panel(exp)


def live(exp_id: str) -> None:
    """Redrawn while the job is queued or running, from the run store: once a second while few sessions watch
    this server, less often as more do (pages.live)."""
    exp = store().load_experiment(exp_id)
    if exp is None:
        st.warning(_("This experiment is gone (deleted?)."))
        return
    status_line(exp)
    stop_button(exp)
    observed(exp)
    if exp.status not in ACTIVE:
        stop_watching()
        time.sleep(0.1)
        st.rerun()  # the whole page redraws once, now without the timer


def finished_in_class(exp_id: str) -> None:
    """A finished job inside a class: polled, so the curves appear when the teacher reveals the question."""
    exp = store().load_experiment(exp_id)
    if exp is not None:
        observed(exp)


def watched(exp_id: str) -> None:
    exp = store().load_experiment(exp_id)
    if exp is None:
        st.session_state.pop("watch", None)
        return
    names = ", ".join(r.name for r in exp.runs)
    st.header(_("{kind} on {dataset}: {runs}").format(  # h2 under the title
        kind=_kind_label(exp.spec_kind), dataset=dataset_name(exp.dataset), runs=plain_text(names)))
    if st.session_state.pop("attached", False):
        st.info(_("The same experiment was already asked for, so you are watching that one (no second copy runs)."))
    if exp.status in ACTIVE:
        live_fragment(live)(exp_id)
        live_caption(live)
    else:
        status_line(exp)
        resume_button(exp)
        if my_class() is None and results_gating().gate(exp.spec_kind, exp.owner) is None:
            stop_watching()
            charts_panel(exp)
        else:
            live_fragment(finished_in_class, 2.0)(exp_id)


def reference_numbers() -> None:
    ref = reference_tables()
    with st.expander(_("The papers' numbers (CIFAR-10, not your dataset)"), expanded=False):
        st.caption(ref["label"])
        st.markdown(_("**ResNets on CIFAR-10** (He et al. 2015, Table 6): test error"))
        st.dataframe(ref["table6"], hide_index=True, key="train_ref_table6")
        st.markdown(_("**Plain nets on CIFAR-10**: the paper only plots them (Figure 6); test error {unit} from two "
                      "public reproductions, each by name").format(unit="%"))  # "% f" would read as a %-format
        st.dataframe(ref["plain"], hide_index=True, key="train_ref_plain")
        st.markdown(_("**BN/ReLU placements** (He et al. 2016, Table 2): test error %"))
        st.dataframe(ref["table2"], hide_index=True, key="train_ref_table2")


def _default_watch() -> None:
    """After a reload, follow this owner's newest experiment (its job went on while the tab was closed)."""
    if "watch" in st.session_state:
        return
    mine = store().page(Filter(kind="train", owner=st.session_state["owner"]), limit=1, with_runs=False).items
    if mine:
        st.session_state["watch"] = mine[0].id


st.title(_("Train"))
if "watch" not in st.session_state:  # the setup is open: its button is the page's main action (issue 23)
    skip_link(_("Start training"), "train_start")
class_caption()
link_note(TRAIN_CONTROLS)
_default_watch()
paused = pause_note()  # above the setup, which may be folded away while a job is watched
with st.expander(_("Set up an experiment"), expanded="watch" not in st.session_state):
    setup_form()
    skip_target("train_start")
    if st.button(_("Start training"), key="train_start", type="primary", disabled=paused):
        try:
            spec = build_spec()
        except ValueError as exc:
            st.error(str(exc))
        else:
            if start_experiment(spec):
                st.rerun()
share_setup()
if "watch" in st.session_state:
    watched(st.session_state["watch"])
else:
    st.info(_("Start an experiment above, or press **Reproduce Figure 6** on the Home page."))
reference_numbers()
