"""The small models and images the attribution checks run on.

`tiny_cnn` is a plain random float64 CNN (tests of attribution code use
it); `check_cnn` is the one the checks hand to a student's function: it
holds what student code gets wrong, BatchNorm and dropout (so code that
runs the model in train() mode gives other maps) and an in-place ReLU (so
code that edits a tensor it does not own breaks).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from .. import _validate


def _he_init(model: nn.Module, seed: int) -> nn.Module:
    """He-normal weights from a local generator (the global random state
    is never touched: the modules are built on the meta device)."""
    model = model.to_empty(device="cpu").double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p[0].numel() if name.endswith("weight") else 10
            draw = torch.randn(p.shape, generator=g, dtype=torch.float64)
            p.copy_(draw * (2 / fan_in) ** 0.5)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                mean = torch.randn(n, generator=g, dtype=torch.float64)
                module.running_mean.copy_(0.3 * mean)
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
                module.weight.copy_(1 + 0.2 * module.weight)
                module.num_batches_tracked.fill_(100)
    return model.eval()


def tiny_cnn(seed: int = 0, *, device="cpu") -> nn.Sequential:
    """A random float64 CNN for (N, 3, 8, 8) images and 5 classes, in eval
    mode:

        conv 3->4, ReLU, conv 4->6, ReLU, maxpool 2, conv 6->8, ReLU,
        flatten (8 x 4 x 4), linear -> 5

    model[5] is the last convolution (N, 8, 4, 4). Weights are He-normal
    draws from torch.Generator().manual_seed(seed).
    """
    seed = _validate.integer("seed", seed, minimum=0)
    device = _validate.device(device)
    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(4, 6, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, 5),
        )
    return _he_init(model, seed).to(device)


CAM_LAYER = 7
"""check_cnn()[CAM_LAYER]: the layer Grad-CAM looks at, (N, 8, 4, 4)."""


def check_cnn(seed: int = 4, *, inplace: bool = True) -> nn.Sequential:
    """The CNN a check hands to attribution code, in eval mode:

        conv 3->4, BatchNorm, ReLU (in place), conv 4->6, ReLU,
        maxpool 2, conv 6->8, ReLU [Grad-CAM layer], dropout 0.5,
        flatten (8 x 4 x 4), linear -> 5

    BatchNorm has running statistics far from a batch's own, so train()
    mode changes every output. inplace=False (for guided backprop, whose
    backward hooks torch forbids on in-place modules) makes every ReLU a
    plain one.
    """
    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(inplace=inplace),
            nn.Conv2d(4, 6, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, 5),
        )
    return _he_init(model, seed)


def image_cases() -> list[tuple[str, Tensor, object]]:
    """(name, images, target): one image with an int target, and a batch
    of 5 with one target per image (an int64 tensor, all different)."""
    g = torch.Generator().manual_seed(1)
    one = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64)
    five = torch.rand(5, 3, 8, 8, generator=g, dtype=torch.float64)
    return [
        ("one image, target 1", one, 1),
        (
            "5 images, targets [0, 4, 2, 1, 3]",
            five,
            torch.tensor([0, 4, 2, 1, 3]),
        ),
    ]


def reachable_targets(model: nn.Module, x: Tensor) -> Tensor:
    """One target class per image, never the image's prediction, as highly
    ranked as possible (the easiest to reach), and not all the same (so
    code that uses the first target for every image fails): the best
    choice by brute force."""
    with torch.no_grad():
        scores = model(x)
    rank = scores.argsort(1, descending=True).argsort(1)  # 0 = predicted
    n, classes = scores.shape
    if n > 6:
        return scores.topk(2, dim=1).indices[:, 1]
    best, best_cost = None, None
    for choice in itertools.product(range(classes), repeat=n):
        ranks = [int(rank[i, c]) for i, c in enumerate(choice)]
        if 0 in ranks or (n > 1 and len(set(choice)) < 2):
            continue
        cost = sum(ranks)
        if best_cost is None or cost < best_cost:
            best, best_cost = choice, cost
    return torch.tensor(best)
