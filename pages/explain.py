"""Explain: what a trained net looks at. Pick a model (the shipped digits twin, a finished run, torchvision's
ImageNet ResNets or an uploaded checkpoint) and an image (a test image, an upload or a drawing); see the top-5
classes and an attribution map for each model, plain and residual side by side.

The page only reads widgets, calls explorer.store.checkpoints / explorer.analysis.attribution and draws
explorer.figures.
"""
import functools
import hashlib

import streamlit as st

from explorer.analysis.attribution import IG_TOLERANCE, METHODS, attribute_details, is_heavy, predict
from explorer.analysis.baselines import BASELINES
from explorer.analysis.evaluation import confusion_and_mistakes, confusion_cell, test_example
from explorer.data.config import DataConfig
from explorer.data.datasets import load_dataset
from explorer.data.files import DatasetUnavailable
from explorer.data.images import ImageError, is_digit_model, load_image, to_model_input
from explorer.figures.clicks import clickable_cells, clicked_point
from explorer.figures.images import attribution_overlay, confusion_matrix, mistakes_strip, sample_strip, topk_bars
from explorer.nets.preprocessing import Preprocessing
from explorer.nets.weights import Explainable, PretrainedUnavailable, pretrained_imagenet
from explorer.store.checkpoints import explainable_runs, load_run_dataset, load_run_model, load_uploaded_checkpoint
from explorer.store.shipped import SHIPPED_OWNER, shipped_twin, shipped_twin_readme
from explorer.text import clean, plain_text, plot_texts
from pages.class_panel import predict_first
from pages.common import ensure_entry, results_gating
from pages.display import plot

ensure_entry("pages/explain.py")

SOURCES = {"twin": "Shipped digits twin", "run": "A finished run", "imagenet": "ImageNet ResNet (torchvision)",
           "upload": "Upload a checkpoint"}
INPUTS = {"sample": "A test image", "draw": "Draw a digit", "upload": "Upload an image"}
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]
IMAGENET_NAMES = {"resnet18": "ResNet-18 (45 MB download)", "resnet50": "ResNet-50 (98 MB download)"}
MAX_RUNS_SIDE_BY_SIDE = 4
MISTAKES_PER_ROW = 4  # half a wide page holds four labelled thumbnails
CELL_IMAGES = 12  # test images shown for a clicked confusion-matrix cell
MAPS_KEPT = 24  # attribution maps remembered per session, so moving the opacity slider recomputes nothing


# ----------------------------------------------------------------------------- cached loaders
@st.cache_resource(show_spinner="Loading the shipped digits twin…")
def _shipped_twin() -> dict:
    return shipped_twin()


@st.cache_resource(max_entries=8, show_spinner="Loading the run's weights…")
def _run_model(exp_id: str, run_id: str, mtime: float) -> Explainable:
    from pages.common import store
    return load_run_model(store(), exp_id, run_id)


@st.cache_resource(max_entries=4, show_spinner="Loading the test set…")
def _dataset(exp_id):
    """The test set behind a model source: the built-in digits for the twin, else the run's own data."""
    if exp_id is None:
        return load_dataset(DataConfig("digits"))
    from pages.common import store
    return load_run_dataset(store(), exp_id)


@st.cache_resource
def _imagenet_models() -> dict:
    """ImageNet models loaded so far, shared by every session (one copy of ResNet-50 in memory)."""
    return {}


@st.cache_data(max_entries=16, show_spinner="Scoring the test set…")
def _test_set_scores(model_key: str, _model, _dataset_obj) -> tuple:
    return confusion_and_mistakes(_model, _dataset_obj)


