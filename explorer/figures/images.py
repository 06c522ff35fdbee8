"""Figures of images: predictions, confusion matrices, attribution overlays, sample strips, feature maps.

Pure plotly functions of plain data (explorer.figures re-exports them); no Streamlit. Each says what it shows
(explorer.figures.words): the top prediction, the accuracy and the most confused pair, where an attribution map's
heat is, which image is which; for image charts the table lists the images, never their pixels.
Size budget: ~300 lines.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import N_, _, count, ngettext
from ..text import plot_texts
from .style import OVERLAY_SCALE, PALETTE, apply_layout, empty_figure
from .words import MAX_TABLE_ROWS, Cell, Table, listing, num, pct, say, sentences


def topk_bars(preds: list, title: str, net: str | None = None) -> go.Figure:
    """Horizontal bars of class probabilities, the most likely on top.

    Args: preds: [(class name, probability in [0, 1])]. title: e.g. the model's name. net: the model's name for the
        takeaway ("resnet-20 reads this image as 7 with 93.0% probability; next is 1 at 4.0%.").
    Returns: one Bar trace, x in percent.
    """
    preds = sorted(preds, key=lambda p: p[1], reverse=True)
    x = [100 * float(p) for _x, p in preds]
    fig = go.Figure(go.Bar(x=x, y=plot_texts(c for c, _x in preds), orientation="h", marker_color=PALETTE[0],
                           text=[pct(v) for v in x], textposition="auto"))
    fig.update_xaxes(title_text=_("probability (%)"), range=[0, 100])
    fig.update_yaxes(autorange="reversed", type="category")
    table = Table((_("rank"), _("class"), _("probability (%)")),
                  tuple((i + 1, str(c), round(v, 3)) for i, ((c, _x), v) in enumerate(zip(preds, x, strict=True))))
    say(fig, topk_takeaway([(str(c), v) for (c, _x), v in zip(preds, x, strict=True)], net), table)
    return apply_layout(fig, title, height=120 + 45 * max(1, len(preds)))


def topk_takeaway(shown: list[tuple[str, float]], net: str | None = None) -> str:
    """The top class and its probability, and the runner-up: `shown` is [(class, probability in %)], best first."""
    who = net or _("The model")
    if not shown:
        return _("{net} gives no class probabilities for this image.").format(net=who)
    (top, p), rest = shown[0], shown[1:]
    if not rest:
        return _("{net} reads this image as {top} with {probability} probability.").format(net=who, top=top,
                                                                                          probability=pct(p))
    return _("{net} reads this image as {top} with {probability} probability; next is {second} at "
             "{second_probability}.").format(net=who, top=top, probability=pct(p), second=rest[0][0],
                                             second_probability=_small_pct(rest[0][1]))


def _small_pct(v: float) -> str:
    """'4.0%', or 'under 0.1%' for a probability that rounds to 0.0% but is not 0."""
    return _("under {share}").format(share=pct(0.1)) if 0 < v < 0.05 else pct(v)


def confusion_matrix(cm: np.ndarray, classes: list, net: str | None = None) -> go.Figure:
    """Counts of (true class, predicted class) on the test set, numbers printed in the cells.

    Args: cm: (K, K) array, cm[i][j] = images of class i predicted as j. classes: K names. net: the model's name
        for the takeaway (its accuracy and most confused pair).
    Returns: one Heatmap trace.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"The confusion matrix must be square with one row per class; got {cm.shape} "
                         f"for {len(classes)} classes.")
    names = plot_texts(classes)
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, text=cm, texttemplate="%{text}", colorscale="Blues",
                               colorbar=dict(title=_("images")),
                               hovertemplate=_("true {true}, predicted {predicted}: {count}").format(
                                   true="%{y}", predicted="%{x}", count="%{z}") + "<extra></extra>"))
    fig.update_xaxes(title_text=_("predicted class"), type="category", side="bottom")
    fig.update_yaxes(title_text=_("true class"), type="category", autorange="reversed")
    cells: list[tuple[Cell, ...]] = [(str(classes[i]), str(classes[j]), int(cm[i, j]))
                                     for i in range(len(classes)) for j in range(len(classes))]
    table = Table((_("true class"), _("predicted class"), _("images")), tuple(cells[:MAX_TABLE_ROWS]),
                  max(0, len(cells) - MAX_TABLE_ROWS))
    say(fig, confusion_takeaway(cm, [str(c) for c in classes], net), table)
    return apply_layout(fig, _("Confusion matrix (test set)"), height=max(420, 40 * len(names) + 150))


