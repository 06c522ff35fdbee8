"""Why shortcuts work: the explanations that followed the 2015 paper, shown on the user's own plain/residual pair.

Views: the gradient highway (He et al. 2016, Eq. 4-5), ensembles of paths (Veit et al. 2016), the optimiser's path
on the loss landscape (Li et al. 2018, §7; a job of kind `landscape`), and the experiment as a self-contained
PyTorch script to take home. The page reads
widgets, calls explorer and draws explorer.figures; heavy results are cached per run and weights file.
"""
import streamlit as st

from explorer import i18n
from explorer.analysis.ablation import delete_random_units, deletion_summary, path_lengths
from explorer.analysis.highway import gradient_split, highway_summary
from explorer.data.datasets import normalize
from explorer.figures.why import deletion_chart, highway_chart, path_landscape_chart, path_length_chart
from explorer.i18n import N_, _, ngettext
from explorer.jobs.landscape import landscape_spec, read_landscapes
from explorer.nets.config import ModelConfig
from explorer.store.checkpoints import load_run_dataset, load_run_model
from explorer.store.snapshots import snapshot_keys
from explorer.text import plain_text
from explorer.training.experiments import ExperimentSpec
from explorer.training.export import export_script
from pages.class_panel import predict_first
from pages.common import ensure_entry, results_gating, store
from pages.display import choose_nets, guard_view, plot
from pages.job_actions import landscape_job

ensure_entry("pages/why.py")

TABS = [N_("Gradient highway"), N_("Ensembles of paths"), N_("Optimiser's path"), N_("Take it home")]
HIGHWAY_BATCH = 128  # training images in the batch whose gradient is split
DELETION_IMAGES = 1000  # test images per net with units deleted
DELETION_DRAWS = 6  # random sets of units per number deleted
SUMMARY_CHARS = 2000  # a sentence the app wrote about named nets, shown whole


# ----------------------------------------------------------------------------- cached work (per run)

@st.cache_resource(max_entries=4, show_spinner=False)
def _dataset(exp_id: str):
    return load_run_dataset(store(), exp_id)


def _mtime(exp_id: str, run_id: str, which: str = "final") -> float:
    path = store().weights_path(exp_id, run_id, which)
    return path.stat().st_mtime if path.is_file() else 0.0


@st.cache_data(max_entries=32, show_spinner=False)
def _highway(exp_id: str, run_id: str, which: str, mtime: float) -> list:
    net = load_run_model(store(), exp_id, run_id, which)
    ds = _dataset(exp_id)
    x = normalize(ds.x_train[:HIGHWAY_BATCH], net.preprocessing)
    return gradient_split(net.model, x, ds.y_train[:HIGHWAY_BATCH])


@st.cache_data(max_entries=32, show_spinner=False)
def _deletions(exp_id: str, run_id: str, mtime: float) -> list:
    net = load_run_model(store(), exp_id, run_id, "final")
    ds = _dataset(exp_id)
    x = normalize(ds.x_test[:DELETION_IMAGES], net.preprocessing)
    return delete_random_units(net.model, x, ds.y_test[:DELETION_IMAGES], draws=DELETION_DRAWS)


