"""Take it home: one self-contained PyTorch script that retrains an experiment outside the app.

The script is written from the library's own source (explorer.training.bundle): the nets, the recipe, the
batches and the loop of explorer.training.takehome, only the parts this experiment uses (its placements,
shortcuts and blocks, its dataset's loader). The experiment itself is Python values at the top. Data that
torchvision cannot fetch (the built-in digits, an image folder) is the app's exact split, compressed, at the end.
On the same device and seed the script reproduces the app's training errors up to floating-point noise.
"""
from __future__ import annotations

import base64
import lzma
from collections.abc import Callable

import torch

from ..data.datasets import Dataset, dataset_info, preprocessing_for
from ..data.registry import DATASETS
from ..i18n import _
from ..nets.blocks import RESHAPES, UNITS
from ..nets.config import ModelConfig
from ..nets.kinds import BLOCKS, PLACEMENTS, SHORTCUTS
from . import takehome
from .bundle import Bundle
from .experiments import ExperimentSpec
from .recipes import TrainConfig

MAX_EMBEDDED_BYTES = 32 * 2**20  # larger image folders are refused (the script would be too big to download)
# The script's loader per torchvision class (a dataset's record names its class, DatasetSpec.torchvision); a
# dataset torchvision cannot fetch (no class: digits, folders, any other) goes into the script: takehome.unpack.
LOADERS = {"MNIST": takehome.load_mnist, "FashionMNIST": takehome.load_fashion_mnist, "CIFAR10": takehome.load_cifar10}
REGISTRIES = ((PLACEMENTS, "placement"), (SHORTCUTS, "shortcut"), (BLOCKS, "block"),
              (UNITS, "block"))  # and the field naming an entry
PREPROCESSING_KEYS = ("classes", "scale", "mean", "std", "augment")  # what the script reads (no server paths)

DOCSTRING = '''"""ResNet Explorer, take-home script: retrain one experiment with PyTorch alone.

Run: python THIS_FILE.py [--device cpu] [--epochs N] [--data-dir DIR] [--save-dir DIR] [--json FILE]
Needs PyTorch (and torchvision for MNIST, Fashion-MNIST or CIFAR-10), nothing of ResNet Explorer.

The nets follow He et al. 2015 ("Deep Residual Learning for Image Recognition") and He et al. 2016 ("Identity
Mappings in Deep Residual Networks"): each unit computes y = after_add(F(x) + shortcut(x)); a plain net is the
same unit without the addition. All nets train in lockstep on the same batches, with the same augmentation,
from the same initial weights where their layers match, so the only difference between them is the shortcut.
On the same device and seed this reproduces the app's numbers up to floating-point noise.

Read it from the top: the experiment (what the app trained, as Python values you may change), then ResNet
Explorer's own code that it needs, each part under the path of its file in the library (the config, the
blocks, the builder, the recipe, the batches, the loop), and at the end the data.
"""'''


def export_script(spec: ExperimentSpec, data: Dataset | None = None, finals: dict | None = None,
                  title: str = "") -> str:
    """The take-home script for an experiment, as text.

    Args:
        spec: the experiment's nets, data, recipe and seed.
        data: its explorer.data.datasets.Dataset, when already loaded (needed only for embedded datasets, else
            loaded).
        finals: optional {net name: final metrics} the app recorded, printed beside the script's own.
        title: the experiment's id.
    Returns:
        Python source that imports only the standard library, torch and torchvision.
    Raises:
        ValueError: one sentence, when the data is too large to embed.
    """
    used: dict[int, dict[str, object]] = {
        id(registry): {k: v for k, v in registry.items() if k in {getattr(c, field) for _, c in spec.models}}
        for registry, field in REGISTRIES}
    labels = {SHORTCUTS[c.shortcut].label for _, c in spec.models}  # and the modules the used shortcuts are made of
    used[id(RESHAPES)] = {k: v for k, v in RESHAPES.items() if k in labels}
    bundle = Bundle(overrides=used)
    for registry, _kind in (*REGISTRIES, (RESHAPES, "")):  # they keep their names where another module uses the same
        bundle.name_for(bundle.where_defined(registry))
    for root in (ModelConfig, TrainConfig):  # what the experiment is made of comes first
        bundle.need_object(root)
    layout, packed, pre = _data(spec, data)
    experiment = _experiment(bundle, spec, layout, pre, finals or {}, title)
    main = bundle.need_object(takehome.main)
    block = "".join(packed[i: i + 76] + "\n" for i in range(0, len(packed), 76))
    data_block = ("# " + "-" * 77 + " the data\n"
                  + ("# The app's exact split (HomeExperiment.layout names its tensors), lzma-compressed and base64-"
                     "encoded;\n# unpack() reads it.\n" if packed else "# Downloaded at home by torchvision.\n")
                  + f'DATA_BLOCK = """\n{block}"""')
    guard = f'if __name__ == "__main__":\n    {main}(the_experiment())'
    parts = [DOCSTRING, bundle.render(after_imports=experiment), data_block, guard]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def _loader(spec: ExperimentSpec) -> Callable[[takehome.HomeExperiment, str], takehome.Split]:
    """How the script gets its data: torchvision's download where the dataset's record names a class, else unpack."""
    return LOADERS.get(DATASETS[spec.data.name].torchvision or "", takehome.unpack)