def confusion_takeaway(cm: np.ndarray, classes: list[str], net: str | None = None) -> str:
    """The accuracy on the matrix's images, and its largest off-diagonal cell (the most confused pair)."""
    who = net or _("The model")
    total = int(cm.sum())
    if total == 0:
        return _("{net} has no test images scored in this matrix.").format(net=who)
    right = int(np.trace(cm))
    known = dict(net=who, right=count(right), total=count(total), share=pct(100 * right / total))
    wrong = cm.astype(np.int64) - np.diag(np.diag(cm)).astype(np.int64)
    if wrong.max() <= 0:
        return _("{net} classifies {right} of {total} test images correctly ({share}) and confuses no pair of "
                 "classes.").format(**known)
    i, j = np.unravel_index(int(wrong.argmax()), wrong.shape)
    most = int(wrong[i, j])
    return ngettext("{net} classifies {right} of {total} test images correctly ({share}); its most common mistake is "
                    "reading a true {true} as {predicted} ({n} image).",
                    "{net} classifies {right} of {total} test images correctly ({share}); its most common mistake is "
                    "reading a true {true} as {predicted} ({n} images).", most).format(
        true=classes[i], predicted=classes[j], n=count(most), **known)


def _rgb(image: np.ndarray) -> np.ndarray:
    """An HxW or HxWxC image in [0, 1] as HxWx3 uint8."""
    img = np.clip(np.nan_to_num(np.asarray(image, dtype=float)), 0.0, 1.0)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"An image must be HxW or HxWx3; got shape {img.shape}.")
    return np.round(img[:, :, :3] * 255).astype(np.uint8)


def _bare_axes(fig: go.Figure) -> None:
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")


def attribution_overlay(image: np.ndarray, amap: np.ndarray, opacity: float = 0.5, title: str = "",
                        subject: str | None = None) -> go.Figure:
    """The image with an attribution map laid over it (low values transparent), no ticks, square pixels.

    Args:
        image: (H, W) or (H, W, 3) floats in [0, 1]. amap: (h, w) map, stretched over the image if smaller.
        opacity: 0 (image only) to 1. title: e.g. "resnet-20: Grad-CAM".
        subject: what the map is, for the takeaway, e.g. "resnet-20's Grad-CAM map for '7'".
    Returns: an Image trace and a Heatmap trace (the map scaled to [0, 1]).
    """
    rgb = _rgb(image)
    raw = np.nan_to_num(np.asarray(amap, dtype=float))
    if raw.ndim != 2:
        raise ValueError(f"An attribution map must be 2-D (H, W); got shape {raw.shape}.")
    span = raw.max() - raw.min()
    amap = (raw - raw.min()) / span if span > 0 else np.zeros_like(raw)
    dy, dx = rgb.shape[0] / amap.shape[0], rgb.shape[1] / amap.shape[1]
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=amap, x0=dx / 2 - 0.5, dx=dx, y0=dy / 2 - 0.5, dy=dy, colorscale=OVERLAY_SCALE,
                             opacity=float(np.clip(opacity, 0.0, 1.0)), zmin=0, zmax=1, showscale=False,
                             hovertemplate=_("attribution {value}").format(value="%{z:.2f}") + "<extra></extra>"))
    _bare_axes(fig)
    fig.update_yaxes(scaleanchor="x", autorange="reversed")
    takeaway, table = _overlay_words(amap, raw, rgb.shape[:2], subject or _("The attribution map"))
    say(fig, takeaway, table)
    fig = apply_layout(fig, title, height=420)
    fig.update_layout(margin=dict(t=60, l=10, r=10, b=10))
    return fig


TOP_SHARE = 0.10  # "where the heat concentrates": the share of the map's total in its brightest tenth of cells
_REGIONS = ((N_("top-left"), N_("top"), N_("top-right")), (N_("left"), N_("central"), N_("right")),
            (N_("bottom-left"), N_("bottom"), N_("bottom-right")))