# ----------------------------------------------------------------------------- the views
def highway_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** with an identity shortcut a unit computes z = F(x) + x, so the gradient "
                  "at its input is ∂L/∂x = ∂L/∂z · (1 + ∂F/∂x) (He et al. 2016, Eq. 4–5). The “1” is the identity "
                  "shortcut's part: it carries ∂L/∂z back across the addition unchanged. A downsampling shortcut "
                  "(option A's subsample and zero channels, or a B/C projection) is not that “1”, and is marked on "
                  "its own. On one batch of {images} training images, each unit's input gradient is split into the "
                  "part that came through the shortcut (solid) and the part that came through the residual branch "
                  "(dotted); a plain unit has only the branch (dashed). In the original unit a ReLU follows the "
                  "addition, so from one unit to the next the gradient also passes that ReLU: only a clean identity "
                  "path (pre-activation, He et al. 2016) carries it unchanged from unit to unit.")
                .format(images=i18n.count(HIGHWAY_BATCH)))
    splits = {}
    with st.spinner(_("Loading the dataset…")):
        _dataset(exp.id)
    with st.spinner(_("Splitting the gradient at every unit…")):
        for which, title in (("init", _("at initialisation")), ("final", _("after training"))):
            have = {n: ids for n, ids in nets.items() if store().weights_path(*ids, which).is_file()}
            if have:
                splits[which, title] = {n: _highway(eid, rid, which, _mtime(eid, rid, which))
                                        for n, (eid, rid) in have.items()}
    if not any(which == "init" for which, _title in splits):
        st.caption(_("These runs kept no initial weights, so only the trained nets are shown."))
    plot(st, highway_chart({title: rows for (_which, title), rows in splits.items()}), "why_highway")
    for (which, _title), rows in splits.items():
        # It names the nets (so plain text), and runs longer than a name: a Spanish summary passes 400 characters
        summary = plain_text(highway_summary(rows), limit=SUMMARY_CHARS)
        st.markdown(_("**At initialisation:** {summary}").format(summary=summary) if which == "init" else
                    _("**After training:** {summary}").format(summary=summary))


def ensembles_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** each residual unit can be passed through its branch or skipped along its "
                  "shortcut, so n units offer 2ⁿ paths of different lengths, most of them of middling length "
                  "(left; Veit, Wilber & Belongie 2016, Fig. 6a). Right: the test error after deleting k units "
                  "chosen at random (a residual unit keeps its shortcut; a plain unit becomes the identity where its "
                  "shapes allow), mean and range over {draws} draws. Veit et al. found their trained ResNets' error "
                  "rises smoothly, like an ensemble losing members, while a plain net breaks at the first deletion; "
                  "the lines under the charts say whether yours do.").format(draws=i18n.count(DELETION_DRAWS)))
    runs = {r.id: r for r in exp.runs}
    configs = {n: ModelConfig.from_dict(runs[rid].model) for n, (_eid, rid) in nets.items()}
    residual = {n: path_lengths(sum(c.blocks_per_stage)) for n, c in configs.items() if not c.is_plain}
    left, right = st.columns([2, 3])
    plot(left, path_length_chart(residual), "why_paths")
    with st.spinner(_("Loading the dataset…")):
        _dataset(exp.id)
    with st.spinner(_("Deleting random units…")):
        results = {n: _deletions(eid, rid, _mtime(eid, rid)) for n, (eid, rid) in nets.items()}
    plot(right, deletion_chart(results), "why_deletions", listen=True)
    for name, rows in results.items():
        is_plain = configs[name].is_plain
        st.caption(deletion_summary(plain_text(name), rows, plain=is_plain))


def path_view(exp, nets: dict) -> None:
    st.markdown(_("**What to look for:** random directions miss the path of training, so Li et al. 2018 (§7) draw "
                  "the landscape in the plane of the path itself: the two principal directions of the weights saved "
                  "along training (each axis says how much of the path's variation it holds). The white line is the "
                  "optimiser's path, from the initial weights (○) to the trained ones (★), plain and residual side "
                  "by side on one colour scale. It runs as a job: you can leave the page and come back."))
    short = [n for n, (eid, rid) in nets.items() if len(snapshot_keys(store(), eid, rid)) < 1
             or not store().has_weights(eid, rid, "init")]  # nothing downloaded from a remote artefact location
    if short:
        joined = ", ".join(short) if i18n.current() == i18n.SOURCE else i18n.listing(short)
        st.info(_("{nets} kept no weight snapshots along training (runs trained before snapshots were kept, or "
                  "imported with their weights only, like the shipped twin); train a twin on the Train page and its "
                  "path appears here.").format(nets=plain_text(joined)))
        return
    steps = st.select_slider(_("Grid points per axis"), [5, 11, 15, 21, 31], value=21, key="why_path_steps")
    spec = landscape_spec(exp.id, [rid for _eid, rid in nets.values()], steps=steps, plane="pca")
    landscape_job(spec, _("The path's landscape job"), "why_path", path_results)