def _data(spec: ExperimentSpec, data: Dataset | None) -> tuple[tuple, str, dict]:
    """(layout, packed split, preprocessing) for the script: the app's exact split where torchvision cannot fetch it."""
    if _loader(spec) is not takehome.unpack:
        info = dataset_info(spec.data.name)
        shape = (1, info.in_channels, info.input_size, info.input_size)
        pre = preprocessing_for(spec.data, torch.zeros(shape, dtype=torch.uint8)).to_dict()  # mean, std: at home
        return (), "", {k: pre[k] for k in ("classes", "scale", "augment")}
    if data is None:
        from ..data.datasets import load_dataset
        data = load_dataset(spec.data)
    tensors = {k: getattr(data, k).detach().cpu().contiguous() for k in ("x_train", "y_train", "x_test", "y_test")}
    if sum(t.numel() * t.element_size() for t in tensors.values()) > MAX_EMBEDDED_BYTES:
        raise ValueError(_("This dataset is larger than {size} MB, too large to put inside a script; export an "
                           "experiment on a smaller one.").format(size=MAX_EMBEDDED_BYTES // 2**20))
    layout = tuple((k, str(t.dtype).replace("torch.", ""), tuple(t.shape)) for k, t in tensors.items())
    raw = b"".join(t.numpy().tobytes() for t in tensors.values())
    packed = base64.b64encode(lzma.compress(raw, preset=9)).decode("ascii")
    saved = data.preprocessing.to_dict()
    return layout, packed, {k: saved[k] for k in PREPROCESSING_KEYS if k in saved}


def _experiment(bundle: Bundle, spec: ExperimentSpec, layout: tuple, pre: dict, finals: dict, title: str) -> str:
    """`the_experiment()`: the experiment as Python values (every stored name goes in through repr, never raw)."""
    load = _loader(spec)
    subsets = (None, None) if load is takehome.unpack else (spec.data.train_subset, spec.data.test_subset)
    app_finals = {name: {k: v for k, v in m.items() if isinstance(v, (int, float))} for name, m in finals.items() if m}
    record = takehome.HomeExperiment(
        id=title, models=[(n, c) for n, c in spec.models], dataset=spec.data.name,
        load=load, preprocessing=pre, recipe=spec.train, subsets=subsets,
        layout=layout, app_finals=app_finals)
    call, kind = bundle.literal(record, 4, skip_defaults=True), bundle.need_object(takehome.HomeExperiment)
    if layout:  # the packed split is the block at the end of the file
        call = call[: call.rstrip().rindex(")")].rstrip() + "\n        packed=DATA_BLOCK,\n    )"
    return ("# " + "-" * 77 + " the experiment\n"
            f"def the_experiment() -> {kind}:\n"
            '    """What the app trained, as the app recorded it. Change a value to try a variant (the registries\n'
            "    below hold only the placements, shortcuts and blocks used here; the library has them all).\"\"\"\n"
            f"    return {call}")
