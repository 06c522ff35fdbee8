"""Explain: what a trained net looks at. Pick a model (the shipped digits twin, a finished run, torchvision's
ImageNet ResNets or an uploaded checkpoint) and an image (a test image, an upload or a drawing); see the top-5
classes and an attribution map for each model, plain and residual side by side.

The page only reads widgets, calls explorer.store.checkpoints / explorer.analysis.attribution and draws
explorer.figures.
"""
import functools
import hashlib

import streamlit as st

from explorer import i18n
from explorer.analysis.attribution import IG_TOLERANCE, METHODS, attribute_details, is_heavy, predict
from explorer.analysis.baselines import BASELINES
from explorer.analysis.evaluation import confusion_and_mistakes, confusion_cell, test_example
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset
from explorer.data.files import DatasetUnavailable
from explorer.data.images import ImageError, is_digit_model, load_image, to_model_input
from explorer.figures.clicks import clickable_cells, clicked_point
from explorer.figures.images import attribution_overlay, confusion_matrix, mistakes_strip, sample_strip, topk_bars
from explorer.i18n import N_, _, ngettext
from explorer.nets.preprocessing import Preprocessing
from explorer.nets.weights import Explainable, PretrainedUnavailable, pretrained_imagenet
from explorer.store.checkpoints import explainable_runs, load_run_dataset, load_run_model, load_uploaded_checkpoint
from explorer.store.shipped import SHIPPED_OWNER, shipped_twin, shipped_twin_readme
from explorer.text import clean, plain_text, plot_texts
from pages.class_panel import predict_first
from pages.common import ensure_entry, results_gating
from pages.display import plot

ensure_entry("pages/explain.py")

SOURCES = {"twin": N_("Shipped digits twin"), "run": N_("A finished run"),
           "imagenet": N_("ImageNet ResNet (torchvision)"), "upload": N_("Upload a checkpoint")}
INPUTS = {"sample": N_("A test image"), "draw": N_("Draw a digit"), "upload": N_("Upload an image")}
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]
IMAGENET_NAMES = {"resnet18": N_("ResNet-18 (45 MB download)"), "resnet50": N_("ResNet-50 (98 MB download)")}
MAX_RUNS_SIDE_BY_SIDE = 4
MISTAKES_PER_ROW = 4  # half a wide page holds four labelled thumbnails
CELL_IMAGES = 12  # test images shown for a clicked confusion-matrix cell
MAPS_KEPT = 24  # attribution maps remembered per session, so moving the opacity slider recomputes nothing


# ----------------------------------------------------------------------------- cached loaders
@st.cache_resource(show_spinner=False)
def _load_shipped_twin() -> dict:
    return shipped_twin()


def _shipped_twin() -> dict:
    with st.spinner(_("Loading the shipped digits twin…")):
        return _load_shipped_twin()


@st.cache_resource(max_entries=8, show_spinner=False)
def _load_run_model(exp_id: str, run_id: str, mtime: float) -> Explainable:
    from pages.common import store
    return load_run_model(store(), exp_id, run_id)


def _run_model(exp_id: str, run_id: str, mtime: float) -> Explainable:
    with st.spinner(_("Loading the run's weights…")):
        return _load_run_model(exp_id, run_id, mtime)


def _dataset(exp_id):
    with st.spinner(_("Loading the test set…")):
        return _load_dataset(exp_id)


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_dataset(exp_id):
    """The test set behind a model source: the built-in digits for the twin, else the run's own data."""
    if exp_id is None:
        return load_dataset(DataConfig("digits"))
    from pages.common import store
    return load_run_dataset(store(), exp_id)


@st.cache_resource
def _imagenet_models() -> dict:
    """ImageNet models loaded so far, shared by every session (one copy of ResNet-50 in memory)."""
    return {}


@st.cache_data(max_entries=16, show_spinner=False)
def _scores(model_key: str, _model, _dataset_obj) -> tuple:
    return confusion_and_mistakes(_model, _dataset_obj)


def _test_set_scores(model_key: str, model, dataset_obj) -> tuple:
    with st.spinner(_("Scoring the test set…")):
        return _scores(model_key, model, dataset_obj)


# ----------------------------------------------------------------------------- choosing the models
def choose_models() -> tuple:
    """The model-source widgets; returns ({name: Explainable}, the test set's exp id or "digits" or None, key)."""
    source = st.radio(_("Model"), list(SOURCES), key="explain_source", horizontal=True,
                      format_func=lambda v: _(SOURCES[v]))
    try:
        if source == "twin":
            return _twin_source()
        if source == "run":
            return _run_source()
        if source == "imagenet":
            return _imagenet_source()
        return _upload_source()
    except (ValueError, OSError) as exc:
        st.error(plain_text(str(exc)))  # an upload's own values may be quoted in the sentence
        return {}, None, source


