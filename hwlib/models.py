"""A small CIFAR-10 CNN worth explaining, trained fast, cached (seed 004 §6).

The network takes images in [0, 1] (N, 3, 32, 32) and normalises them itself,
so that attribution methods can work, clamp and display in pixel space:

    Normalize -> whitening stem (fixed 2x2 conv, 24 maps) -> ReLU
              -> 3 x [conv3x3 - maxpool2 - BN - ReLU - conv3x3 - BN - ReLU]
              -> flatten (C x 4 x 4) -> linear (scaled) -> 10 class scores

The head is *not* a global pooling: every one of the last block's 4x4 positions
has its own weights. Grad-CAM at the last block (see `last_conv_block`)
averages the gradient over the positions, so it is an approximation of the
exact per-position contribution map Σ_k W[c, k, i, j] A^k_ij (the map whose sum
is the class score); with a global-average-pool head the two would coincide
(CAM), with a global max-pool head the gradient would be non-zero at one
position per channel.

Training recipe (in the spirit of the CIFAR-10 speed records, written for this
book):

* a stem initialised as a whitening transform of 2x2 image patches
  (eigenvectors of their covariance, scaled by 1/sqrt(eigenvalue), each with
  its negative), then frozen;
* random flips and translations (zero padding) drawn on the device;
* SGD with Nesterov momentum, a linear warm-up then linear decay of the
  learning rate, label smoothing, weight decay;
* an exponential moving average of the weights (and BN statistics) that becomes
  the model;
* test-time augmentation by horizontal flips in the *reported* accuracy
  (`record.test_acc`); the returned model itself is a plain network (one
  forward pass per image);
* bfloat16 autocast where it helps (the CPU with AVX512-BF16, and GPUs),
  channels_last.

(The random float64 CNN the checks and the attribution tests run on,
`tiny_cnn`, lives beside the checks: hwlib.check.fixtures.)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _validate
from .augment import shift_and_flip
from .cache import (
    cache_dir,
    load_or_discard,
    remove_stale,
    save_atomic,
    unexpected,
)
from .data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    NUM_CLASSES,
    DeviceData,
    check_data,
)
from .record import TrainingRecord

# Bump when the architecture or recipe changes: old caches become stale.
ARCHITECTURE_VERSION = "whiten-flatten-v1"


class Normalize(nn.Module):
    """(x - mean) / std per channel, for inputs in [0, 1]."""

    def __init__(self, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        channels = self.mean.shape[1]
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(
                f"the model's input must be images (N, {channels}, H, W) in "
                f"[0, 1], got shape {tuple(x.shape)}"
                + _validate.channels_last_hint(x)
            )
        return (x - self.mean) / self.std


class Scale(nn.Module):
    """Multiply by a constant (a fixed temperature for the class scores)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """conv3x3 - maxpool2 - BN - ReLU - conv3x3 - BN - ReLU (halves H, W).

    (N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def small_cnn(
    widths: tuple[int, ...] = (32, 64, 128),
    num_classes: int = NUM_CLASSES,
    image_size: int = 32,
) -> nn.Sequential:
    """The CNN of the module docstring; `last_conv_block(model)` is model[-4].

    model[1] is the whitening stem (pad right/bottom by 1, 2x2 conv, 3 -> 24
    maps). widths: a tuple or list of ints, one block each; every block
    halves the image, so the head sees image_size // 2**len(widths) squared
    positions.
    """
    widths = _validate.integers("widths", widths)
    num_classes = _validate.integer("num_classes", num_classes)
    image_size = _validate.integer("image_size", image_size)
    side = image_size // 2 ** len(widths)
    if side < 1:
        raise ValueError(
            f"widths has {len(widths)} blocks, each halving the image: "
            f"{image_size}x{image_size} images allow at most "
            f"{int(math.log2(image_size))}"
        )
    sizes = zip((24, *widths), widths)
    for i, (fan_in, width) in enumerate(sizes):
        _validate.allocation(f"block {i}'s conv weights", 9 * width * width)
        _validate.allocation(f"block {i}'s input conv", 9 * fan_in * width)
    _validate.allocation("the head", widths[-1] * side * side * num_classes)
    stem = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 24, 2))
    layers: list[nn.Module] = [Normalize(), stem, nn.ReLU()]
    in_channels = 24
    for out_channels in widths:
        layers.append(conv_block(in_channels, out_channels))
        in_channels = out_channels
    layers += [
        nn.Flatten(),
        nn.Linear(in_channels * side * side, num_classes, bias=False),
        Scale(1 / 8),
    ]
    return nn.Sequential(*layers)


def last_conv_block(model: nn.Sequential) -> nn.Module:
    """The layer Grad-CAM looks at: the last conv block (4x4 maps for 32x32
    inputs), i.e. the last nn.Sequential of conv layers inside `model`.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model must be an nn.Sequential such as small_cnn(), got "
            f"{type(model).__name__}"
        )
    blocks = [
        m
        for m in model
        if isinstance(m, nn.Sequential)
        and any(isinstance(c, nn.Conv2d) for c in m)
    ]
    if not blocks:
        raise ValueError(
            "model has no conv block (an nn.Sequential holding nn.Conv2d "
            "layers, as small_cnn has); for another model pass the layer "
            "to Grad-CAM yourself, e.g. its last nn.Conv2d"
        )
    return blocks[-1]


