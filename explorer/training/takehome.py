"""ResNet Explorer, take-home script: rebuild an experiment's nets, data split, recipe and seed, and retrain them.

Needs only PyTorch (and torchvision for MNIST, Fashion-MNIST or CIFAR-10): no import of ResNet Explorer.
Run: python THIS_FILE.py [--device cpu] [--epochs N] [--data-dir DIR] [--save-dir DIR]

The nets follow He et al. 2015 ("Deep Residual Learning for Image Recognition") and He et al. 2016 ("Identity
Mappings in Deep Residual Networks"): each unit computes y = after_add(F(x) + shortcut(x)); a plain net is the
same unit without the addition. All nets train in lockstep on the same batches, with the same augmentation,
from the same initial weights where their layers match, so the only difference between them is the shortcut.
On the same device and seed this reproduces the app's numbers up to floating-point noise.

(Inside ResNet Explorer this file is the template that explorer.training.export fills in; EXPERIMENT and
EMBEDDED_DATA below are replaced by the experiment's own values.)
"""
import argparse
import base64
import dataclasses
import gzip
import json
import math
import os
import time
import zlib

import torch
from torch import nn

EXPERIMENT = None  # {"kind", "models": [{"name", "model"}], "data", "train"}: filled in by the export
EMBEDDED_DATA = None  # {"x_train", ...: {"shape", "dtype", "data": base64 of zlib}} or None: torchvision data


# ----------------------------------------------------------------------------- the nets (He et al. 2015, 2016)
def conv3x3(cin, cout, stride=1, bias=False):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=bias)


def conv1x1(cin, cout, stride=1, bias=False):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=bias)


def make_norm(norm, channels):
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