# ----------------------------------------------------------------------------- choosing the models
def choose_models() -> tuple:
    """The model-source widgets; returns ({name: Explainable}, the test set's exp id or "digits" or None, key)."""
    source = st.radio("Model", list(SOURCES), key="explain_source", horizontal=True, format_func=SOURCES.get)
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
    st.caption("A plain-20 and a ResNet-20 trained together on scikit-learn's 8×8 digits with the default recipe: "
               "the same layers and the same batches, only the shortcuts differ.")
    with st.expander("How the shipped twin was trained"):
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
        st.info("No finished runs yet: train one on the Train page, or use the shipped digits twin.")
        return {}, None, "run"
    by_id = {e.exp_id: e for e in experiments}
    exp_id = st.selectbox("Experiment", list(by_id), key="explain_experiment",
                          format_func=lambda i: clean(by_id[i].label))
    exp = store().load_experiment(exp_id, with_runs=False)
    if exp is None or _hidden(exp.spec_kind, exp.owner):
        return {}, None, "run"
    names = dict(by_id[exp_id].runs)
    chosen = st.multiselect("Runs, side by side", list(names), default=list(names)[:MAX_RUNS_SIDE_BY_SIDE],
                            key=f"explain_runs_{exp_id}", format_func=lambda r: clean(names[r]),
                            max_selections=MAX_RUNS_SIDE_BY_SIDE)
    s = store()
    models = {names[r]: _run_model(exp_id, r, s.weights_path(exp_id, r).stat().st_mtime) for r in chosen}
    return models, exp_id, f"run/{exp_id}"


def _imagenet_source() -> tuple:
    name = st.selectbox("Network", list(IMAGENET_NAMES), key="explain_imagenet", format_func=IMAGENET_NAMES.get)
    loaded = _imagenet_models()
    if name not in loaded:
        st.caption("torchvision's ImageNet weights, loaded into this app's own ResNet; downloaded once into "
                   "torch's cache.")
        if not st.button("Load the weights", key="explain_imagenet_load"):
            return {}, None, "imagenet"
        bar = st.progress(0.0, text="Fetching the weights…")
        try:
            loaded[name] = pretrained_imagenet(name, progress=lambda f: bar.progress(f, text="Downloading…"))
        except PretrainedUnavailable as exc:
            st.warning(str(exc))
            return {}, None, "imagenet"
        finally:
            bar.empty()
    return {name: loaded[name]}, None, f"imagenet/{name}"


def _upload_source() -> tuple:
    upload = st.file_uploader("A ResNet Explorer checkpoint (.pt)", type=["pt", "pth"], key="explain_checkpoint",
                              help="The final.pt or init.pt of a run (the Runs page downloads them): weights, "
                                   "model config and preprocessing. Only tensors are read; nothing in it runs.")
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
    kind = st.radio("Image", options, key="explain_input", horizontal=True, format_func=INPUTS.get)
    if kind == "sample":
        last = len(dataset.y_test) - 1
        index = st.number_input(f"Test image (0–{last})", 0, last, 0, key="explain_sample")
        x, view, label = test_example(dataset, int(index))
        st.caption(f"True class: **{plain_text(dataset.preprocessing.classes[label])}**")
        return {name: (x, view) for name in models}
    image = None if kind == "draw" else _uploaded_image()
    left, right = st.columns(2)
    if kind == "draw":
        with left:
            st.caption(no_drag_note([o for o in options if o != "draw"]))
            image = _drawing()
    elif image is not None:
        left.image(image, caption="Your image", width=260)
    if image is None:
        return {}
    try:
        inputs = {name: to_model_input(image, m.preprocessing) for name, m in models.items()}
    except ImageError as exc:
        st.error(str(exc))
        return {}
    view = next(iter(inputs.values()))[1]  # models shown together share their preprocessing
    figure = sample_strip([view], [f"What the model sees ({view.shape[0]}×{view.shape[1]})"],
                          "Your image as the model sees it")
    plot(right, figure.update_layout(height=300), "explain_view")
    return inputs


def no_drag_note(others: list) -> str:
    """The canvas needs a drag (WCAG 2.2, 2.5.7): the sentence next to it names the other ways in, which the
    keyboard reaches (a radio option, and the uploader's Browse button)."""
    ways = " or ".join(f"“{INPUTS[o]}”" for o in others)
    return (f"Drawing needs a mouse, pen or finger drag. To do without one, choose {ways} under Image above; "
            f"{'both work' if len(others) > 1 else 'it works'} from the keyboard (Tab to the choice, arrow keys to "
            "change it).")


