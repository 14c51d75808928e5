"""Fooling images (GT §6): an image changed a little so that the check's
CNN predicts a chosen class.

Judged by what it does, on the check's CNN: the model predicts each
image's own target (all different, none the prediction), and the change
is small, ||Δ|| <= 0.3 ||x||. Values outside [0, 1] are accepted and
explained (this book clips; cs231n's images are normalised and it does
not).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import Tensor

from .attribution import INT_TARGETS, student_runs, targets
from .calling import Topic, guarded
from .compare import as_tensor, fmt, shape_of, short
from .fixtures import check_cnn, image_cases, reachable_targets
from .precision import FLOAT32_NOTE
from .report import Report, name_of

FOOLING_LR = 0.05  # hwlib's default step length, given when fn requires one


def _read_images(report, case, image, shape):
    """The result as a float64 tensor of `shape`, or None after a failed
    line. Accepts an object with .image (like hwlib's FoolingResult)."""
    image = getattr(image, "image", image)
    want = f"images of shape {tuple(shape)}"
    if image is None:
        report.add(case, False, f"got None, expected {want}")
        return None
    try:
        image = as_tensor(image)
    except Exception as err:  # reported
        report.add(
            case,
            False,
            f"could not read the {type(image).__name__} as numbers "
            f"({err}); expected {want}",
        )
        return None
    if image.numel() != torch.Size(shape).numel():
        report.add(case, False, f"shape {shape_of(image)}, expected {want}")
        return None
    return image.reshape(shape)


def _fooled_detail(scores, before, t, image, x) -> str:
    wrong = (scores.argmax(1) != t).nonzero()[:, 0].tolist()
    detail = f"predicted {scores.argmax(1).tolist()}, target {t.tolist()}"
    if not wrong:
        return detail
    i = wrong[0]
    if len(set(t.tolist())) > 1 and (scores.argmax(1) == t[0]).all():
        return (
            detail + "; every image went to the first target: use each "
            "image's own target"
        )
    if torch.equal(image[i], x[i]):
        return detail + "; the image is unchanged: no step was applied"
    if scores[i, t[i]] < before[i, t[i]]:
        return detail + (
            "; the target score went down: the step goes the wrong way "
            "(ascend the score: x + lr * g)"
        )
    return detail


def _fooling_lines(report, name, x, t: Tensor, image, dtype) -> None:
    """Prediction, range and size of the change of one fooling result
    (predicted by the check's model in the dtype the student used)."""
    image = _read_images(report, f"{name}: result", image, x.shape)
    if image is None:
        return
    model = check_cnn().to(dtype)
    with torch.no_grad():
        scores = model(image.to(dtype)).double()
        before = model(x.to(dtype)).double()
    detail = _fooled_detail(scores, before, t, image, x.to(dtype).double())
    if dtype == torch.float32:
        detail += f"; {FLOAT32_NOTE.split(' (')[0]}"
    report.add(
        f"{name}: the model predicts the target",
        bool((scores.argmax(1) == t).all()),
        detail,
    )
    lo, hi = image.min().item(), image.max().item()
    inside = lo >= 0 and hi <= 1
    report.add(
        f"{name}: values stay in [0, 1]",
        True,
        f"from {fmt(lo)} to {fmt(hi)}"
        if inside
        else f"not clipped: from {fmt(lo)} to {fmt(hi)} (accepted: "
        "cs231n's images are mean/std-normalised and its step does not "
        "clip; this book's images "
        "are in [0, 1], and its question asks you to clip: x.clamp(0, 1))",
    )
    rel = (image - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    report.add(
        f"{name}: the change is small (||Δ|| <= 0.3 ||x||)",
        bool((rel <= 0.3).all()),
        f"largest ||Δ|| / ||x|| = {fmt(rel.max().item())}",
    )


def step_size_name(fn: Callable, *, required: bool = False) -> str | None:
    """What fn's signature calls the step size: "lr" (torch's and hwlib's
    name) or "learning_rate" (cs231n's); None when it has neither or, with
    required=True, when its step size has a default value."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or an odd callable
        return None
    for name in ("lr", "learning_rate"):
        p = parameters.get(name)
        if p is not None and not (required and p.default is not p.empty):
            return name
    return None


@guarded
def check_fooling_image(fn: Callable) -> Report:
    """fn(model, x, target) -> fooling images (N, C, H, W).

    (An object with an .image attribute is accepted.) When fn requires a
    step size (`lr`, or cs231n's `learning_rate`, without a default), it
    gets 0.05. On one image and on five, each with its own target (all
    different, none the prediction): the model must predict the target on
    the result and the change must be small, ||Δ|| <= 0.3 ||x||; values
    outside [0, 1] are accepted and explained (this book clips, cs231n
    does not). Code that works only in float32 is accepted.
    """
    report = Report(f"check_fooling_image({name_of(fn)})")
    step_size = step_size_name(fn, required=True)
    kw = {step_size: FOOLING_LR} if step_size else {}

    cases = []
    for name, x, _ in image_cases():
        t = reachable_targets(check_cnn(), x)
        target = int(t[0]) if len(x) == 1 else t
        cases.append(
            (f"{name.split(',')[0]}, target {short(target)}", x, target)
        )
    for run in student_runs(report, fn, cases, ways=INT_TARGETS, kw=kw):
        t = targets(run.target, len(run.x))
        _fooling_lines(report, run.name, run.x, t, run.ours, run.way.dtype)
    return report


TOPICS = {
    "fooling_image": Topic(
        check_fooling_image,
        ("fooling_image",),
        "fooling_image(model, x, target) -> images (N, C, H, W) in [0, 1] "
        "(a required lr or learning_rate gets 0.05)",
    ),
}