def _twin_source() -> tuple:
    st.caption(_("A plain-20 and a ResNet-20 trained together on scikit-learn's 8×8 digits with the default recipe: "
                 "the same layers and the same batches, only the shortcuts differ."))
    with st.expander(_("How the shipped twin was trained")):
        st.markdown(shipped_twin_readme())
    if _hidden("twin", SHIPPED_OWNER):
        return {}, None, "twin"
    return _shipped_twin(), "digits", "twin"


def _hidden(kind: str, owner: str | None) -> bool:
    """True, with the box saying why (and the question to answer), while a class question hides these results."""
    gate = results_gating().gate(kind, owner)
    if gate is not None:
        predict_first(gate, "explain")
    return gate is not None


def _run_source() -> tuple:
    from pages.common import store
    experiments = explainable_runs(store())
    if not experiments:
        st.info(_("No finished runs yet: train one on the Train page, or use the shipped digits twin."))
        return {}, None, "run"
    by_id = {e.exp_id: e for e in experiments}
    exp_id = st.selectbox(_("Experiment"), list(by_id), key="explain_experiment",
                          format_func=lambda i: clean(by_id[i].label))
    exp = store().load_experiment(exp_id, with_runs=False)
    if exp is None or _hidden(exp.spec_kind, exp.owner):
        return {}, None, "run"
    names = dict(by_id[exp_id].runs)
    chosen = st.multiselect(_("Runs, side by side"), list(names), default=list(names)[:MAX_RUNS_SIDE_BY_SIDE],
                            key=f"explain_runs_{exp_id}", format_func=lambda r: clean(names[r]),
                            max_selections=MAX_RUNS_SIDE_BY_SIDE)
    s = store()
    models = {names[r]: _run_model(exp_id, r, s.weights_path(exp_id, r).stat().st_mtime) for r in chosen}
    return models, exp_id, f"run/{exp_id}"


def _imagenet_source() -> tuple:
    name = st.selectbox(_("Network"), list(IMAGENET_NAMES), key="explain_imagenet",
                        format_func=lambda v: _(IMAGENET_NAMES[v]))
    loaded = _imagenet_models()
    if name not in loaded:
        st.caption(_("torchvision's ImageNet weights, loaded into this app's own ResNet; downloaded once into "
                     "torch's cache."))
        if not st.button(_("Load the weights"), key="explain_imagenet_load"):
            return {}, None, "imagenet"
        bar = st.progress(0.0, text=_("Fetching the weights…"))
        downloading = _("Downloading…")
        try:
            loaded[name] = pretrained_imagenet(name, progress=lambda f: bar.progress(f, text=downloading))
        except PretrainedUnavailable as exc:
            st.warning(str(exc))
            return {}, None, "imagenet"
        finally:
            bar.empty()
    return {name: loaded[name]}, None, f"imagenet/{name}"


def _upload_source() -> tuple:
    upload = st.file_uploader(_("A ResNet Explorer checkpoint (.pt)"), type=["pt", "pth"], key="explain_checkpoint",
                              help=_("The final.pt or init.pt of a run (the Runs page downloads them): weights, "
                                     "model config and preprocessing. Only tensors are read; nothing in it runs."))
    if upload is None:
        return {}, None, "upload"
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    cache = st.session_state.setdefault("explain_uploaded_models", {})
    if digest not in cache:
        cache.clear()  # one uploaded model per session
        cache[digest] = load_uploaded_checkpoint(data)
    model = cache[digest]
    test_set = "digits" if model.preprocessing.dataset == "digits" else None
    return {model.cfg.name: model}, test_set, f"upload/{digest}"


