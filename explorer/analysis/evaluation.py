"""Evaluating a trained classifier: error rate, test examples, the confusion matrix and confident mistakes.

`eval_no_grad` is the one way this package runs a model for measuring: eval mode, no autograd, the caller's
mode restored afterwards.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data.datasets import Dataset, normalize, test_batches
from ..data.images import tensor_to_display
from ..nets.weights import Explainable

_BATCH = 1024  # images per forward pass inside loss_at


def check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse an empty or mismatched set of images and labels with one sentence."""
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"Images and labels must be non-empty and the same count; got {x.shape[0]} and {y.shape[0]}.")


@contextlib.contextmanager
def eval_no_grad(model: nn.Module) -> Iterator[None]:
    """Eval mode (BN uses its running stats and does not update them) and no autograd; mode restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, training in modes:
            m.training = training


def error_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Fraction of misclassified images, in batches; call inside `eval_no_grad`."""
    device = next(model.parameters()).device
    wrong = torch.zeros((), dtype=torch.long, device=device)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size].to(device)
        yb = y[start:start + batch_size].to(device)
        wrong += (model(xb).argmax(dim=1) != yb).sum()
    return wrong.item() / x.shape[0]


def test_example(dataset: Dataset, index: int) -> tuple:
    """One test image: (x (1, C, H, W) normalised, view in [0, 1], true label)."""
    if not 0 <= index < len(dataset.y_test):
        raise ValueError(f"Pick a test image from 0 to {len(dataset.y_test) - 1}; got {index}.")
    raw = dataset.x_test[index : index + 1]  # (1, C, H, W) uint8
    x = normalize(raw, dataset.preprocessing)
    return x, tensor_to_display(x, dataset.preprocessing), int(dataset.y_test[index])


def confusion_and_mistakes(model: torch.nn.Module, dataset: Dataset, top: int = 8,
                           batch_size: int = 256) -> tuple:
    """The test-set confusion matrix and the test images the model gets most confidently wrong.

    Args:
        model: a classifier for the dataset (its train/eval mode is restored afterwards).
        dataset: with x_test (M, C, H, W) uint8 and its preprocessing. top: how many mistakes to return.
    Returns:
        (cm, mistakes): cm is a (K, K) int64 array, cm[i, j] = images of class i predicted as j; mistakes is a
        list of {"index", "true", "predicted", "confidence", "image"} (image (H, W) or (H, W, 3) in [0, 1]),
        highest confidence in the wrong class first.
    """
    k = dataset.preprocessing.num_classes
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    batches = []
    try:
        with torch.no_grad():
            for x, _ in test_batches(dataset, batch_size):
                batches.append(torch.softmax(model(x.to(device)).float(), dim=1).cpu())  # (B, K)
    finally:
        model.train(was_training)
    probs = torch.cat(batches) if batches else torch.zeros(0, k)  # (M, K)
    confidence, predicted = probs.max(dim=1)
    truth = dataset.y_test.cpu()
    cm = torch.bincount(truth * k + predicted, minlength=k * k).reshape(k, k).numpy().astype(np.int64)
    wrong = (predicted != truth).nonzero().flatten()
    wrong = wrong[confidence[wrong].argsort(descending=True)][:top]
    mistakes = [{"index": int(i), "true": int(truth[i]), "predicted": int(predicted[i]),
                 "confidence": float(confidence[i]), "image": test_example(dataset, int(i))[1]} for i in wrong]
    return cm, mistakes


def test_metrics(net: Explainable, data: Dataset) -> dict[str, float | None]:
    """{"test_loss", "test_error"} of a shipped net on the test set (its training metrics were not shipped)."""
    from ..data.datasets import normalize
    x = normalize(data.x_test, net.preprocessing)
    with eval_no_grad(net.model):
        error = error_rate(net.model, x, data.y_test, batch_size=512)
    return {"test_loss": loss_at(net.model, x, data.y_test), "test_error": error, "train_loss": None,
            "train_error": None}


def loss_at(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy of the model on (x, y) in eval mode: BN running statistics fixed and untouched.

    Args:
        model: any classifier.
        x: (N, C, H, W) images; y: (N,) integer labels.
    Returns:
        the mean loss over the N images, as a float.
    """
    check_pair(x, y)
    device = next(model.parameters()).device
    total = torch.zeros((), device=device)
    with eval_no_grad(model):
        for start in range(0, x.shape[0], _BATCH):
            xb = x[start:start + _BATCH].to(device)
            yb = y[start:start + _BATCH].to(device)
            total += F.cross_entropy(model(xb).float(), yb, reduction="sum")
    return total.item() / x.shape[0]


def confusion_cell(model: nn.Module, dataset: Dataset, true_class: int, predicted_class: int, limit: int = 24,
                   batch_size: int = 256) -> list:
    """The test images of one confusion-matrix cell: true class `true_class`, predicted as `predicted_class`.

    Args:
        model: a classifier for the dataset (its mode is restored afterwards). limit: at most this many images.
    Returns:
        [{"index", "true", "predicted", "confidence", "image"}], most confident first (image in [0, 1]).
    """
    k = dataset.preprocessing.num_classes
    if not (0 <= true_class < k and 0 <= predicted_class < k):
        raise ValueError(f"A confusion-matrix cell needs two classes from 0 to {k - 1}.")
    device = next(model.parameters()).device
    probs = []
    with eval_no_grad(model):
        for x, _ in test_batches(dataset, batch_size):
            probs.append(torch.softmax(model(x.to(device)).float(), dim=1).cpu())  # (B, K)
    confidence, predicted = torch.cat(probs).max(dim=1)
    truth = dataset.y_test.cpu()
    hits = ((truth == true_class) & (predicted == predicted_class)).nonzero().flatten()
    hits = hits[confidence[hits].argsort(descending=True)][:limit]
    return [{"index": int(i), "true": true_class, "predicted": predicted_class, "confidence": float(confidence[i]),
             "image": test_example(dataset, int(i))[1]} for i in hits]
