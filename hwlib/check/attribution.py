"""What the input-gradient checks share (GT §6): the oracles' forward pass
and class-score objectives, and how the student's function is called.

The oracles are written with autograd on the check's own CNN
(fixtures.check_cnn: BatchNorm, dropout, an in-place ReLU), run module by
module in float64. The student's function gets a fresh model in eval()
mode; when it raises with int targets in float64 it is called again with
one-hot targets, then with model and images in float32 (check.precision),
and the report names the way that worked. Afterwards the model must be as
it was given: still in eval() mode, the same weights and statistics.

The topics: saliency.py (saliency, guided backprop), gradcam.py
(Grad-CAM, guided Grad-CAM), fooling.py (fooling images) and
class_visualization.py (one step of class visualisation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .calling import FAILED, TimeLimitExceeded, call_named
from .fixtures import CAM_LAYER, check_cnn, image_cases
from .precision import FLOAT32_NOTE, is_float32
from .report import name_of

CLASSES = 5


def forward(model, x, relu=torch.relu, keep: int | None = None):
    """model(x) module by module (eval mode as given), with `relu` for
    every ReLU; returns (scores, activation after module `keep`)."""
    h, kept = x, None
    for i, module in enumerate(model):
        h = relu(h) if isinstance(module, nn.ReLU) else module(h)
        if i == keep:
            kept = h
    return h, kept


def targets(target, n: int) -> Tensor:
    """The target as one int64 class per image, (n,)."""
    return torch.as_tensor(target).expand(n)


def score(target, n: int) -> Callable:
    """scores -> the sum over images of each image's target score."""
    t = targets(target, n)
    return lambda s: s.gather(1, t[:, None]).sum()


def input_grad(model, x, objective: Callable, relu=torch.relu) -> Tensor:
    """d objective(model(x)) / dx, (N, C, H, W)."""
    x = x.detach().clone().requires_grad_(True)
    scores, _ = forward(model, x, relu)
    (g,) = torch.autograd.grad(objective(scores), x)
    return g


LOSS_GRAD = (
    "the gradient of the loss instead of the class score: differentiate "
    "the unnormalised score s_target (no softmax, no loss)"
)
PROB_GRAD = (
    "the gradient of the softmax probability instead of the class score: "
    "differentiate the unnormalised score s_target"
)
IGNORED = "the target is ignored: this is the map of the predicted class"
TRAIN_MODE = (
    "the model ran in train() mode (BatchNorm used the batch's statistics, "
    "dropout was on): leave it in eval() mode, as given"
)


def wrong_objectives(target, n: int) -> dict[str, Callable]:
    """{mistake: the objective differentiated instead of the score}."""
    t = targets(target, n)
    return {
        LOSS_GRAD: lambda s: F.cross_entropy(s, t, reduction="sum"),
        LOSS_GRAD + " (the mean loss)": lambda s: F.cross_entropy(s, t),
        PROB_GRAD: lambda s: s.softmax(1).gather(1, t[:, None]).sum(),
        IGNORED: lambda s: s.gather(1, s.argmax(1, keepdim=True)).sum(),
    }


@dataclass(frozen=True)
class Way:
    """How the student's function was called: model and images in
    `dtype`, targets as ints or as one-hot rows (N, classes)."""

    dtype: torch.dtype = torch.float64
    one_hot: bool = False

    @property
    def float32(self) -> bool:
        return self.dtype == torch.float32

    def target(self, target, n: int):
        """The target as this way gives it (a copy)."""
        if self.one_hot:
            return F.one_hot(targets(target, n), CLASSES).to(self.dtype)
        return target.clone() if isinstance(target, Tensor) else target

    def note(self, result=None) -> str:
        """What the report says about this way (and a float32 result)."""
        notes = ["targets as one-hot rows"] if self.one_hot else []
        if self.float32 or is_float32(getattr(result, "image", result)):
            notes.append(FLOAT32_NOTE)
        return ", ".join(notes)


WAYS = (
    Way(),
    Way(one_hot=True),
    Way(torch.float32),
    Way(torch.float32, one_hot=True),
)
INT_TARGETS = (Way(), Way(torch.float32))


def call_ways(report, case: str, fn: Callable, attempt: Callable, ways):
    """attempt(way) for each way until one returns (each under the time
    limit, named after fn). Returns (result, way), or (FAILED, None) after
    a failed line with the first way's error."""
    first = None
    for way in ways:
        try:
            return call_named(name_of(fn), attempt, way), way
        except BaseException as err:  # the next way, or reported
            if isinstance(err, KeyboardInterrupt):
                raise
            first = first or err
            if isinstance(err, TimeLimitExceeded):
                break  # another way would be late too
    report.add(case, False, f"raised {type(first).__name__}: {first}")
    return FAILED, None


def _same(before: Tensor, after: Tensor) -> bool:
    """Equal, allowing a cast of the model (float64 -> float32)."""
    return before.shape == after.shape and torch.equal(
        before.to(after.dtype), after
    )


def model_lines(report, name: str, model, before: dict) -> bool:
    """Fail when the student's function left the model in train() mode or
    changed its weights or statistics (a cast to float32 is allowed)."""
    if any(m.training for m in model.modules()):
        return report.add(
            f"{name}: the model is left as given", False, TRAIN_MODE
        )
    after = model.state_dict()
    changed = [k for k, v in before.items() if not _same(v, after[k])]
    if changed:
        return report.add(
            f"{name}: the model is left as given",
            False,
            f"your function changed {changed[0]} (work on copies; an "
            "attribution method only reads the model)",
        )
    return True


@dataclass
class Run:
    """One image case run by the student's function: its result, the way
    it was called, the images it was given, and a fresh float64 model
    for the oracle."""

    name: str
    x: Tensor
    target: object
    ours: object
    way: Way
    model: nn.Module
    given: Tensor


class _FreshCall:
    """fn(model, [model[CAM_LAYER],] images, target, **kw) on a fresh
    model and a copy of the images, in the way asked; keeps the model, its
    state before the call, and the images given."""

    def __init__(self, fn, x, target, *, inplace, cam, kw) -> None:
        self.fn, self.x, self.target = fn, x, target
        self.inplace, self.cam, self.kw = inplace, cam, kw

    def __call__(self, way: Way):
        self.model = check_cnn(inplace=self.inplace).to(way.dtype)
        self.before = {
            k: v.clone() for k, v in self.model.state_dict().items()
        }
        self.images = self.x.clone().to(way.dtype)
        layer = (self.model[CAM_LAYER],) if self.cam else ()
        target = way.target(self.target, len(self.x))
        return self.fn(self.model, *layer, self.images, target, **self.kw)


def student_runs(
    report, fn, cases=None, *, inplace=True, cam=False, ways=WAYS, kw=None
) -> Iterator[Run]:
    """fn(model, [model[CAM_LAYER],] x, target, **kw) on each (name, x,
    target) of `cases` (fixtures.image_cases by default), on a fresh model;
    failed calls are reported and skipped, and after each case a line
    says whether the model was left as given."""
    for name, x, target in image_cases() if cases is None else cases:
        call = _FreshCall(fn, x, target, inplace=inplace, cam=cam, kw=kw or {})
        ours, way = call_ways(report, name, fn, call, ways)
        if ours is FAILED:
            continue
        model = check_cnn(inplace=False)
        yield Run(name, x, target, ours, way, model, call.images)
        model_lines(report, name, call.model, call.before)