# ----------------------------------------------------------------------------- choosing the image
def choose_input(models: dict, dataset) -> dict:
    """The image widgets; returns {model name: (x, view)} or {} while there is nothing to explain yet."""
    digit_models = all(is_digit_model(m.preprocessing) for m in models.values())
    options = (["sample"] if dataset is not None else []) + (["draw"] if digit_models else []) + ["upload"]
    kind = st.radio(_("Image"), options, key="explain_input", horizontal=True, format_func=lambda v: _(INPUTS[v]))
    if kind == "sample":
        last = len(dataset.y_test) - 1
        index = st.number_input(_("Test image (0–{last})").format(last=last), 0, last, 0, key="explain_sample")
        x, view, label = test_example(dataset, int(index))
        st.caption(_("True class: **{name}**").format(name=plain_text(dataset.preprocessing.classes[label])))
        return {name: (x, view) for name in models}
    image = None if kind == "draw" else _uploaded_image()
    left, right = st.columns(2)
    if kind == "draw":
        with left:
            st.caption(no_drag_note([o for o in options if o != "draw"]))
            image = _drawing()
    elif image is not None:
        left.image(image, caption=_("Your image"), width=260)
    if image is None:
        return {}
    try:
        inputs = {name: to_model_input(image, m.preprocessing) for name, m in models.items()}
    except ImageError as exc:
        st.error(str(exc))
        return {}
    view = next(iter(inputs.values()))[1]  # models shown together share their preprocessing
    figure = sample_strip([view], [_("What the model sees ({height}×{width})").format(height=view.shape[0],
                                                                                      width=view.shape[1])],
                          _("Your image as the model sees it"))
    plot(right, figure.update_layout(height=300), "explain_view")
    return inputs


def no_drag_note(others: list) -> str:
    """The canvas needs a drag (WCAG 2.2, 2.5.7): the sentence next to it names the other ways in, which the
    keyboard reaches (a radio option, and the uploader's Browse button)."""
    ways = [_("“{choice}”").format(choice=_(INPUTS[o])) for o in others]
    if len(ways) > 1:
        return _("Drawing needs a mouse, pen or finger drag. To do without one, choose {first} or {second} under "
                 "Image above; both work from the keyboard (Tab to the choice, arrow keys to change it).").format(
            first=ways[0], second=" or ".join(ways[1:]))
    return _("Drawing needs a mouse, pen or finger drag. To do without one, choose {choice} under Image above; it "
             "works from the keyboard (Tab to the choice, arrow keys to change it).").format(
        choice=" or ".join(ways))


def _uploaded_image():
    upload = st.file_uploader(_("An image"), type=IMAGE_TYPES, key="explain_upload",
                              help=_("PNG, JPEG, WebP, BMP or GIF (its first frame)."))
    if upload is None:
        return None
    try:
        return load_image(upload.getvalue())
    except ImageError as exc:
        st.error(str(exc))
        return None


def _drawing():
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # noqa: BLE001 - a missing or broken component must not take the page down
        st.warning(_("The drawing canvas is not available here; upload an image of a digit instead."))
        return None
    st.space("small")  # room for the canvas's floating toolbar, which sits just above it
    result = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff", height=224, width=224,
                       drawing_mode="freedraw", return_image_data=True, key="explain_canvas")
    st.caption(_("Draw one digit, large; the bin in the toolbar clears the box."))
    if result is None or not (result.json_data or {}).get("objects") or not result.image_bytes:
        st.info(_("Draw a digit to see what each model makes of it."))
        return None
    try:
        return load_image(result.image_bytes)
    except ImageError as exc:
        st.error(str(exc))
        return None


# ----------------------------------------------------------------------------- explaining


def choose_method(classes: list) -> tuple:
    """The attribution widgets; returns (method, target or None for the predicted class, opacity, baseline)."""
    left, middle, base, right = st.columns([2, 2, 2, 1])
    method = left.selectbox(_("Attribution method"), list(METHODS), index=list(METHODS).index("gradcam"),
                            key="explain_method", format_func=lambda m: _(METHODS[m].label))
    target = middle.selectbox(_("Explain the class"), [None, *range(len(classes))], key="explain_target",
                              format_func=lambda c: _("the predicted class") if c is None else clean(classes[c]))
    baseline = None
    if METHODS[method].baseline:
        baseline = base.selectbox(_("Baseline"), list(BASELINES), key="explain_baseline",
                                  format_func=lambda b: _(BASELINES[b].label),
                                  help=" ".join(_("**{label}**: {help}.").format(label=_(b.label), help=_(b.help))
                                                for b in BASELINES.values()))
    opacity = right.slider(_("Map opacity"), 0.0, 1.0, 0.5, 0.05, key="explain_opacity")
    st.caption(f"**{_(METHODS[method].label)}**: {_(METHODS[method].help)}"
               + (" " + _("Baseline: {help}.").format(help=_(BASELINES[baseline].help)) if baseline else ""))
    return method, target, opacity, baseline


def _map_key(model_key: str, x, method: str, target, baseline=None) -> tuple:
    return model_key, hashlib.sha256(x.numpy().tobytes()).hexdigest()[:16], method, target, baseline