def _overlay_words(shown: np.ndarray, raw: np.ndarray, size: tuple[int, int], subject: str) -> tuple[str, Table]:
    """Where the drawn map (`shown`, scaled to [0, 1]) puts its weight: the share in its brightest TOP_SHARE of
    cells, and the peak's place on the image (`size`: its H, W). The table adds the raw map's max and mean."""
    flat = np.sort(shown.ravel())[::-1]
    top = max(1, math.ceil(TOP_SHARE * flat.size))
    total = float(flat.sum())
    i, j = np.unravel_index(int(shown.argmax()), shown.shape)
    row, col = (i + 0.5) / shown.shape[0], (j + 0.5) / shown.shape[1]  # the peak cell's centre, 0..1 of the image
    where = _(_REGIONS[min(2, int(3 * row))][min(2, int(3 * col))])  # the image cut in thirds each way
    rows: list[tuple[Cell, ...]] = [(_("map cells"), f"{shown.shape[0]}×{shown.shape[1]}"),
                                    (_("image pixels"), f"{size[0]}×{size[1]}"),
                                    (_("largest value (raw map)"), num(float(raw.max()))),
                                    (_("mean value (raw map)"), num(float(raw.mean())))]
    columns = (_("measure"), _("value"))
    if total <= 0:
        return (_("{subject} is flat: it gives no part of the image more weight than another.").format(
            subject=subject), Table(columns, tuple(rows)))
    share = 100 * float(flat[:top].sum()) / total
    brightest = pct(100 * TOP_SHARE, 0)
    rows += [(_("share of the map in its brightest {share} of cells").format(share=brightest), pct(share)),
             (_("peak cell (row, column of the map)"), f"{i + 1}, {j + 1}"), (_("peak's place on the image"), where)]
    return (_("{subject} puts {share} of its weight in its brightest {brightest} of cells; it peaks in the {where} "
              "part of the image.").format(subject=subject, share=pct(share, 0), brightest=brightest, where=where),
            Table(columns, tuple(rows)))


def sample_strip(images: list, labels: list, what: str | None = None, table: Table | None = None) -> go.Figure:
    """A row of small images with their labels above them (e.g. one sample per class).

    Args: images: (H, W) or (H, W, 3) arrays in [0, 1]. labels: one string per image.
        what: what the images are, the takeaway's start ("Test images resnet-20 gets most confidently wrong").
        table: the numbers behind the images (e.g. `mistakes_table`); default: image number and label.
    Returns: one Image trace per image.
    """
    if len(images) != len(labels):
        raise ValueError(f"Give one label per image; got {len(images)} images and {len(labels)} labels.")
    what = _("Images") if what is None else what
    if not images:
        return say(empty_figure(_("Samples"), _("No images to show.")), _("{what}: none to show.").format(what=what))
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=plot_texts(labels),
                        horizontal_spacing=0.01)
    for col, img in enumerate(images, start=1):
        fig.add_trace(go.Image(z=_rgb(img), hoverinfo="skip"), row=1, col=col)
    _bare_axes(fig)
    shown = [str(lb) for lb in labels]
    say(fig, _("{what}, {n} in all, labelled {labels}.").format(what=what, n=len(shown), labels=listing(shown)),
        table or Table((_("image"), _("label")), tuple((i + 1, lb) for i, lb in enumerate(shown))))
    fig = apply_layout(fig, "", height=170)
    fig.update_layout(margin=dict(t=40, l=5, r=5, b=5))
    return fig


def mistakes_strip(shown: list, classes: list, what: str) -> go.Figure:
    """Test images with what the model made of them, as a strip labelled "#index: true→predicted confidence".

    Args: shown: rows of explorer.analysis.evaluation.confusion_and_mistakes or confusion_cell ({"index", "true",
        "predicted", "confidence", "image"}). classes: the class names. what: the takeaway's start.
    Returns: `sample_strip` with a table of each image's test index, true and predicted class and confidence.
    """
    labels = [f"#{m['index']}: {classes[m['true']]}→{classes[m['predicted']]} {pct(100 * m['confidence'], 0)}"
              for m in shown]
    table = Table((_("test image"), _("true class"), _("predicted class"), _("confidence (%)")),
                  tuple((int(m["index"]), str(classes[m["true"]]), str(classes[m["predicted"]]),
                         round(100 * float(m["confidence"]), 1)) for m in shown))
    fig = sample_strip([m["image"] for m in shown], labels, what, table)
    if not shown:
        return fig
    each = [_("test image {index} ({true} read as {predicted}, {confidence} sure)").format(
        index=m["index"], true=classes[m["true"]], predicted=classes[m["predicted"]],
        confidence=pct(100 * m["confidence"], 0)) for m in shown]
    return say(fig, _("{what}: {images}.").format(what=what, images=listing(each)), table)


