"""A small CIFAR-10 CNN (plain torch.nn with autograd), trained fast and cached on disk (seed 004 §6).

The network takes images in [0, 1] (N, 3, 32, 32) and normalises them itself, so that
attribution methods can work, clamp and display in pixel space:

    Normalize -> [conv3x3 - BatchNorm - ReLU - maxpool2] x 3 -> conv3x3 - BatchNorm - ReLU
              -> global max pool -> linear (scaled by 1/8) -> 10 class scores

Training: SGD with Nesterov momentum, a one-cycle learning-rate schedule (linear up, then linear
down), label smoothing, weight decay, random crops and horizontal flips, all on the device.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import random_crop
from .train import CIFAR10_MEAN, CIFAR10_STD, DeviceData

CACHE_ENV_VAR = "HWLIB_CACHE"


class Normalize(nn.Module):
    """(x - mean) / std per channel, for inputs in [0, 1]."""

    def __init__(self, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def small_cnn(widths: tuple[int, ...] = (32, 64, 128, 256), num_classes: int = 10) -> nn.Sequential:
    """The CNN described in the module docstring; `features` (the last conv block) is model[-5]."""
    layers: list[nn.Module] = [Normalize()]
    c_in = 3
    for i, c_out in enumerate(widths):
        layers.append(conv_block(c_in, c_out))
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        c_in = c_out
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes, bias=False), Scale(0.125)]
    return nn.Sequential(*layers)


def last_conv_block(model: nn.Sequential) -> nn.Module:
    """The layer Grad-CAM looks at: the last conv block (4x4 maps for 32x32 inputs)."""
    return [m for m in model if isinstance(m, nn.Sequential)][-1]


@dataclass
class CNNSettings:
    widths: tuple[int, ...] = (32, 64, 128, 256)
    epochs: int = 5
    batch_size: int = 256
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.2
    crop_padding: int = 2
    seed: int = 0


@dataclass
class CNNRecord:
    settings: dict
    test_acc: float
    train_seconds: float
    device: str
    epoch_test_acc: list[float] = field(default_factory=list)


def images_as_float(x: Tensor) -> Tensor:
    """uint8 images -> float in [0, 1]."""
    return x.float() / 255


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Test accuracy of a model that takes uint8-derived [0, 1] images."""
    was_training = model.training
    model.eval()
    correct = sum(int((model(images_as_float(x[i : i + batch_size])).argmax(1) == y[i : i + batch_size]).sum())
                  for i in range(0, len(y), batch_size))
    model.train(was_training)
    return correct / len(y)


def train_cnn(data: DeviceData, settings: CNNSettings = CNNSettings()) -> tuple[nn.Sequential, CNNRecord]:
    """Train small_cnn on the device that holds `data`; returns the model (eval mode) and a record."""
    device = data.train_x.device
    torch.manual_seed(settings.seed)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    model = small_cnn(settings.widths).to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                nesterov=True, weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(data.train_y) // settings.batch_size)
    total = settings.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / (0.25 * total), max(0.0, (total - s) / (0.75 * total))))
    epoch_acc = []
    start = time.perf_counter()
    for _ in range(settings.epochs):
        model.train()
        order = torch.randperm(len(data.train_y), generator=generator, device=device)
        for i in range(0, len(order), settings.batch_size):
            index = order[i : i + settings.batch_size]
            x = random_crop(data.train_x[index], padding=settings.crop_padding, generator=generator)
            flip = torch.rand(len(index), generator=generator, device=device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            x = images_as_float(x).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), data.train_y[index], label_smoothing=settings.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        epoch_acc.append(accuracy(model, data.test_x, data.test_y))
    seconds = time.perf_counter() - start
    model.eval()
    return model, CNNRecord(asdict(settings), epoch_acc[-1], seconds, str(device), epoch_acc)


def _fingerprint(data: DeviceData, settings: CNNSettings) -> str:
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    for t in (data.train_x, data.train_y, data.test_x, data.test_y):
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def cache_dir() -> Path:
    """$HWLIB_CACHE, else ~/.cache/hwlib."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "hwlib")


def load_or_train_cnn(data: DeviceData, settings: CNNSettings = CNNSettings()) -> tuple[nn.Sequential, CNNRecord, bool]:
    """The trained CNN from the cache when the data and settings are unchanged, else train and cache it.

    The cache key hashes every image and label and every setting. Returns (model, record, from_cache).
    """
    path = cache_dir() / f"cnn-{_fingerprint(data, settings)}.pt"
    device = data.train_x.device
    if path.exists():
        saved = torch.load(path, map_location=device, weights_only=False)
        model = small_cnn(settings.widths).to(device)
        model.load_state_dict(saved["state_dict"])
        return model.eval(), CNNRecord(**saved["record"]), True
    model, record = train_cnn(data, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "record": asdict(record)}, path)
    return model, record, False
