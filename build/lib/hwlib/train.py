"""Device-resident training of `hwlib.nn` networks on CIFAR-10 (seed 000 Q11-Q15).

The whole uint8 dataset is moved to the device once. Every epoch draws a permutation on the
device, cuts batches by indexing, and converts, augments and normalises each batch there: no
DataLoader, no per-image Python, and on a GPU no host-device copies inside the loop.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .data import CIFAR10, random_crop
from .nn import SGD, CrossEntropyLoss, Module, mlp

# Per-channel statistics of the CIFAR-10 training images, in [0, 1] units.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def normalize(x: Tensor) -> Tensor:
    """uint8 (N, 3, H, W) -> float32 (N, 3*H*W): scale to [0, 1], standardise per channel, flatten."""
    mean = torch.tensor(CIFAR10_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=x.device).view(1, 3, 1, 1)
    return ((x.float() / 255 - mean) / std).flatten(1)


@dataclass
class DeviceData:
    """CIFAR-10 moved to one device: uint8 images and int64 labels."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor

    @classmethod
    def from_cifar(cls, data: CIFAR10, device: torch.device | str, train_subset: int | None = None) -> "DeviceData":
        """Move the dataset to `device`; `train_subset` keeps n training images chosen at random (seed 0).

        (A random subset, not the first n: an image-folder copy is stored sorted by class.)
        """
        keep = slice(None)
        if train_subset is not None:
            keep = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(0))[:train_subset]
        return cls(*(t.to(device) for t in (data.train_x[keep], data.train_y[keep], data.test_x, data.test_y)))


def train_epoch(
    model: Module,
    loss_fn: CrossEntropyLoss,
    optimizer: SGD,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    generator: torch.Generator,
    augment: bool = False,
    progress: bool = False,
) -> tuple[float, float]:
    """One pass over (x, y) in a random order. Returns the mean loss and accuracy over the batches.

    (These are measured on the fly, as the weights change, and on the augmented images when
    augment=True.)
    """
    order = torch.randperm(len(y), generator=generator, device=x.device)
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for start in tqdm(range(0, len(y), batch_size), disable=not progress, leave=False, desc="batches"):
        index = order[start : start + batch_size]
        images, labels = x[index], y[index]
        if augment:
            images = random_crop(images, generator=generator)
        logits = model.forward(normalize(images))
        total_loss += loss_fn.forward(logits, labels) * len(labels)
        model.backward(loss_fn.backward())
        optimizer.step()
        correct += (logits.argmax(1) == labels).sum()
    return total_loss.item() / len(y), correct.item() / len(y)


def evaluate(model: Module, loss_fn: CrossEntropyLoss, x: Tensor, y: Tensor, batch_size: int = 2000) -> tuple[float, float]:
    """Mean loss and accuracy of the model on (x, y); no parameter changes."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        logits = model.forward(normalize(x[start : start + batch_size]))
        labels = y[start : start + batch_size]
        total_loss += loss_fn.forward(logits, labels).item() * len(labels)
        correct += int((logits.argmax(1) == labels).sum())
    return total_loss / len(y), correct / len(y)


@dataclass
class History:
    """Per epoch: train and test loss and accuracy, and seconds; plus the run's settings."""

    settings: dict
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def fit(
    data: DeviceData,
    sizes: tuple[int, ...] = (3072, 512, 512, 10),
    epochs: int = 30,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    batch_size: int = 128,
    augment: bool = False,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Module, History]:
    """Train an MLP of the given sizes with SGD and return it with its history.

    Seeded: the initial weights, the batch order and the crops come from one torch.Generator on
    the data's device, so on the CPU the same seed gives the same history.
    """
    device = data.train_x.device
    generator = torch.Generator(device=device).manual_seed(seed)
    model = mlp(list(sizes), generator=generator, device=device)
    loss_fn, optimizer = CrossEntropyLoss(), SGD(model, lr, momentum, weight_decay)
    settings = dict(sizes=sizes, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                    batch_size=batch_size, augment=augment, seed=seed, device=str(device), train_size=len(data.train_y))
    history = History(settings)
    bar = tqdm(range(epochs), disable=not progress, desc="augmented" if augment else "plain")
    for _ in bar:
        start = time.perf_counter()
        train_loss, train_acc = train_epoch(model, loss_fn, optimizer, data.train_x, data.train_y, batch_size, generator, augment)
        test_loss, test_acc = evaluate(model, loss_fn, data.test_x, data.test_y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        for name, value in zip(("train_loss", "train_acc", "test_loss", "test_acc"), (train_loss, train_acc, test_loss, test_acc)):
            getattr(history, name).append(value)
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(train_acc=f"{train_acc:.3f}", test_acc=f"{test_acc:.3f}")
    return model, history


def plot_curves(histories: dict[str, History], axes=None):
    """Loss and accuracy per epoch, train (dashed) and test (solid), one colour per run."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for (name, h), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        epochs = range(1, len(h.train_loss) + 1)
        for ax, train, test in ((axes[0], h.train_loss, h.test_loss), (axes[1], h.train_acc, h.test_acc)):
            ax.plot(epochs, train, "--", color=colour, label=f"{name}: train")
            ax.plot(epochs, test, "-", color=colour, label=f"{name}: test")
    axes[0].set_ylabel("cross-entropy loss")
    axes[1].set_ylabel("accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return axes