@torch.no_grad()
def position_contributions(model: nn.Sequential, x: Tensor) -> Tensor:
    """The exact share of each last-block position in each class score.

    For small_cnn's flatten + linear head, s_c = Σ_ij P[c, i, j] with
    P[c, i, j] = scale * Σ_k W[c, k, i, j] A^k_ij, A the last block's output.
    Returns P: (N, classes, h, w). (For a global-average-pool head this map is
    CAM; Grad-CAM replaces W[c, k, i, j] by its mean over i, j.)
    """
    *body, flatten, linear, scale = model
    if not (
        isinstance(flatten, nn.Flatten)
        and isinstance(linear, nn.Linear)
        and isinstance(scale, Scale)
    ):
        raise ValueError(
            "model must end with Flatten, Linear, Scale (small_cnn)"
        )
    activation = nn.Sequential(*body)(x)  # (N, K, h, w)
    n, k, h, w = activation.shape
    weight = linear.weight.view(-1, k, h, w)  # (classes, K, h, w)
    return scale.factor * torch.einsum("nkij,ckij->ncij", activation, weight)


@torch.no_grad()
def whitening_weights(images: Tensor, eps: float = 5e-4) -> Tensor:
    """2x2 filters that whiten the 2x2 patches of `images`: (24, 3, 2, 2).

    images: normalised float (N, 3, H, W). With Σ = V diag(λ) Vᵀ the covariance
    of the 12-dimensional patches, the filters are the rows of diag(λ +
    eps)^(-1/2) Vᵀ and their negatives (so that a ReLU after them keeps both
    signs).
    """
    images = _validate.tensor(
        "images", images, shape="(N, C, H, W)", dtype="floating"
    )
    _validate.finite("images", images)
    patches = F.unfold(images.float(), kernel_size=2)  # (N, 12, L)
    patches = patches.transpose(1, 2).reshape(-1, patches.shape[1]).double()
    covariance = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    filters = eigenvectors.T / (eigenvalues + eps).sqrt()[:, None]
    filters = torch.cat([filters, -filters]).float()
    return filters.view(-1, images.shape[1], 2, 2)


@dataclass(frozen=True, kw_only=True)
class CNNSettings:
    """Architecture and training recipe of `small_cnn`; see `for_device`.

    widths are the blocks' channels, a tuple or list of ints stored as a
    tuple. lr is the peak learning rate, reached after `warmup` (a fraction
    of all steps) and decayed linearly to 0; ema_decay is per step (the
    average follows ema <- decay * ema + (1 - decay) * weights); translate is
    the largest shift in pixels; tta averages the scores of each test image
    and its mirror image in the recorded accuracy; bf16 runs forward and
    backward under bfloat16 autocast.
    """

    widths: tuple[int, ...] = (32, 64, 128)
    epochs: int = 8
    batch_size: int = 256
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.2
    translate: int = 2
    warmup: float = 0.2
    ema_decay: float = 0.98
    tta: bool = True
    bf16: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        widths = _validate.integers("widths", self.widths)
        object.__setattr__(self, "widths", widths)
        _validate.sgd_fields(self)
        _validate.real(
            "label_smoothing",
            self.label_smoothing,
            low=0,
            high=1,
            high_open=True,
        )
        _validate.integer("translate", self.translate, minimum=0, maximum=16)
        _validate.real("warmup", self.warmup, low=0, high=1)
        _validate.real(
            "ema_decay", self.ema_decay, low=0, high=1, high_open=True
        )
        _validate.boolean("tta", self.tta)
        _validate.boolean("bf16", self.bf16)

    @classmethod
    def for_device(cls, device: torch.device | str) -> CNNSettings:
        """The preset for a device: "cpu" (2 cores) or "cuda".

        The cuda preset (wider, longer, larger batches) has not been timed on a
        GPU yet.
        """
        kind = _validate.device(device).type
        if kind == "cpu":
            return cls()
        if kind == "cuda":
            return cls(
                widths=(64, 256, 256),
                epochs=10,
                batch_size=1024,
                lr=0.6,
                ema_decay=0.95,
            )
        raise ValueError(
            f"device must be a cpu or cuda device, got {device!r}"
        )


