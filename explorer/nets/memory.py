"""Activation memory: what one forward and backward pass keeps alive, counted on the meta device, and the
server's budget that every in-process computation reserves it from.

Parameters and mult-adds do not bound activations: a CIFAR-style net 1,202 layers deep at width 0.125 on
512×512 images has 0.31 M parameters yet keeps ~3 GB for one image's backward pass (issue 19, finding 1).
`activation_profile` runs a model once on the meta device (shapes, no memory) and adds up every tensor autograd
saves for the backward pass (`torch.autograd.graph.saved_tensors_hooks`, each storage once, weights and buffers
left out), so the count is what PyTorch itself keeps, not a rule per layer type. `MemoryBudget` is the one
reservation object of a server process: each request takes its estimate before it allocates, waits a bounded
time in line when others hold the budget, and is refused with one sentence otherwise.
Size budget: ~200 lines.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ..i18n import _, decimal
from .caps import (
    ACTIVATION_BUDGET_BYTES,
    ACTIVATION_BUDGET_ENV,
    ACTIVATION_WAIT_S,
    MAX_REQUEST_ACTIVATION_BYTES,
    env_bytes,
)

# Besides what autograd keeps, a backward pass holds the gradient flowing back, the one it is computing and a
# temporary of the op running (e.g. BN's), each at most the largest activation; a forward pass without autograd
# holds an op's input, its output and a shortcut saved across the branch.
BACKWARD_LIVE = 3  # largest activations alive besides the saved ones while gradients flow back
FORWARD_LIVE = 3  # largest activations alive at once in a forward pass without autograd
# The count is of live tensors, and a process's peak resident memory matches it within 0.8-1.05x when the C
# allocator hands large blocks back at once (MALLOC_MMAP_THRESHOLD_=131072); with glibc's defaults freed blocks
# are kept and reused imperfectly, and the peak runs above live by an amount that varies with what ran before
# (up to 2x for a CPU training step). Estimates are live bytes times this (tests/test_hostile_memory.py measures).
ALLOCATOR_SLACK = 1.5


@dataclass(frozen=True)
class ActivationProfile:
    """Bytes one image costs a model in a pass, from shapes alone (`activation_profile`)."""

    saved: int  # bytes autograd keeps for the backward pass, per image
    largest: int  # bytes of the largest single activation (saved or not), per image
    constant: int = 0  # bytes whatever the batch (training: gradients and momentum of the weights)

    def backward_bytes(self, batch: int = 1) -> int:
        """Estimated peak of a forward and backward pass over `batch` images, bytes."""
        return int(ALLOCATOR_SLACK * (batch * (self.saved + BACKWARD_LIVE * self.largest) + self.constant))

    def forward_bytes(self, batch: int = 1) -> int:
        """Estimated peak of a forward pass without autograd (torch.no_grad) over `batch` images, bytes."""
        return int(ALLOCATOR_SLACK * batch * FORWARD_LIVE * self.largest)

    def images_that_fit(self, cap: int, backward: bool = True) -> int:
        """The most images one pass may take within `cap` bytes (0: not even one)."""
        cost = self.backward_bytes if backward else self.forward_bytes
        fixed = cost(0)
        n = max(0, (cap - fixed) // max(1, cost(1) - fixed))
        while n > 0 and cost(n) > cap:  # rounding
            n -= 1
        return n


def activation_profile(model: nn.Module, input_shape: tuple[int, ...], train: bool = False) -> ActivationProfile:
    """What one image costs `model` in activations, counted on the meta device (no real memory is touched).

    Args:
        model: any module; it is run through torch.func.functional_call with meta copies of its weights and
            buffers, so its own tensors are neither read nor changed (its train/eval flags are used as set for
            `train`, and restored).
        input_shape: one image, (C, H, W) or (1, C, H, W).
        train: False: an explanation's pass (eval mode, frozen weights, gradient with respect to the input);
            True: a training step (train mode, gradients for the weights, plus their gradients and momentum).
    Returns:
        An ActivationProfile (per image, measured at batch 2 so BatchNorm's train-mode check passes, then halved).
    Raises:
        ValueError: with one sentence when the model cannot run on the meta device at this shape.
    """
    shape = tuple(input_shape[-3:])
    weights = dict(model.named_parameters())
    meta = {name: torch.empty_like(t, device="meta").requires_grad_(train and name in weights and t.is_floating_point())
            for name, t in (weights | dict(model.named_buffers())).items()}
    own = {t.untyped_storage()._cdata for t in meta.values()}
    sizes: dict[int, int] = {}
    largest = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in own:
            sizes[storage._cdata] = storage.nbytes()
            largest[0] = max(largest[0], storage.nbytes())
        return t

    x = torch.empty((2, *shape), device="meta", requires_grad=not train)
    was_training = model.training
    try:
        model.train(train)
        with torch.inference_mode(False), torch.enable_grad(), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = functional_call(model, meta, (x,))
    except (RuntimeError, NotImplementedError, TypeError) as err:
        raise ValueError(_("The model could not read images of shape {shape}; check their size and channels "
                           "({error}).").format(shape=shape, error=str(err).splitlines()[0] if str(err) else
                                                type(err).__name__)) from None
    finally:
        model.train(was_training)
    out_bytes = out.untyped_storage().nbytes() if isinstance(out, torch.Tensor) else 0
    trained = sum(t.numel() * t.element_size() for t in meta.values() if t.requires_grad)
    return ActivationProfile(saved=sum(sizes.values()) // 2, largest=max(largest[0], out_bytes) // 2,
                             constant=2 * trained)  # SGD: a gradient and a momentum buffer per weight


def human_bytes(nbytes: int) -> str:
    """Bytes as people read them in a sentence: '3.2 GB', '180.0 MB', '52.1 kB'."""
    for unit, size in (("GB", 1e9), ("MB", 1e6)):
        if nbytes >= size:
            return f"{decimal(nbytes / size, 1)} {unit}"
    return f"{decimal(nbytes / 1e3, 1)} kB"


# ----------------------------------------------------------------------------- the server's budget
def activation_budget_bytes() -> int:
    """The server's activation budget: EXPLORER_ACTIVATION_BUDGET_MB (megabytes, > 0), else the default."""
    return env_bytes(ACTIVATION_BUDGET_ENV, ACTIVATION_BUDGET_BYTES)


class MemoryBusy(ValueError):
    """The server's activation budget stayed taken by other requests for longer than a request may wait."""


class MemoryBudget:
    """Bytes of activation memory that the computations of one process (every session's thread) share.

    `reserve(n)` holds n bytes for the duration of a `with` block. Requests are served first come, first served:
    one that does not fit waits in line (at most `wait_s`), and the ones behind it wait too, so a large
    request is not starved by a stream of small ones. A request larger than the whole budget is refused at once.
    """

    def __init__(self, total: int, wait_s: float = ACTIVATION_WAIT_S) -> None:
        self.total, self.wait_s, self.used = int(total), float(wait_s), 0
        self._line: list[object] = []  # tickets of the requests waiting, oldest first
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, nbytes: int, what: str | None = None) -> Iterator[None]:
        """Hold `nbytes` of the budget while the block runs; refused with one sentence (ValueError) when it can
        never fit, or MemoryBusy when the budget stays taken for `wait_s`."""
        nbytes = max(0, int(nbytes))
        if nbytes > self.total:
            raise ValueError(_("{what} would need about {need} of memory, more than this server lets all its "
                               "sessions use at once ({total}).").format(
                what=what or _("This computation"), need=human_bytes(nbytes), total=human_bytes(self.total)))
        ticket = object()
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            self._line.append(ticket)
            try:
                while self._line[0] is not ticket or self.used + nbytes > self.total:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise MemoryBusy(_("The server is busy with other large computations; try again in a "
                                           "moment."))
                    self._changed.wait(left)
            finally:
                self._line.remove(ticket)
                self._changed.notify_all()
            self.used += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.used -= nbytes
                self._changed.notify_all()

    def resize(self, total: int) -> None:
        """Change the total (a deployment's setting read again); reservations held keep their bytes."""
        with self._changed:
            self.total = int(total)
            self._changed.notify_all()


_SERVER = MemoryBudget(ACTIVATION_BUDGET_BYTES)


def server_budget() -> MemoryBudget:
    """The process's one MemoryBudget, sized by EXPLORER_ACTIVATION_BUDGET_MB as it is set now."""
    total = activation_budget_bytes()
    if total != _SERVER.total:
        _SERVER.resize(total)
    return _SERVER


def request_cap() -> int:
    """The most activation memory one request (an explanation) may hold: MAX_REQUEST_ACTIVATION_BYTES, or the
    whole server budget (EXPLORER_ACTIVATION_BUDGET_MB) where that is smaller."""
    return min(MAX_REQUEST_ACTIVATION_BYTES, server_budget().total)