class ZeroPadShortcut(nn.Module):
    """Option A: identity; where the shape changes, subsample by the stride and append zero channels."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.cout > self.cin:
            x = torch.cat([x, x.new_zeros(x.shape[0], self.cout - self.cin, x.shape[2], x.shape[3])], dim=1)
        return x


class Projection(nn.Sequential):
    """Options B/C: a strided 1x1 conv followed by BN."""

    def __init__(self, cin, cout, stride, norm):
        super().__init__(conv1x1(cin, cout, stride, bias=norm == "none"), make_norm(norm, cout))


def make_shortcut(kind, cin, cout, stride, norm):
    same = cin == cout and stride == 1
    if kind == "none":
        return None
    if kind == "A":
        return nn.Identity() if same else ZeroPadShortcut(cin, cout, stride)
    if kind == "B":
        return nn.Identity() if same else Projection(cin, cout, stride, norm)
    return Projection(cin, cout, stride, norm)


# Where BN and ReLU sit: (before each conv, after each inner conv, after the last conv, after the addition,
# what zero-init zeroes: the branch's last BN, its last conv, or nothing).
PLACEMENTS = {
    "original": ((), ("bn", "relu"), ("bn",), ("relu",), "bn"),
    "no_final_relu": ((), ("bn", "relu"), ("bn",), (), "bn"),
    "bn_after_add": ((), ("bn", "relu"), (), ("bn", "relu"), None),
    "relu_before_add": ((), ("bn", "relu"), ("bn", "relu"), (), None),
    "relu_preact": (("relu",), ("bn",), ("bn",), (), "bn"),
    "full_preact": (("bn", "relu"), (), (), (), "conv"),
}


class Unit(nn.Module):
    """One residual unit (basic: two 3x3 convs; bottleneck: 1x1, 3x3, 1x1 with expansion 4)."""

    def __init__(self, block, cin, planes, stride, shortcut, placement, norm, activated=False):
        super().__init__()
        pre, post, last, after_add, _ = PLACEMENTS[placement]
        self.expansion = 4 if block == "bottleneck" else 1
        cout = planes * self.expansion
        bias = norm == "none"
        if block == "bottleneck":  # 1x1 reduce, 3x3 with the stride, 1x1 expand
            plan = [(cin, planes, lambda i, o: conv1x1(i, o, 1, bias)),
                    (planes, planes, lambda i, o: conv3x3(i, o, stride, bias)),
                    (planes, cout, lambda i, o: conv1x1(i, o, 1, bias))]
        else:  # two 3x3 convs, the first with the stride
            plan = [(cin, planes, lambda i, o: conv3x3(i, o, stride, bias)),
                    (planes, planes, lambda i, o: conv3x3(i, o, 1, bias))]
        self.branch_names, self.after_names = [], []
        for i, (a, b, make) in enumerate(plan, start=1):
            self._ops(() if activated and i == 1 else pre, i, a, norm)  # the stem already activated it
            setattr(self, f"conv{i}", make(a, b))
            self.branch_names.append(f"conv{i}")
            self._ops(last if i == len(plan) else post, i, b, norm)
        for op in after_add:
            setattr(self, f"{op}_out", make_norm(norm, cout) if op == "bn" else nn.ReLU())
            self.after_names.append(f"{op}_out")
        self.shortcut = make_shortcut(shortcut, cin, cout, stride, norm)
        self.n_pre = 0 if activated else len(pre)
        self.preact_projection = self.n_pre > 0 and isinstance(self.shortcut, Projection)

    def _ops(self, ops, i, channels, norm):
        for op in ops:
            setattr(self, f"{op}{i}", make_norm(norm, channels) if op == "bn" else nn.ReLU())
            self.branch_names.append(f"{op}{i}")

    def forward(self, x):
        h = x
        for name in self.branch_names[:self.n_pre]:
            h = getattr(self, name)(h)
        out = h
        for name in self.branch_names[self.n_pre:]:
            out = getattr(self, name)(out)
        if self.shortcut is not None:
            out = out + self.shortcut(h if self.preact_projection else x)  # y = F(x) + x: this is the ResNet
        for name in self.after_names:
            out = getattr(self, name)(out)
        return out


IMAGENET_STAGES = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                   101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


def blocks_per_stage(cfg):
    if cfg.get("stage_blocks"):
        return tuple(cfg["stage_blocks"])
    if cfg["family"] == "imagenet":
        return IMAGENET_STAGES[cfg["depth"]][1]
    n = (cfg["depth"] - 2) // (3 * (3 if cfg["block"] == "bottleneck" else 2))
    return (n, n, n)


class ResNet(nn.Module):
    """Stem, stages of units (16/32/64 filters on CIFAR-style nets), global average pool, linear."""

    def __init__(self, cfg):
        super().__init__()
        pre = PLACEMENTS[cfg["placement"]][0]
        imagenet = cfg["family"] == "imagenet"
        widths = [max(1, round(w * cfg["width"])) for w in ((64, 128, 256, 512) if imagenet else (16, 32, 64))]
        bias = cfg["norm"] == "none"
        k, s, p = (7, 2, 3) if imagenet else (3, 1, 1)
        self.conv1 = nn.Conv2d(cfg["in_channels"], widths[0], k, stride=s, padding=p, bias=bias)
        self.bn1 = make_norm(cfg["norm"], widths[0])  # every stem is conv-BN-ReLU (He et al. 2016, appendix)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if imagenet else nn.Identity()
        cin, self.stages = widths[0], []
        for i, (planes, n) in enumerate(zip(widths, blocks_per_stage(cfg)), start=1):
            units = []
            for b in range(n):
                units.append(Unit(cfg["block"], cin, planes, (1 if i == 1 else 2) if b == 0 else 1, cfg["shortcut"],
                                  cfg["placement"], cfg["norm"], activated=bool(pre) and i == 1 and b == 0))
                cin = units[-1].expansion * planes
            setattr(self, f"layer{i}", nn.Sequential(*units))
            self.stages.append(f"layer{i}")
        self.bn_final = make_norm(cfg["norm"], cin) if "bn" in pre else nn.Identity()  # pre-activation nets
        self.relu_final = nn.ReLU() if "relu" in pre else nn.Identity()  # activate before the pool
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, cfg["num_classes"])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if cfg["init"] == "kaiming":  # He et al. 2015, "Delving Deep into Rectifiers"
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:  # Glorot & Bengio 2010
                    nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if cfg["zero_init_residual"]:
            zero_init_branches(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stages:
            x = getattr(self, name)(x)
        x = self.relu_final(self.bn_final(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def zero_init_branches(model):
    """Start each branch at zero, so each unit starts as its shortcut (Goyal et al. 2017): the scale of the
    branch's last BN, or, where the branch ends in a conv (full pre-activation), that conv's weights."""
    for unit in model.modules():
        if isinstance(unit, Unit):
            last = getattr(unit, unit.branch_names[-1])
            if isinstance(last, (nn.BatchNorm2d, nn.Conv2d)):
                nn.init.zeros_(last.weight)
                if isinstance(last, nn.Conv2d) and last.bias is not None:
                    nn.init.zeros_(last.bias)


def build_models(models, seed):
    """Twins (same depth, width, ...) start from identical weights wherever their layers match."""
    out, references = {}, {}
    for entry in models:
        cfg = entry["model"]
        key = (cfg["family"], cfg["block"], blocks_per_stage(cfg), cfg["width"], cfg["norm"], cfg["init"],
               cfg["in_channels"], cfg["input_size"], cfg["num_classes"])  # the lineage: what twins share
        torch.manual_seed(seed)
        model = ResNet(cfg)
        if key not in references:
            torch.manual_seed(seed)
            references[key] = ResNet({**cfg, "zero_init_residual": False})
        ref = references[key].state_dict()
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                if name in ref and ref[name].shape == tensor.shape:
                    tensor.copy_(ref[name])
        if cfg["zero_init_residual"]:
            zero_init_branches(model)
        out[entry["name"]] = model
    return out


# ----------------------------------------------------------------------------- the data
@dataclasses.dataclass
class Data:
    x_train: torch.Tensor  # (N, C, H, W) uint8
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    scale: float
    pad: int
    flip: bool
    mean: torch.Tensor = None
    std: torch.Tensor = None


AUGMENT = {"digits": (1, False), "mnist": (2, False), "fashion_mnist": (2, True), "cifar10": (4, True),
           "folder": (4, True)}  # pad, flip: He et al. 2015 pad 4, crop 32x32 and flip on CIFAR-10


def _unpack(entry):
    raw = zlib.decompress(base64.b64decode(entry["data"]))
    dtype = {"uint8": torch.uint8, "int64": torch.int64}[entry["dtype"]]
    return torch.frombuffer(bytearray(raw), dtype=dtype).reshape(entry["shape"]).clone()


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape).clone()


def _torchvision(name, root):
    debian = "/usr/share/datasets/fashion-mnist"  # Debian's package dataset-fashion-mnist, as the app reads it
    files = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
    if name == "fashion_mnist" and all(os.path.isfile(os.path.join(debian, f)) for f in files):
        x_tr, y_tr, x_te, y_te = (_read_idx(os.path.join(debian, f)) for f in files)
        return x_tr.unsqueeze(1), y_tr.long(), x_te.unsqueeze(1), y_te.long()
    import torchvision.datasets as tvd
    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    train, test = cls(root, train=True, download=True), cls(root, train=False, download=True)
    if name == "cifar10":
        return (torch.from_numpy(train.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(train.targets),
                torch.from_numpy(test.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(test.targets))
    return train.data.unsqueeze(1), train.targets.long(), test.data.unsqueeze(1), test.targets.long()


def _subset(x, y, n):
    """The first n of a seeded order that cycles through the classes (ResNet Explorer's subsets)."""
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    ys = y[perm]
    rank = torch.empty_like(ys)
    for c in ys.unique():
        where = (ys == c).nonzero().flatten()
        rank[where] = torch.arange(len(where))
    order = perm[torch.argsort(rank, stable=True)][:n]
    return x[order].contiguous(), y[order].contiguous()


def load_data(spec, data_dir):
    d = spec["data"]
    if EMBEDDED_DATA is not None:  # the app's exact split, embedded (digits, image folders)
        x_tr, y_tr, x_te, y_te = (_unpack(EMBEDDED_DATA[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
    else:
        x_tr, y_tr, x_te, y_te = _torchvision(d["name"], data_dir)
        if d.get("train_subset"):
            x_tr, y_tr = _subset(x_tr, y_tr, d["train_subset"])
        if d.get("test_subset"):
            x_te, y_te = _subset(x_te, y_te, d["test_subset"])
    pad, flip = AUGMENT[d["name"]] if d.get("augment") is not False else (0, False)
    data = Data(x_tr, y_tr, x_te, y_te, 16.0 if d["name"] == "digits" else 255.0, pad, flip)
    x = x_tr.to(torch.float64) / data.scale  # per-channel mean and std of the training images
    data.mean = x.mean(dim=(0, 2, 3)).float().view(1, -1, 1, 1)
    data.std = x.std(dim=(0, 2, 3)).clamp_min(1e-6).float().view(1, -1, 1, 1)
    return data


def normalize(x, data):
    return (x.to(torch.float32) / data.scale - data.mean.to(x.device)) / data.std.to(x.device)


def augment_batch(x, data, gen):
    """Zero-pad, random crop back to size, maybe flip: one gather for the whole batch."""
    if data.pad == 0 and not data.flip:
        return x
    b, c, h, w = x.shape
    pad, gd = data.pad, gen.device
    dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, device=gd).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, device=gd).to(x.device)
    flipped = (torch.rand((b, 1), generator=gen, device=gd) < 0.5).to(x.device) & data.flip
    rows = dy + torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = dx + torch.where(flipped, w - 1 - cols, cols)
    padded = nn.functional.pad(x, (pad, pad, pad, pad)) if pad else x
    return padded[torch.arange(b, device=x.device).view(b, 1, 1, 1), torch.arange(c, device=x.device).view(1, c, 1, 1),
                  rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


# ----------------------------------------------------------------------------- the recipe, in lockstep
def lr_factor(t, step, total, per_epoch):
    """Warm-up from lr/10, then constant, step (/10 at 50% and 75%), cosine or one-cycle."""
    warm = int(t["warmup_epochs"] * per_epoch)
    if step < warm:
        return 0.1 + 0.9 * step / warm
    f = (step - warm) / max(1, total - warm)
    if t["schedule"] == "step":
        return 1.0 if f < 0.5 else 0.1 if f < 0.75 else 0.01
    if t["schedule"] == "cosine":
        return 0.5 * (1 + math.cos(math.pi * f))
    if t["schedule"] == "onecycle":
        return 0.04 + 0.96 * f / 0.3 if f < 0.3 else 0.5 * (1 + math.cos(math.pi * (f - 0.3) / 0.7))
    return 1.0


def optimizer(model, t):
    if t["optimizer"] == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    return torch.optim.SGD(model.parameters(), lr=t["lr"], momentum=t["momentum"], weight_decay=t["weight_decay"])


@torch.no_grad()
def evaluate(model, data, batch_size, criterion):
    model.eval()
    loss, wrong = 0.0, 0
    for start in range(0, len(data.y_test), batch_size):
        x, y = normalize(data.x_test[start:start + batch_size], data), data.y_test[start:start + batch_size]
        logits = model(x).float()
        loss += float(criterion(logits, y)) * len(y)
        wrong += int((logits.argmax(1) != y).sum())
    return loss / len(data.y_test), wrong / len(data.y_test)


def train(spec, device, epochs=None, data_dir="data", log=print):
    """Train every net of the experiment in lockstep; returns {name: final metrics} and the models."""
    t = dict(spec["train"], **({"epochs": epochs, "steps": None} if epochs else {}))
    data = load_data(spec, data_dir)
    data = dataclasses.replace(data, **{k: getattr(data, k).to(device)
                                        for k in ("x_train", "y_train", "x_test", "y_test")})
    models = {n: m.to(device) for n, m in build_models(spec["models"], t["seed"]).items()}
    opts = {n: optimizer(m, t) for n, m in models.items()}
    criterion = nn.CrossEntropyLoss(label_smoothing=t["label_smoothing"])
    n, bs = len(data.y_train), t["batch_size"]
    per_epoch = math.ceil(n / bs)
    total = t["steps"] or t["epochs"] * per_epoch
    gen = torch.Generator(device=device).manual_seed(t["seed"])  # one seed: weights, batch order, augmentation
    step, final, alive = 0, {}, set(models)
    for epoch in range(1, math.ceil(total / per_epoch) + 1):
        sums = {name: [0.0, 0, 0] for name in models}  # loss, correct, count
        order = torch.randperm(n, generator=gen, device=device).to(data.x_train.device)
        for start in range(0, n, bs):
            if step >= total:
                break
            idx = order[start:start + bs]
            x = normalize(augment_batch(data.x_train[idx], data, gen), data)
            y = data.y_train[idx]
            lr = t["lr"] * lr_factor(t, step, total, per_epoch)
            step += 1
            for name in sorted(alive, key=list(models).index):
                model, opt = models[name], opts[name]
                for g in opt.param_groups:
                    g["lr"] = lr
                model.train()
                logits = model(x)
                loss = criterion(logits.float(), y)
                if not torch.isfinite(loss):
                    alive.discard(name)
                    log(f"{name}: the loss became NaN or infinite at step {step}; it stops here.")
                    continue
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                s = sums[name]
                s[0] += float(loss) * len(y)
                s[1] += int((logits.argmax(1) == y).sum())
                s[2] += len(y)
        for name in alive:
            s = sums[name]
            test_loss, test_error = evaluate(models[name], data, max(256, bs), criterion)
            final[name] = {"epoch": epoch, "train_loss": s[0] / max(1, s[2]), "train_error": 1 - s[1] / max(1, s[2]),
                           "test_loss": test_loss, "test_error": test_error}
            log(f"epoch {epoch:3d}  {name:>24}  train error {100 * final[name]['train_error']:6.2f}%  "
                f"test error {100 * test_error:6.2f}%")
        if step >= total or not alive:
            break
    return final, models


def main(argv=None):
    parser = argparse.ArgumentParser(description="Retrain a ResNet Explorer experiment with PyTorch alone.")
    parser.add_argument("--device", default="cpu", help="cpu (the default, as the app's CPU runs), cuda or mps")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    parser.add_argument("--data-dir", default="data", help="where torchvision keeps MNIST/CIFAR-10 downloads")
    parser.add_argument("--save-dir", default=None, help="save each trained net's state_dict here")
    parser.add_argument("--json", default=None, help="write the final metrics to this JSON file")
    args = parser.parse_args(argv)
    if EXPERIMENT is None:
        parser.error("This is the template; download a filled-in script from ResNet Explorer (Take it home).")
    torch.backends.cudnn.benchmark = False
    started = time.time()
    final, models = train(EXPERIMENT, torch.device(args.device), args.epochs, args.data_dir)
    print(f"done in {time.time() - started:.0f} s")
    for name, m in final.items():
        print(f"{name:>24}: final train error {100 * m['train_error']:.2f}%, test error {100 * m['test_error']:.2f}%")
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
        for name, model in models.items():
            torch.save(model.state_dict(), os.path.join(args.save_dir, f"{name}.pt"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(final, f, indent=1)


if __name__ == "__main__":
    main()