def images_as_float(x: Tensor, name: str = "x") -> Tensor:
    """uint8 images (N, 3, H, W) -> float32 in [0, 1] (x / 255).

    Float images are refused: they may already be in [0, 1], and dividing
    them by 255 again would give near-black images without a word.
    """
    x = _validate.tensor(name, x, shape="(N, 3, H, W)", what="uint8 images")
    if x.dtype != torch.uint8:
        raise TypeError(
            f"{name} must be uint8 images (0..255), got {x.dtype}; float "
            "images may already be in [0, 1] and would be divided by 255 "
            "again: pass (x * 255).round().to(torch.uint8)"
        )
    return x.float() / 255


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled)


@torch.no_grad()
def evaluate_cnn(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    tta: bool = False,
    bf16: bool = False,
    batch_size: int = 1000,
) -> tuple[float, float]:
    """(cross-entropy, accuracy) on uint8 images x; tta averages x and its
    mirror.

    Mean loss (1/N) Σ_n -log softmax(s_n)[y_n] and accuracy
    (1/N) #{n : argmax s_n = y_n} of the scores s_n = model(x_n / 255),
    or s_n = (model(x_n) + model(flip(x_n))) / 2 with tta.
    """
    _validate.boolean("tta", tta)
    _validate.boolean("bf16", bf16)
    _validate.integer("batch_size", batch_size)
    images_as_float(x[:1])  # checks x
    y = _validate.tensor("y", y, shape="(N,)", dtype=torch.int64)
    if len(y) != len(x) or len(y) == 0:
        raise ValueError(
            f"x and y must hold the same number N >= 1 of images and "
            f"labels, got {len(x)} and {len(y)}"
        )
    was_training = model.training
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        images = images_as_float(x[i : i + batch_size])
        with _autocast(x.device, bf16):
            scores = model(images).float()
            if tta:
                scores = (scores + model(images.flip(3)).float()) / 2
        labels = y[i : i + batch_size]
        loss += F.cross_entropy(scores, labels, reduction="sum").item()
        correct += int((scores.argmax(1) == labels).sum())
    model.train(was_training)
    return loss / len(y), correct / len(y)


def _check_data(data) -> DeviceData:
    return check_data(data, image_size=(32, 32))


def _settings_for(settings, device) -> CNNSettings:
    if settings is None:
        return CNNSettings.for_device(device)
    if not isinstance(settings, CNNSettings):
        raise TypeError(
            "settings must be a CNNSettings or None, "
            f"got {type(settings).__name__}"
        )
    return settings


def _new_model(data: DeviceData, settings: CNNSettings) -> nn.Sequential:
    """small_cnn initialised from settings.seed (global RNG untouched), stem
    whitened.
    """
    device = data.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = small_cnn(settings.widths)
    model = model.to(device)
    stem = model[1][1]
    sample = model[0](images_as_float(data.train_x[:5000]))
    stem.weight.data.copy_(whitening_weights(sample))
    stem.bias.data.zero_()
    stem.requires_grad_(False)
    return model.to(memory_format=torch.channels_last)


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.state_dict().values(), model.state_dict().values()):
        if e.dtype.is_floating_point:
            e.lerp_(p, 1 - decay)
        else:
            e.copy_(p)