def _uploaded_image():
    upload = st.file_uploader("An image", type=IMAGE_TYPES, key="explain_upload",
                              help="PNG, JPEG, WebP, BMP or GIF (its first frame).")
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
        st.warning("The drawing canvas is not available here; upload an image of a digit instead.")
        return None
    st.space("small")  # room for the canvas's floating toolbar, which sits just above it
    result = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff", height=224, width=224,
                       drawing_mode="freedraw", return_image_data=True, key="explain_canvas")
    st.caption("Draw one digit, large; the bin in the toolbar clears the box.")
    if result is None or not (result.json_data or {}).get("objects") or not result.image_bytes:
        st.info("Draw a digit to see what each model makes of it.")
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
    method = left.selectbox("Attribution method", list(METHODS), index=list(METHODS).index("gradcam"),
                            key="explain_method", format_func=lambda m: METHODS[m].label)
    target = middle.selectbox("Explain the class", [None, *range(len(classes))], key="explain_target",
                              format_func=lambda c: "the predicted class" if c is None else clean(classes[c]))
    baseline = None
    if METHODS[method].baseline:
        baseline = base.selectbox("Baseline", list(BASELINES), key="explain_baseline",
                                  format_func=lambda b: BASELINES[b].label,
                                  help=" ".join(f"**{b.label}**: {b.help}." for b in BASELINES.values()))
    opacity = right.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="explain_opacity")
    st.caption(f"**{METHODS[method].label}**: {METHODS[method].help}"
               + (f" Baseline: {BASELINES[baseline].help}." if baseline else ""))
    return method, target, opacity, baseline


def _map_key(model_key: str, x, method: str, target, baseline=None) -> tuple:
    return model_key, hashlib.sha256(x.numpy().tobytes()).hexdigest()[:16], method, target, baseline


def _attribution(model_key: str, model, x, explain: tuple, heavy_ok: bool, preprocessing: Preprocessing):
    """The map and its report from this session's memory, or computed now (a heavy one only once asked)."""
    method, target, _, baseline = explain
    maps = st.session_state.setdefault("explain_maps", {})
    key = _map_key(model_key, x, method, target, baseline)
    if key not in maps:
        if is_heavy(model, method) and not heavy_ok:
            return None
        if len(maps) >= MAPS_KEPT:
            maps.pop(next(iter(maps)))
        bar = st.progress(0.0, text=f"{METHODS[method].label}…") if is_heavy(model, method) else None
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
    if result.converged:
        return (f"Completeness check: the map adds up to the score change from the baseline within "
                f"{100 * result.delta:.1f} % ({result.n_steps} steps).")
    return (f"Completeness check not reached: after {result.n_steps} steps the map still misses the score change "
            f"from the baseline by {100 * result.delta:.1f} % (the aim is under {100 * IG_TOLERANCE:.0f} %); "
            "read this map with care.")


def show_model(name: str, model: Explainable, x, view, explain: tuple, source_key: str, heavy_ok: bool) -> None:
    """One model's column: its top-5 classes and the attribution map over the image."""
    method, target, opacity, _ = explain
    classes = model.preprocessing.classes
    preds = predict(model.model, x, top=5)
    plot(st, topk_bars([(classes[i], p) for i, p in preds], f"{name}: top 5", name), f"explain_top5_{name}")
    result = _attribution(f"{source_key}/{name}", model.model, x, explain, heavy_ok, model.preprocessing)
    if result is None:
        st.info(f"{METHODS[method].label} runs {plain_text(name)} many times; press the button above to compute it.")
        return
    shown = classes[preds[0][0]] if target is None else classes[target]
    plot(st, attribution_overlay(view, result.heat.numpy(), opacity, f"{name}: {METHODS[method].label} for '{shown}'",
                                 f"{name}'s {METHODS[method].label} map for '{shown}'"), f"explain_map_{name}")
    note = completeness_note(result)
    if note:
        (st.caption if result.converged else st.warning)(note)