# ----------------------------------------------------------------------------- the papers' numbers


def image_grid(images: list, title: str, columns: int = 8, labels: list | None = None,
               rescale: bool = True, item: str = "image") -> go.Figure:
    """Small images in rows of `columns` (feature maps of one layer, or first-layer filters), no ticks.

    Args:
        images: (H, W) or (H, W, 3) arrays. title: e.g. "resnet-20: layer1.0". labels: one per image, or None.
        rescale: stretch each image to [0, 1] on its own (feature maps); False: values are already in [0, 1].
        item: what one image is, in the takeaway ("channel": "channel 5", counting from 1).
    Returns: one Image trace per image, in a grid of subplots; its takeaway names the strongest image and the
        all-zero ones, its table each image's label, max and mean (before any rescaling).
    """
    if not images:
        return say(empty_figure(title, _("No images to show.")), _("{title}: no images to show.").format(title=title))
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"Give one label per image; got {len(images)} images and {len(labels)} labels.")
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    fig = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.01, vertical_spacing=0.03 if labels is None
                        else 0.08, subplot_titles=plot_texts(labels) if labels is not None else None)
    raw = [np.nan_to_num(np.asarray(img, dtype=float)) for img in images]
    say(fig, *_grid_words(raw, title, labels, rescale, item))
    for i, img in enumerate(raw):
        if rescale:
            span = img.max() - img.min()
            img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
        fig.add_trace(go.Image(z=_rgb(img), hoverinfo="skip"), row=i // columns + 1, col=i % columns + 1)
    _bare_axes(fig)
    fig = apply_layout(fig, title, height=80 + rows * min(200, max(60, 640 // columns)))  # cells roughly square
    fig.update_layout(margin=dict(t=60, l=5, r=5, b=5))
    return fig


def _grid_words(images: list[np.ndarray], title: str, labels: list | None, rescale: bool,
                item: str) -> tuple[str, Table]:
    """What a grid shows: how many images, the one with the largest value, and how many are zero everywhere."""
    names = [str(labels[i]) if labels is not None else _item(item, i + 1) for i in range(len(images))]
    peaks = [float(img.max()) for img in images]
    rows = tuple((i + 1, names[i], round(peaks[i], 6), round(float(img.mean()), 6)) for i, img in enumerate(images))
    table = Table((_(ITEMS.get(item, item)), _("label"), _("largest value"), _("mean value")), rows)
    if len(images) == 1:
        one = _("{title}: one image, {label}.").format(title=title, label=names[0]) if labels is not None else \
            _("{title}: one image.").format(title=title)
        return one, table
    many = _items(item, len(images))
    text = (_("{title}: {items}, each scaled to its own range.") if rescale else
            _("{title}: {items}, shown as they are.")).format(title=title, items=many)
    best = int(np.argmax(peaks))
    dead = sum(1 for img in images if not img.any())
    largest = _("The largest value is in {image} ({value}); {dead} of {n} are zero everywhere.") if dead else \
        _("The largest value is in {image} ({value}).")
    return sentences(text, largest.format(image=names[best], value=num(peaks[best]), dead=dead, n=len(images))), table


ITEMS = {"image": N_("image"), "channel": N_("channel"), "filter": N_("filter")}  # what one image of a grid is


def _item(item: str, n: int) -> str:
    """'channel 5': one image of a grid by its number (counting from 1)."""
    if item == "channel":
        return _("channel {n}").format(n=n)
    if item == "filter":
        return _("filter {n}").format(n=n)
    if item == "image":
        return _("image {n}").format(n=n)
    return f"{item} {n}"


def _items(item: str, n: int) -> str:
    """'64 channels': how many images a grid shows."""
    if item == "channel":
        return ngettext("{n} channel", "{n} channels", n).format(n=n)
    if item == "filter":
        return ngettext("{n} filter", "{n} filters", n).format(n=n)
    if item == "image":
        return ngettext("{n} image", "{n} images", n).format(n=n)
    return f"{n} {item}s"