def _schedule(settings: CNNSettings, total: int):
    warm = max(1, round(settings.warmup * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return factor


def train_cnn(
    data: DeviceData, settings: CNNSettings | None = None
) -> tuple[nn.Sequential, TrainingRecord]:
    """Train small_cnn on the device holding `data` (default: its preset).

    Returns the weight-averaged model (eval mode) and a record. Its
    test_loss/test_acc are measured after each epoch (with flip TTA when
    settings.tta); epoch_seconds count the training steps only, not these
    evaluations. train_* stay empty.
    """
    _check_data(data)
    device = data.device
    settings = _settings_for(settings, device)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    model = _new_model(data, settings)
    ema = copy.deepcopy(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params,
        lr=settings.lr,
        momentum=settings.momentum,
        nesterov=settings.momentum > 0,
        weight_decay=settings.weight_decay,
    )
    n = len(data.train_y)
    total = settings.epochs * -(-n // settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(settings, total)
    )
    record = TrainingRecord(settings=asdict(settings), device=str(device))
    for _ in range(settings.epochs):
        start = time.perf_counter()
        _train_epoch(
            model, ema, optimizer, schedule, data, settings, generator
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        record.epoch_seconds.append(time.perf_counter() - start)
        loss, acc = evaluate_cnn(
            ema, data.test_x, data.test_y, tta=settings.tta, bf16=settings.bf16
        )
        record.test_loss.append(loss)
        record.test_acc.append(acc)
    return ema.eval(), record


def _train_epoch(model, ema, optimizer, schedule, data, settings, generator):
    model.train()
    device = data.device
    order = torch.randperm(
        len(data.train_y), generator=generator, device=device
    )
    decay = settings.ema_decay
    for i in range(0, len(order), settings.batch_size):
        index = order[i : i + settings.batch_size]
        x = shift_and_flip(
            data.train_x[index], settings.translate, generator=generator
        )
        x = images_as_float(x).contiguous(memory_format=torch.channels_last)
        with _autocast(device, settings.bf16):
            scores = model(x).float()
        loss = F.cross_entropy(
            scores,
            data.train_y[index],
            label_smoothing=settings.label_smoothing,
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        # warm the average up: early weights are poor, so trust the newest more
        step = schedule.last_epoch
        _ema_update(ema, model, min(decay, (1 + step) / (10 + step)))


def _fingerprint(data: DeviceData, settings: CNNSettings) -> str:
    key = {"version": ARCHITECTURE_VERSION, **asdict(settings)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode())
    for t in (data.train_x, data.train_y, data.test_x, data.test_y):
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def _from_saved(saved, settings: CNNSettings, device) -> tuple | None:
    """(model, record) from a cache entry, or None when it does not fit."""
    try:
        model = small_cnn(settings.widths).to(device)
        model[1][1].requires_grad_(False)
        model.load_state_dict(saved["state_dict"])
        record = TrainingRecord(**saved["record"])
    except (KeyError, TypeError, RuntimeError, ValueError):
        return None
    record.from_cache = True
    return model.to(memory_format=torch.channels_last).eval(), record


def load_or_train_cnn(
    data: DeviceData, settings: CNNSettings | None = None
) -> tuple[nn.Sequential, TrainingRecord]:
    """The CNN from the cache if data and settings are unchanged, else trained.

    The cache file, cnn-<key>.pt in hwlib.cache.cache_dir(), is keyed by every
    image, label and setting, so other settings' models stay cached beside
    it. It is written atomically; a damaged one is reported, removed and
    retrained; one that loads but does not fit is reported and left as is;
    when it cannot be written, a warning is given and the trained model is
    still returned. Of the other files, only those hwlib wrote for an older
    ARCHITECTURE_VERSION are removed (see `hwlib.cache`): a user's own
    cnn-*.pt is never touched. record.from_cache says where the model came
    from.
    """
    _check_data(data)
    device = data.device
    settings = _settings_for(settings, device)
    path = cache_dir() / f"cnn-{_fingerprint(data, settings)}.pt"
    saved = load_or_discard(path, map_location=device)
    if saved is not None:
        loaded = _from_saved(saved, settings, device)
        if loaded is not None:
            return loaded
        unexpected(path, "it does not fit the model; the model is retrained")
    model, record = train_cnn(data, settings)
    entry = {
        "state_dict": model.state_dict(),
        "record": {f.name: getattr(record, f.name) for f in fields(record)},
    }
    family = f"cnn/{ARCHITECTURE_VERSION}"
    if save_atomic(entry, path, family=family):
        remove_stale(path.parent, path, _older_cnn(family))
    return model, record


def _older_cnn(family: str):
    """Whether a cache family is a CNN of another ARCHITECTURE_VERSION."""
    return lambda other: other.startswith("cnn/") and other != family