def _attribution(model_key: str, model, x, explain: tuple, heavy_ok: bool, preprocessing: Preprocessing):
    """The map and its report from this session's memory, or computed now (a heavy one only once asked)."""
    method, target, _opacity, baseline = explain
    maps = st.session_state.setdefault("explain_maps", {})
    key = _map_key(model_key, x, method, target, baseline)
    if key not in maps:
        if is_heavy(model, method) and not heavy_ok:
            return None
        if len(maps) >= MAPS_KEPT:
            maps.pop(next(iter(maps)))
        bar = st.progress(0.0, text=_("{method}…").format(method=_(METHODS[method].label))) \
            if is_heavy(model, method) else None
        options = {"progress": lambda f: bar.progress(f)} if bar else {}
        if baseline:
            options.update(baseline=baseline, preprocessing=preprocessing)
        try:
            maps[key] = attribute_details(model, x, method, target=target, **options)
        finally:
            if bar is not None:
                bar.empty()
    return maps[key]


def completeness_note(result) -> str:
    """One sentence on integrated gradients' completeness check (Sundararajan et al. 2017), or ""."""
    if result.delta is None:
        return ""
    delta = i18n.decimal(100 * result.delta, 1)
    if result.converged:
        return ngettext("Completeness check: the map adds up to the score change from the baseline within "
                        "{delta} % ({n} step).",
                        "Completeness check: the map adds up to the score change from the baseline within "
                        "{delta} % ({n} steps).", result.n_steps).format(delta=delta, n=result.n_steps)
    return ngettext("Completeness check not reached: after {n} step the map still misses the score change from the "
                    "baseline by {delta} % (the aim is under {aim} %); read this map with care.",
                    "Completeness check not reached: after {n} steps the map still misses the score change from the "
                    "baseline by {delta} % (the aim is under {aim} %); read this map with care.",
                    result.n_steps).format(n=result.n_steps, delta=delta, aim=i18n.decimal(100 * IG_TOLERANCE, 0))


def show_model(name: str, model: Explainable, x, view, explain: tuple, source_key: str, heavy_ok: bool) -> None:
    """One model's column: its top-5 classes and the attribution map over the image."""
    method, target, opacity, _baseline = explain
    classes = model.preprocessing.classes
    preds = predict(model.model, x, top=5)
    plot(st, topk_bars([(classes[i], p) for i, p in preds], _("{name}: top 5").format(name=name), name),
         f"explain_top5_{name}")
    result = _attribution(f"{source_key}/{name}", model.model, x, explain, heavy_ok, model.preprocessing)
    if result is None:
        st.info(_("{method} runs {name} many times; press the button above to compute it.").format(
            method=_(METHODS[method].label), name=plain_text(name)))
        return
    shown = classes[preds[0][0]] if target is None else classes[target]
    label = _(METHODS[method].label)
    plot(st, attribution_overlay(view, result.heat.numpy(), opacity,
                                 _("{name}: {method} for '{shown}'").format(name=name, method=label, shown=shown),
                                 _("{name}'s {method} map for '{shown}'").format(name=name, method=label, shown=shown)),
         f"explain_map_{name}")
    note = completeness_note(result)
    if note:
        (st.caption if result.converged else st.warning)(note)


def show_models(models: dict, inputs: dict, explain: tuple, source_key: str) -> None:
    """The models side by side, with one button first when a map would be heavy to compute."""
    method = explain[0]
    heavy = [n for n, m in models.items() if is_heavy(m.model, method)
             and _map_key(f"{source_key}/{n}", inputs[n][0], method, explain[1], explain[3]) not in
             st.session_state.get("explain_maps", {})]
    heavy_ok = bool(heavy) and st.button(
        _("Compute {method} for {nets}").format(method=_(METHODS[method].label),
                                                 nets=", ".join(map(plain_text, heavy))),
        key="explain_compute", type="primary",
        help=_("A big net with a many-pass method takes a while; it runs once you ask."))
    for column, (name, model) in zip(st.columns(len(models)), models.items(), strict=True):
        with column:
            st.header(plain_text(name))  # h2 under the page title (heading order, SC 1.3.1)
            try:
                show_model(name, model, *inputs[name], explain, source_key, heavy_ok)
            except ValueError as exc:
                st.error(plain_text(str(exc)))