def show_models(models: dict, inputs: dict, explain: tuple, source_key: str) -> None:
    """The models side by side, with one button first when a map would be heavy to compute."""
    method = explain[0]
    heavy = [n for n, m in models.items() if is_heavy(m.model, method)
             and _map_key(f"{source_key}/{n}", inputs[n][0], method, explain[1], explain[3]) not in
             st.session_state.get("explain_maps", {})]
    heavy_ok = bool(heavy) and st.button(f"Compute {METHODS[method].label} for {', '.join(map(plain_text, heavy))}",
                                         key="explain_compute", type="primary",
                                         help="A big net with a many-pass method takes a while; it runs once you ask.")
    for column, (name, model) in zip(st.columns(len(models)), models.items(), strict=True):
        with column:
            st.header(plain_text(name))  # h2 under the page title (heading order, SC 1.3.1)
            try:
                show_model(name, model, *inputs[name], explain, source_key, heavy_ok)
            except ValueError as exc:
                st.error(plain_text(str(exc)))


def show_test_set(models: dict, dataset, source_key: str) -> None:
    """Each model's confusion matrix on its test set and the test images it gets most confidently wrong."""
    st.header("On the test set")
    classes = dataset.preprocessing.classes
    for column, (name, model) in zip(st.columns(len(models)), models.items(), strict=True):
        with column:
            cm, mistakes = _test_set_scores(f"{source_key}/{name}", model.model, dataset)
            errors = 1 - cm.trace() / max(1, cm.sum())
            st.markdown(f"**{plain_text(name)}**: {100 * errors:.1f}% test error on {cm.sum():,} images")
            names = [str(c) for c in classes]
            shown = plot_texts(names)  # the matrix's categories as drawn: a click reports one of these
            plot(st, clickable_cells(confusion_matrix(cm, classes, name), shown, shown), f"explain_cm_{name}",
                 on_select=functools.partial(_remember_click, f"explain_cm_{name}", f"explain_cell_{name}"),
                 selection_mode="points")
            cell_images(name, model, dataset, source_key, names)
            st.caption("Most confidently wrong (test image: true → predicted, confidence):")
            for row in range(0, len(mistakes), MISTAKES_PER_ROW):
                what = f"Test images {name} gets most confidently wrong" + (", continued" if row else "")
                plot(st, mistakes_strip(mistakes[row:row + MISTAKES_PER_ROW], classes, what),
                     f"explain_wrong_{name}_{row}")


def _remember_click(chart_key: str, state_key: str) -> None:
    """on_select callback: keep the clicked point under a plain session key (the page reads that key)."""
    st.session_state[state_key] = clicked_point(st.session_state.get(chart_key))


@st.cache_data(max_entries=32, show_spinner="Finding the cell's images…")
def _cell(model_key: str, true_class: int, predicted_class: int, _model, _dataset_obj) -> list:
    return confusion_cell(_model, _dataset_obj, true_class, predicted_class, limit=CELL_IMAGES)


def cell_images(name: str, model, dataset, source_key: str, names: list) -> None:
    """The test images of the confusion-matrix cell last clicked for this net, with their predictions."""
    point = st.session_state.get(f"explain_cell_{name}")
    shown_names = plot_texts(names)  # a click reports a category as the matrix shows it
    if not point or point.get("x") not in shown_names or point.get("y") not in shown_names:
        st.caption("Click a cell of the matrix to see its test images.")
        return
    true, predicted = shown_names.index(point["y"]), shown_names.index(point["x"])
    shown = _cell(f"{source_key}/{name}", true, predicted, model.model, dataset)
    cell = f"**True {plain_text(names[true])}, predicted {plain_text(names[predicted])}:**"
    if not shown:
        st.markdown(f"{cell} no test image is in this cell.")
        return
    st.markdown(f"{cell} {len(shown)} image(s)"
                + (f", the {CELL_IMAGES} most confident" if len(shown) == CELL_IMAGES else ""))
    for row in range(0, len(shown), MISTAKES_PER_ROW):
        part = shown[row:row + MISTAKES_PER_ROW]
        what = f"Test images of true class {names[true]} that {name} reads as {names[predicted]}"
        plot(st, mistakes_strip(part, names, what), f"explain_cell_strip_{name}_{row}")


def _test_set(test_set):
    if test_set is None:
        return None
    try:
        return _dataset(None if test_set == "digits" else test_set)
    except (DatasetUnavailable, ValueError) as exc:
        st.warning(plain_text(str(exc)))  # it may quote a folder or a class name
        return None


st.title("Explain a prediction")
st.caption("What does each net look at? Plain and residual twins side by side, on the same image.")
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