def path_results(job_id: str) -> None:
    """The optimiser's path on its plane's landscape, per net, with how much of the path the plane holds."""
    results = {n: r["surface"] for n, r in read_landscapes(store(), job_id).items() if r.get("surface")}
    if results:
        plot(st, path_landscape_chart(results), "why_path_chart")
        st.caption(" ".join(
            ngettext("{net}: the path's first two directions hold {share} of its variation ({n} point).",
                     "{net}: the path's first two directions hold {share} of its variation ({n} points).",
                     len(r["path"]["alpha"])).format(net=plain_text(n), share=i18n.pct(100 * sum(r["explained"]), 0),
                                                     n=i18n.count(len(r["path"]["alpha"])))
            for n, r in results.items()))


@st.cache_data(max_entries=8, show_spinner=False)
def _script(exp_id: str, finished) -> str:
    exp = store().load_experiment(exp_id)
    finals = {r.name: r.final.to_dict() if r.final else None for r in exp.runs}
    return export_script(ExperimentSpec.from_dict(exp.spec), data=_dataset(exp_id), finals=finals, title=exp_id)


def takehome_view(exp, nets: dict) -> None:
    st.markdown(_("**Take it home:** one Python file that rebuilds this experiment's nets, data split, recipe and "
                  "seed with PyTorch alone (torchvision fetches MNIST, Fashion-MNIST or CIFAR-10; the digits and "
                  "image folders are inside the file), trains them in lockstep as the app did, and prints the errors. "
                  "On the CPU it runs on one thread by default, and then gives the app's "
                  "numbers exactly (the same seed and torch version) wherever the app trained one thread per op: "
                  "lockstep nets on a machine of two or more cores. Elsewhere, or with --threads N (faster), "
                  "floating-point sums are added in another order and the errors differ a little. Read it to see "
                  "every step of the recipe."))
    if exp.status != "completed":
        st.info(_("This experiment has not finished; its script is offered once it has."))
        return
    with st.spinner(_("Loading the dataset…")):
        _dataset(exp.id)
    with st.spinner(_("Writing the script…")):
        text = _script(exp.id, exp.finished)
    name = f"resnet_explorer_{exp.id}.py"
    size = _("{size} KB of Python; needs torch (and torchvision).").format(size=i18n.count(len(text) / 1024))
    st.download_button(_("Download the script"), text, file_name=name, mime="text/x-python", type="primary",
                       key="why_download", help=size)
    comment = _("add --save-dir nets/ to keep the trained weights")
    st.code(f"python {name} --device cpu          # {comment}", language="bash")  # not for translation
    finals = [f"{r.name}: {i18n.pct(100 * r.final.train_error, 2)}" for r in exp.runs
              if r.final is not None and r.final.train_error is not None]
    if finals:
        st.caption(_("The app's final training errors, to compare with the script's: {errors}.")
                   .format(errors=", ".join(map(plain_text, finals))))


# ----------------------------------------------------------------------------- the page
st.title(_("Why shortcuts work"))
st.caption(_("The explanations that followed the ResNet paper, measured on your own plain net and its residual "
             "twin."))
exp, nets = choose_nets("why")
gate = results_gating().gate(exp.spec_kind, exp.owner) if exp is not None else None
if gate is not None:  # predict, then observe: this experiment's results wait for the class question
    predict_first(gate, "why")
elif nets:
    views = [highway_view, ensembles_view, path_view, takehome_view]
    tabs = st.tabs([_(t) for t in TABS], key="why_tab", on_change="rerun")
    for tab, view in zip(tabs, views, strict=True):
        if tab.open:
            with tab:
                guard_view(view, exp, nets)
