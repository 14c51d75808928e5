"""Images made by gradient ascent (GT §6): fooling images and one step of
class visualisation.

A fooling image is judged by what it does, on the check's CNN: the model
predicts each image's own target, and the change is small. The class
visualisation step is compared with the step written here with autograd,

    I <- I + lr * g / ||g||_2,   g = ∂S_target/∂I - 2 l2_reg I,

cs231n's unnormalised step I + lr g is accepted and named.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch
from torch import Tensor

from .attribution import (
    INT_TARGETS,
    forward,
    student_runs,
    targets,
)
from .calling import Topic, guarded
from .compare import Hints, as_tensor, fmt, shape_of, short
from .fixtures import check_cnn, image_cases, reachable_targets
from .precision import FLOAT32_NOTE, close_as, compare
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


def _step_size_name(fn: Callable, *, required: bool = False) -> str | None:
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
    step_size = _step_size_name(fn, required=True)
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


def class_step(
    model, image, target, *, lr, l2_reg, sign=1.0, squared=True, norm="image"
):
    """One gradient-ascent step on S_t(I) - l2_reg ||I||^2: I + lr g / ||g||
    (norm per "image", over the "batch", or None for cs231n's I + lr g)."""
    image = image.detach().clone().requires_grad_(True)
    norms = image.flatten(1).norm(dim=1)
    penalty = norms**2 if squared else norms
    scores, _ = forward(model, image)
    t = targets(target, len(image))
    objective = (
        scores.gather(1, t[:, None])[:, 0] - sign * l2_reg * penalty
    ).sum()
    (g,) = torch.autograd.grad(objective, image)
    scale = {
        "image": g.flatten(1).norm(dim=1).view(-1, 1, 1, 1),
        "batch": g.norm(),
        None: torch.tensor(1.0, dtype=g.dtype),
    }[norm]
    return (image + lr * g / scale).detach()


_UNNORMALISED = (
    "cs231n's step I + lr * g, not divided by ||g||: accepted; this book "
    "asks for I + lr * g / ||g|| (a step of length lr)"
)


def _class_alternatives(model, image, target, kw) -> dict:
    step = functools.partial(class_step, model, image, target, **kw)
    return {
        "the L2 penalty has the wrong sign: the update climbs S_t(I) + "
        "l2_reg ||I||^2 instead of S_t(I) - l2_reg ||I||^2": step(sign=-1.0)
        - image,
        "the penalty uses ||I|| instead of the squared norm ||I||^2": step(
            squared=False
        )
        - image,
        "the L2 penalty is missing": step(sign=0.0) - image,
        "normalised by the gradient norm of the whole batch instead of per "
        "image": step(norm="batch") - image,
        "the image is unchanged: the step was not applied (return the "
        "updated image, or update it in place)": torch.zeros_like(image),
    }


def _class_line(report, case, step, image, target, kw, note) -> None:
    """Compare the student's update with the normalised step (or accept
    cs231n's unnormalised one, naming it); `note` names the way the
    student's function was called ("" for float64, int targets)."""
    model = check_cnn(inplace=False)
    cs231n = class_step(model, image, target, **kw, norm=None) - image
    float32 = FLOAT32_NOTE in note
    try:
        if close_as(as_tensor(step), cs231n, float32=float32):
            notes = ", ".join(filter(None, (_UNNORMALISED, note)))
            report.add(case, True, notes)
            return
    except Exception:  # compare reports it
        pass
    hints = Hints(
        batch_size=len(image),
        alternatives=functools.partial(
            _class_alternatives, model, image, target, kw
        ),
    )
    want = class_step(model, image, target, **kw) - image
    compare(report, case, step, want, hints, float32=float32, note=note)


@guarded
def check_class_visualization_step(fn: Callable) -> Report:
    """fn(model, image, target, *, lr, l2_reg) -> updated image.

    One gradient-ascent step on S_target(I) - l2_reg * ||I||^2 per image,

        I <- I + lr * g / ||g||_2,  g = ∂S_target/∂I - 2 l2_reg I,

    the norm per image (cs231n's unnormalised I + lr g is accepted and
    named). The step size goes to fn as `lr`, or as `learning_rate` when
    that is what fn's signature calls it. The change I_new - I is compared
    (returning None after updating `image` in place is accepted; so is
    code that works only in float32).
    """
    report = Report(f"check_class_visualization_step({name_of(fn)})")
    kw = {"lr": 0.5, "l2_reg": 0.3}
    yours = {_step_size_name(fn) or "lr": kw["lr"], "l2_reg": kw["l2_reg"]}
    for run in student_runs(report, fn, ways=INT_TARGETS, kw=yours):
        image, ours = run.x, run.ours
        start = image.to(run.way.dtype)
        if ours is None and not torch.equal(run.given, start):
            ours = run.given  # updated in place
        note = run.way.note(ours)
        step = None if ours is None else _minus(ours, start.double())
        case = f"{run.name}: the update I_new - I"
        _class_line(report, case, step, image, run.target, kw, note)
    return report


def _minus(ours, image: Tensor):
    """ours - image, or ours itself when it cannot be read (compare says)."""
    try:
        return as_tensor(ours).reshape(image.shape) - image
    except Exception:  # compare reports the unreadable value
        return ours


TOPICS = {
    "fooling_image": Topic(
        check_fooling_image,
        ("fooling_image",),
        "fooling_image(model, x, target) -> images (N, C, H, W) in [0, 1] "
        "(a required lr or learning_rate gets 0.05)",
    ),
    "class_visualization_step": Topic(
        check_class_visualization_step,
        ("class_visualization_step",),
        "class_visualization_step(model, image, target, *, lr, l2_reg) -> "
        "image (lr may be called learning_rate)",
    ),
}
