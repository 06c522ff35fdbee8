"""Figures of images: predictions, confusion matrices, attribution overlays, sample strips, feature maps.

Pure plotly functions of plain data (explorer.figures re-exports them); no Streamlit.
Size budget: ~200 lines.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..text import plot_texts
from .style import OVERLAY_SCALE, PALETTE, apply_layout, empty_figure


def topk_bars(preds: list, title: str) -> go.Figure:
    """Horizontal bars of class probabilities, the most likely on top.

    Args: preds: [(class name, probability in [0, 1])]. title: e.g. the model's name.
    Returns: one Bar trace, x in percent.
    """
    preds = sorted(preds, key=lambda p: p[1], reverse=True)
    x = [100 * float(p) for _, p in preds]
    fig = go.Figure(go.Bar(x=x, y=plot_texts(c for c, _ in preds), orientation="h", marker_color=PALETTE[0],
                           text=[f"{v:.1f}%" for v in x], textposition="auto"))
    fig.update_xaxes(title_text="probability (%)", range=[0, 100])
    fig.update_yaxes(autorange="reversed", type="category")
    return apply_layout(fig, title, height=120 + 45 * max(1, len(preds)))


def confusion_matrix(cm: np.ndarray, classes: list) -> go.Figure:
    """Counts of (true class, predicted class) on the test set, numbers printed in the cells.

    Args: cm: (K, K) array, cm[i][j] = images of class i predicted as j. classes: K names.
    Returns: one Heatmap trace.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"The confusion matrix must be square with one row per class; got {cm.shape} "
                         f"for {len(classes)} classes.")
    names = plot_texts(classes)
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, text=cm, texttemplate="%{text}", colorscale="Blues",
                               colorbar=dict(title="images"),
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_xaxes(title_text="predicted class", type="category", side="bottom")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    return apply_layout(fig, "Confusion matrix (test set)", height=max(420, 40 * len(names) + 150))


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


def attribution_overlay(image: np.ndarray, amap: np.ndarray, opacity: float = 0.5, title: str = "") -> go.Figure:
    """The image with an attribution map laid over it (low values transparent), no ticks, square pixels.

    Args:
        image: (H, W) or (H, W, 3) floats in [0, 1]. amap: (h, w) map, stretched over the image if smaller.
        opacity: 0 (image only) to 1. title: e.g. "resnet-20: Grad-CAM".
    Returns: an Image trace and a Heatmap trace (the map scaled to [0, 1]).
    """
    rgb = _rgb(image)
    amap = np.nan_to_num(np.asarray(amap, dtype=float))
    if amap.ndim != 2:
        raise ValueError(f"An attribution map must be 2-D (H, W); got shape {amap.shape}.")
    span = amap.max() - amap.min()
    amap = (amap - amap.min()) / span if span > 0 else np.zeros_like(amap)
    dy, dx = rgb.shape[0] / amap.shape[0], rgb.shape[1] / amap.shape[1]
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=amap, x0=dx / 2 - 0.5, dx=dx, y0=dy / 2 - 0.5, dy=dy, colorscale=OVERLAY_SCALE,
                             opacity=float(np.clip(opacity, 0.0, 1.0)), zmin=0, zmax=1, showscale=False,
                             hovertemplate="attribution %{z:.2f}<extra></extra>"))
    _bare_axes(fig)
    fig.update_yaxes(scaleanchor="x", autorange="reversed")
    fig = apply_layout(fig, title, height=420)
    fig.update_layout(margin=dict(t=60, l=10, r=10, b=10))
    return fig


def sample_strip(images: list, labels: list) -> go.Figure:
    """A row of small images with their labels above them (e.g. one sample per class).

    Args: images: (H, W) or (H, W, 3) arrays in [0, 1]. labels: one string per image.
    Returns: one Image trace per image.
    """
    if len(images) != len(labels):
        raise ValueError(f"Give one label per image; got {len(images)} images and {len(labels)} labels.")
    if not images:
        return empty_figure("Samples", "No images to show.")
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=plot_texts(labels),
                        horizontal_spacing=0.01)
    for col, img in enumerate(images, start=1):
        fig.add_trace(go.Image(z=_rgb(img), hoverinfo="skip"), row=1, col=col)
    _bare_axes(fig)
    fig = apply_layout(fig, "", height=170)
    fig.update_layout(margin=dict(t=40, l=5, r=5, b=5))
    return fig


# ----------------------------------------------------------------------------- the papers' numbers


def image_grid(images: list, title: str, columns: int = 8, labels: list | None = None,
               rescale: bool = True) -> go.Figure:
    """Small images in rows of `columns` (feature maps of one layer, or first-layer filters), no ticks.

    Args:
        images: (H, W) or (H, W, 3) arrays. title: e.g. "resnet-20: layer1.0". labels: one per image, or None.
        rescale: stretch each image to [0, 1] on its own (feature maps); False: values are already in [0, 1].
    Returns: one Image trace per image, in a grid of subplots.
    """
    if not images:
        return empty_figure(title, "No images to show.")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"Give one label per image; got {len(images)} images and {len(labels)} labels.")
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    fig = make_subplots(rows=rows, cols=columns, horizontal_spacing=0.01, vertical_spacing=0.03 if labels is None
                        else 0.08, subplot_titles=plot_texts(labels) if labels is not None else None)
    for i, img in enumerate(images):
        img = np.nan_to_num(np.asarray(img, dtype=float))
        if rescale:
            span = img.max() - img.min()
            img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
        fig.add_trace(go.Image(z=_rgb(img), hoverinfo="skip"), row=i // columns + 1, col=i % columns + 1)
    _bare_axes(fig)
    fig = apply_layout(fig, title, height=80 + rows * min(200, max(60, 640 // columns)))  # cells roughly square
    fig.update_layout(margin=dict(t=60, l=5, r=5, b=5))
    return fig
