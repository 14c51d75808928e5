"""Training `hwlib.nn` MLPs on CIFAR-10 held on the device (seed 000 Q11-Q15).

The whole uint8 dataset sits on the device (`hwlib.data.DeviceData`). Every
epoch draws a permutation and one crop offset per image there, cuts batches
by indexing, and converts, augments and normalises each batch on the device:
no DataLoader, no per-image Python, no host-device copies inside the loop.

Two ways to run an epoch, giving the same batches and the same arithmetic:

* `train_epoch`, the readable eager loop (the reference; the CPU path);
* on a GPU, `fit` by default augments and normalises the whole epoch at once
  and replays the epoch's steps as one CUDA graph (`_GraphEpoch`), because a
  step of this small MLP is ~20 tiny kernels whose launch cost dominates.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import _validate
from .augment import CROP_PADDING, crop_at, crop_offsets
from .data import CIFAR10_MEAN, CIFAR10_STD, DeviceData, check_data
from .nn import SGD, CrossEntropyLoss, Module, NonFiniteLogitsError, mlp
from .record import TrainingRecord

__all__ = [
    "TrainSettings",
    "fit",
    "train_epoch",
    "train_step",
    "epoch_batches",
    "evaluate",
    "normalize",
]


def normalize(x: Tensor) -> Tensor:
    """uint8 (N, 3, H, W) -> float32 (N, 3*H*W): scale to [0, 1], standardise
    per channel, flatten (the MLP's input)."""
    x = _validate.tensor("x", x, shape="(N, 3, H, W)", what="uint8 images")
    if x.dtype != torch.uint8:
        raise TypeError(
            f"normalize expects uint8 images (0..255), got {x.dtype}; "
            "images already in [0, 1] would be scaled twice"
        )
    mean = torch.tensor(CIFAR10_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=x.device).view(1, 3, 1, 1)
    return ((x.float() / 255 - mean) / std).flatten(1)


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """Everything that defines an MLP run; checked when made.

    sizes are the layer widths (inputs, hidden..., classes), a tuple or list
    of ints stored as a tuple; SGD with learning rate lr > 0, momentum in
    [0, 1) and weight_decay >= 0 (see `hwlib.nn.SGD`); augment adds random
    crops (`hwlib.data.random_crop`) to the training images; seed fixes the
    initial weights, the batch order and the crops.
    """

    sizes: tuple[int, ...] = (3072, 512, 512, 10)
    epochs: int = 30
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    augment: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        sizes = _validate.integers("sizes", self.sizes, min_length=2)
        object.__setattr__(self, "sizes", sizes)
        _validate.sgd_fields(self)
        _validate.boolean("augment", self.augment)


def _epoch_draws(
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator | None,
    augment: bool,
) -> tuple[Tensor, Tensor | None]:
    """One epoch's random draws, in this order: the shuffle (a permutation
    of the N images), then (when augmenting) every image's crop offsets
    (2, N), else None. `epoch_batches` and `_augment_epoch` both draw
    through here, so they see the same numbers."""
    _validate.generator(generator, x.device)
    _validate.boolean("augment", augment)
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    order = torch.randperm(len(y), generator=generator, device=x.device)
    if not augment:
        return order, None
    offsets = crop_offsets(
        len(y),
        x.shape[-2:],
        padding=CROP_PADDING,
        generator=generator,
        device=x.device,
    )
    return order, offsets


def epoch_batches(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    augment: bool = False,
):
    """The epoch's (images, labels) batches, uint8, in training order.

    Random numbers, drawn in this order from `generator`: the permutation
    of the N images, then (when augmenting) every image's crop offsets for
    the whole epoch (`hwlib.data.crop_offsets`). Batch k holds the images
    order[k*B : (k+1)*B], cropped at their offsets; the last batch may be
    smaller. Drawing all offsets up front is what lets `_augment_epoch`
    produce the same batches in one go.
    """
    _validate.integer("batch_size", batch_size)
    order, offsets = _epoch_draws(x, y, generator=generator, augment=augment)

    def cut():
        for start in range(0, len(y), batch_size):
            stop = start + batch_size
            images = x[order[start:stop]]
            if augment:
                images = crop_at(
                    images, offsets[:, start:stop], padding=CROP_PADDING
                )
            yield images, y[order[start:stop]]

    return cut()


def _augment_epoch(
    x: Tensor,
    y: Tensor,
    *,
    generator: torch.Generator | None = None,
    augment: bool = False,
) -> tuple[Tensor, Tensor]:
    """The whole epoch of `epoch_batches` at once: normalised float images
    (N, 3*H*W) and labels (N,) in training order, same random draws.
    Concatenating `epoch_batches`' batches gives exactly these tensors."""
    order, offsets = _epoch_draws(x, y, generator=generator, augment=augment)
    images = x[order]
    if augment:
        images = crop_at(images, offsets, padding=CROP_PADDING)
    return normalize(images), y[order]


def train_step(
    model: Module,
    loss_fn: CrossEntropyLoss,
    optimizer: SGD,
    inputs: Tensor,
    labels: Tensor,
) -> tuple[Tensor, Tensor]:
    """One SGD step on a batch of B normalised inputs; returns the batch's
    summed loss B * L and its count of correct predictions, as device
    tensors (this function reads nothing back to the host).

    L is the mean cross-entropy of the logits z = model(inputs); the
    backward pass fills the gradients dL/dθ and the optimizer applies them.
    """
    logits = model.forward(inputs)
    loss = loss_fn.forward(logits, labels) * len(labels)
    model.backward(loss_fn.backward())
    optimizer.step()
    return loss, (logits.argmax(1) == labels).sum()


def train_epoch(
    model: Module,
    loss_fn: CrossEntropyLoss,
    optimizer: SGD,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    augment: bool = False,
    progress: bool = False,
) -> tuple[float, float]:
    """One pass over (x, y) in a random order: mean loss and accuracy.

    (Measured on the fly, as the weights change, and on the augmented
    images when augment=True.) x: uint8 (N, 3, H, W); y: int64 (N,). The
    batches are those of `epoch_batches`, drawn from `generator`.
    """
    if len(y) == 0:
        raise ValueError("train_epoch needs at least one image, got 0")
    _validate.boolean("progress", progress)
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    batches = epoch_batches(
        x, y, batch_size, generator=generator, augment=augment
    )
    steps = math.ceil(len(y) / batch_size)
    for images, labels in tqdm(
        batches,
        total=steps,
        disable=not progress,
        leave=False,
        desc="batches",
    ):
        loss, hits = train_step(
            model, loss_fn, optimizer, normalize(images), labels
        )
        total_loss += loss
        correct += hits
    return total_loss.item() / len(y), correct.item() / len(y)


def evaluate(
    model: Module,
    loss_fn: CrossEntropyLoss,
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int = 2000,
) -> tuple[float, float]:
    """Mean loss and accuracy of the model on (x, y); no parameter changes.

    x: uint8 (N, 3, H, W) with N >= 1; y: int64 (N,).
    """
    if len(y) == 0:
        raise ValueError("evaluate needs at least one image, got an empty set")
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    _validate.integer("batch_size", batch_size)
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for start in range(0, len(y), batch_size):
        logits = model.forward(normalize(x[start : start + batch_size]))
        labels = y[start : start + batch_size]
        total_loss += loss_fn.forward(logits, labels) * len(labels)
        correct += (logits.argmax(1) == labels).sum()
    return total_loss.item() / len(y), correct.item() / len(y)


class _GraphEpoch:
    """The epoch's training steps captured once as a CUDA graph, replayed
    once per epoch (the fast path; same arithmetic as `train_epoch`).

    Static buffers: `inputs` (N, 3*H*W) float32 and `labels` (N,) hold an
    epoch in training order (filled from `_augment_epoch` before each
    replay); `loss` and `correct` accumulate over the steps. The graph
    covers every batch, the last partial one included (its slice is simply
    shorter), so an epoch trains on exactly the eager loop's batches.

    Capture rules this relies on: no host sync and the same allocations at
    every step (hwlib.nn's modules are plain tensor ops; the loss's label
    check is done once by `fit` instead); the SGD momentum buffers exist
    before capture (zeros, which give buf = d at the first step exactly as
    SGD's clone does); warm-up steps run on a side stream and the
    parameters and buffers are restored afterwards.

    capture=False runs the same steps eagerly from the same buffers (how
    the CPU tests check this class's bookkeeping).
    """

    def __init__(
        self, model, optimizer, n, width, batch_size, *, capture=True
    ):
        device = model.parameters()[0].device
        self.model, self.optimizer = model, optimizer
        self.loss_fn = CrossEntropyLoss()
        self.inputs = torch.zeros(n, width, device=device)
        self.labels = torch.zeros(n, dtype=torch.int64, device=device)
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.bounds = [
            (s, min(s + batch_size, n)) for s in range(0, n, batch_size)
        ]
        self._warm_up(use_streams=capture)
        self.graph = None
        if capture:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self._steps()

    def _steps(self) -> None:
        for start, stop in self.bounds:
            loss, hits = train_step(
                self.model,
                self.loss_fn,
                self.optimizer,
                self.inputs[start:stop],
                self.labels[start:stop],
            )
            self.loss += loss
            self.correct += hits

    def _warm_up(self, *, use_streams: bool) -> None:
        """Run a full and the last (maybe partial) step once, then undo
        them; creates the momentum buffers (zeros) if SGD has none yet."""
        params, buffers = self.model.parameters(), self.optimizer.buffers
        if self.optimizer.momentum:
            for i, p in enumerate(params):
                if buffers[i] is None:
                    buffers[i] = torch.zeros_like(p)
        state = params + [b for b in buffers if b is not None]
        saved = [t.clone() for t in state]
        side = torch.cuda.Stream() if use_streams else None
        if side is not None:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._warm_up_steps()
            torch.cuda.current_stream().wait_stream(side)
        else:
            self._warm_up_steps()
        for tensor, value in zip(state, saved):
            tensor.copy_(value)

    def _warm_up_steps(self) -> None:
        for start, stop in {self.bounds[0], self.bounds[-1]}:
            train_step(
                self.model,
                self.loss_fn,
                self.optimizer,
                self.inputs[start:stop],
                self.labels[start:stop],
            )

    def run(self, inputs: Tensor, labels: Tensor) -> tuple[float, float]:
        """Train one epoch on (inputs, labels), already in training order;
        returns its mean loss and accuracy."""
        self.inputs.copy_(inputs)
        self.labels.copy_(labels)
        self.loss.zero_()
        self.correct.zero_()
        if self.graph is not None:
            self.graph.replay()
        else:
            self._steps()
        n = len(self.labels)
        return self.loss.item() / n, self.correct.item() / n


def _check_data(data: DeviceData, settings: TrainSettings) -> None:
    if not isinstance(settings, TrainSettings):
        raise TypeError(
            f"settings must be a TrainSettings, got {type(settings).__name__}"
        )
    classes = settings.sizes[-1]
    check_data(
        data, classes=classes, classes_from=f"settings.sizes[-1] = {classes}"
    )
    width = data.train_x[0].numel()
    if settings.sizes[0] != width:
        raise ValueError(
            f"settings.sizes[0] = {settings.sizes[0]} but the images have "
            f"{width} values (3 x H x W)"
        )


DIVERGED = 100.0
"""A training loss above DIVERGED * log(classes) (100 times a uniform
guess's loss) counts as diverged."""


def _diverged(loss: float, classes: int) -> bool:
    return not math.isfinite(loss) or loss > DIVERGED * math.log(classes)


def _warn_diverged(epoch: int, loss: float, settings) -> None:
    warnings.warn(
        f"training diverged at epoch {epoch} (training loss {loss:.3g}); "
        f"the record stops there. Try a smaller lr than {settings.lr}.",
        stacklevel=3,
    )


def fit(
    data: DeviceData,
    settings: TrainSettings | None = None,
    *,
    progress: bool = True,
    fast: bool | None = None,
) -> tuple[Module, TrainingRecord]:
    """Train an MLP with SGD on `data`; returns it with its record.

    Seeded: the initial weights, the batch order and the crops come from one
    torch.Generator on the data's device (same seed, same record on the
    CPU). After each epoch the model is evaluated on the test set and, when
    `data` has one, the validation set. settings=None means TrainSettings().

    fast: True runs the CUDA-graph path (needs the data on a GPU), False the
    eager loop, None (default) the fast path exactly when on a GPU.

    A run whose training loss becomes NaN/inf or explodes (above
    DIVERGED * log(classes)) stops with a warning; the record holds the
    epochs before it.
    """
    settings = TrainSettings() if settings is None else settings
    _check_data(data, settings)
    device = data.device
    _validate.boolean("progress", progress)
    if _validate.boolean("fast", fast, allow_none=True) is None:
        fast = device.type == "cuda"
    if fast and device.type != "cuda":
        raise ValueError(
            f"fast=True needs the data on a CUDA device, got {device}"
        )
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    model = mlp(settings.sizes, generator=generator, device=device)
    loss_fn = CrossEntropyLoss()
    optimizer = SGD(
        model,
        lr=settings.lr,
        momentum=settings.momentum,
        weight_decay=settings.weight_decay,
    )
    record = TrainingRecord(settings=asdict(settings), device=str(device))
    classes = settings.sizes[-1]
    graph = None
    desc = "augmented" if settings.augment else "plain"
    bar = tqdm(range(settings.epochs), disable=not progress, desc=desc)
    for _ in bar:
        start = time.perf_counter()
        if fast and graph is None:  # capture once; its time counts
            graph = _GraphEpoch(
                model,
                optimizer,
                len(data.train_y),
                data.train_x[0].numel(),
                settings.batch_size,
            )
        if graph is not None:
            inputs, labels = _augment_epoch(
                data.train_x,
                data.train_y,
                generator=generator,
                augment=settings.augment,
            )
            train = graph.run(inputs, labels)
        else:
            try:
                train = train_epoch(
                    model,
                    loss_fn,
                    optimizer,
                    data.train_x,
                    data.train_y,
                    settings.batch_size,
                    generator=generator,
                    augment=settings.augment,
                )
            except NonFiniteLogitsError:
                train = (math.nan, math.nan)
        if _diverged(train[0], classes):
            _warn_diverged(len(record.epoch_seconds) + 1, train[0], settings)
            break
        results = {"train": train}
        if data.val_x is not None:
            results["val"] = evaluate(model, loss_fn, data.val_x, data.val_y)
        results["test"] = evaluate(model, loss_fn, data.test_x, data.test_y)
        for split, (loss, acc) in results.items():
            getattr(record, f"{split}_loss").append(loss)
            getattr(record, f"{split}_acc").append(acc)
        record.epoch_seconds.append(time.perf_counter() - start)
        bar.set_postfix(
            train_acc=f"{train[1]:.3f}", test_acc=f"{record.test_acc[-1]:.3f}"
        )
    return model, record
