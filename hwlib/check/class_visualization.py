"""One step of class visualisation (GT §6), against autograd:

    I <- I + lr * g / ||g||_2,   g = ∂S_target/∂I - 2 l2_reg I,

the norm per image; cs231n's unnormalised step I + lr g is accepted and
named. The change I_new - I is compared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from .attribution import INT_TARGETS, forward, student_runs, targets
from .calling import Topic, guarded
from .compare import Hints, as_tensor
from .fixtures import check_cnn
from .fooling import step_size_name
from .precision import FLOAT32_NOTE, close_as, compare
from .report import Report, name_of


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
    yours = {step_size_name(fn) or "lr": kw["lr"], "l2_reg": kw["l2_reg"]}
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
    "class_visualization_step": Topic(
        check_class_visualization_step,
        ("class_visualization_step",),
        "class_visualization_step(model, image, target, *, lr, l2_reg) -> "
        "image (lr may be called learning_rate)",
    ),
}