def show_test_set(models: dict, dataset, source_key: str) -> None:
    """Each model's confusion matrix on its test set and the test images it gets most confidently wrong."""
    st.header(_("On the test set"))
    classes = dataset.preprocessing.classes
    for column, (name, model) in zip(st.columns(len(models)), models.items(), strict=True):
        with column:
            cm, mistakes = _test_set_scores(f"{source_key}/{name}", model.model, dataset)
            errors = 1 - cm.trace() / max(1, cm.sum())
            st.markdown(_("**{name}**: {error} test error on {n} images").format(
                name=plain_text(name), error=i18n.pct(100 * errors), n=i18n.count(int(cm.sum()))))
            names = [str(c) for c in classes]
            shown = plot_texts(names)  # the matrix's categories as drawn: a click reports one of these
            plot(st, clickable_cells(confusion_matrix(cm, classes, name), shown, shown), f"explain_cm_{name}",
                 on_select=functools.partial(_remember_click, f"explain_cm_{name}", f"explain_cell_{name}"),
                 selection_mode="points")
            cell_images(name, model, dataset, source_key, names)
            st.caption(_("Most confidently wrong (test image: true → predicted, confidence):"))
            for row in range(0, len(mistakes), MISTAKES_PER_ROW):
                what = (_("Test images {name} gets most confidently wrong, continued") if row else
                        _("Test images {name} gets most confidently wrong")).format(name=name)
                plot(st, mistakes_strip(mistakes[row:row + MISTAKES_PER_ROW], classes, what),
                     f"explain_wrong_{name}_{row}")


def _remember_click(chart_key: str, state_key: str) -> None:
    """on_select callback: keep the clicked point under a plain session key (the page reads that key)."""
    st.session_state[state_key] = clicked_point(st.session_state.get(chart_key))


@st.cache_data(max_entries=32, show_spinner=False)
def _find_cell(model_key: str, true_class: int, predicted_class: int, _model, _dataset_obj) -> list:
    return confusion_cell(_model, _dataset_obj, true_class, predicted_class, limit=CELL_IMAGES)


def _cell(model_key: str, true_class: int, predicted_class: int, model, dataset_obj) -> list:
    with st.spinner(_("Finding the cell's images…")):
        return _find_cell(model_key, true_class, predicted_class, model, dataset_obj)


def cell_images(name: str, model, dataset, source_key: str, names: list) -> None:
    """The test images of the confusion-matrix cell last clicked for this net, with their predictions."""
    point = st.session_state.get(f"explain_cell_{name}")
    shown_names = plot_texts(names)  # a click reports a category as the matrix shows it
    if not point or point.get("x") not in shown_names or point.get("y") not in shown_names:
        st.caption(_("Click a cell of the matrix to see its test images."))
        return
    true, predicted = shown_names.index(point["y"]), shown_names.index(point["x"])
    shown = _cell(f"{source_key}/{name}", true, predicted, model.model, dataset)
    true_name, predicted_name = plain_text(names[true]), plain_text(names[predicted])
    if not shown:
        st.markdown(_("**True {true}, predicted {predicted}:** no test image is in this cell.").format(
            true=true_name, predicted=predicted_name))
        return
    if len(shown) == CELL_IMAGES:
        st.markdown(_("**True {true}, predicted {predicted}:** {n} image(s), the {n} most confident").format(
            true=true_name, predicted=predicted_name, n=len(shown)))
    else:
        st.markdown(ngettext("**True {true}, predicted {predicted}:** {n} image(s)",
                             "**True {true}, predicted {predicted}:** {n} image(s)", len(shown)).format(
            true=true_name, predicted=predicted_name, n=len(shown)))
    for row in range(0, len(shown), MISTAKES_PER_ROW):
        part = shown[row:row + MISTAKES_PER_ROW]
        what = _("Test images of true class {true} that {name} reads as {predicted}").format(
            true=names[true], name=name, predicted=names[predicted])
        plot(st, mistakes_strip(part, names, what), f"explain_cell_strip_{name}_{row}")


def _test_set(test_set):
    if test_set is None:
        return None
    try:
        return _dataset(None if test_set == "digits" else test_set)
    except (DatasetUnavailable, ValueError) as exc:
        st.warning(plain_text(str(exc)))  # it may quote a folder or a class name
        return None


st.title(_("Explain a prediction"))
st.caption(_("What does each net look at? Plain and residual twins side by side, on the same image."))
models, test_set, source_key = choose_models()
if not models:
    st.stop()
dataset = _test_set(test_set)
inputs = choose_input(models, dataset)
if inputs:
    explain = choose_method(next(iter(models.values())).preprocessing.classes)
    show_models(models, inputs, explain, source_key)
if dataset is not None:
    show_test_set(models, dataset, source_key)
