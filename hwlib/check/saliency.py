"""Saliency maps and guided backpropagation (GT §6), against autograd.

    saliency(x)_ij = max_c |∂s_target / ∂x_cij|             (N, H, W)
    guided(x)      = ∂s_target / ∂x, every ReLU passing back only
                     positive gradients where its input was positive

Both oracles are written here with autograd on the check's CNN in
float64 (the shared machinery: check.attribution).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from .attribution import (
    WAYS,
    Way,
    input_grad,
    score,
    student_runs,
    wrong_objectives,
)
from .calling import Topic, call_student, guarded
from .compare import Hints, as_tensor
from .fixtures import check_cnn
from .precision import close_as, compare
from .report import Report, name_of


class GuidedReLU(torch.autograd.Function):
    """ReLU whose backward passes only positive gradients, where the input
    was positive (guided backpropagation)."""

    @staticmethod
    def forward(ctx, h):
        ctx.save_for_backward(h)
        return h.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (h,) = ctx.saved_tensors
        return grad.clamp(min=0) * (h > 0)


class _DeconvReLU(GuidedReLU):
    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(min=0)


def saliency(model, x, target) -> Tensor:
    """max over channels of |d s_target / dx|, (N, H, W)."""
    return input_grad(model, x, score(target, len(x))).abs().amax(1)


def guided(model, x, target) -> Tensor:
    """Guided backpropagation of s_target to the image, (N, C, H, W)."""
    return input_grad(model, x, score(target, len(x)), GuidedReLU.apply)


_ALL_TARGETS = (
    "scores[:, target] takes every target for every image (an N x N "
    "block); take one score per image: scores.gather(1, target[:, None])"
)


def _saliency_alternatives(model, x, target) -> dict:
    g = input_grad(model, x, score(target, len(x)))
    found = {
        "missing absolute value: the maximum over channels of the signed "
        "gradient; the saliency is max_c |ds/dx_c|": g.amax(1),
        "the absolute value was taken after the maximum over channels; "
        "the saliency is max_c |ds/dx_c|": g.amax(1).abs(),
        "summed over the channels; the saliency takes the maximum of "
        "|ds/dx_c| over channels": g.abs().sum(1),
        "averaged over the channels; the saliency takes the maximum of "
        "|ds/dx_c| over channels": g.abs().mean(1),
    }
    for text, objective in wrong_objectives(target, len(x)).items():
        found[text] = input_grad(model, x, objective).abs().amax(1)
    if not isinstance(target, int):
        t = torch.as_tensor(target)
        block = input_grad(model, x, lambda s: s[:, t].sum())
        found[_ALL_TARGETS] = block.abs().amax(1)
    return found


def _guided_alternatives(model, x, target) -> dict:
    objective = score(target, len(x))
    return {
        "the ordinary gradient: guided backprop also zeroes the negative "
        "gradients passing back through every ReLU": input_grad(
            model, x, objective
        ),
        "the deconvnet rule: guided backprop keeps a gradient only where it "
        "is positive AND the ReLU's input was positive": input_grad(
            model, x, objective, _DeconvReLU.apply
        ),
    }


def _other_targets_match(fn, run, want, inplace) -> str:
    """The note of the other target form (one-hot rows or ints) when fn,
    called that way, gives the reference: code written for one-hot
    targets can take an int target without raising and compute something
    else. "" when it does not."""
    way = Way(run.way.dtype, not run.way.one_hot)
    try:
        ours = call_student(
            fn,
            check_cnn(inplace=inplace).to(way.dtype),
            run.x.clone().to(way.dtype),
            way.target(run.target, len(run.x)),
        )
        if close_as(as_tensor(ours), want, float32=way.float32):
            return way.note(ours) or "targets as int classes"
    except BaseException as err:  # not that convention
        if isinstance(err, KeyboardInterrupt):
            raise
    return ""


def _map_check(title, fn, reference, alternatives, *, inplace) -> Report:
    report = Report(title)
    for run in student_runs(report, fn, inplace=inplace, ways=WAYS):
        x = run.x
        hints = Hints(
            batch_size=len(x),
            alternatives=functools.partial(
                alternatives, run.model, x, run.target
            ),
        )
        want = reference(run.model, x, run.target)
        float32 = run.way.float32
        note = run.way.note(run.ours)
        if compare(
            report, run.name, run.ours, want, hints, float32=float32, note=note
        ):
            continue
        other = _other_targets_match(fn, run, want, inplace)
        if other:
            report.lines[-1] = (run.name, True, other)
    return report


@guarded
def check_saliency(fn: Callable) -> Report:
    """fn(model, x, target) -> (N, H, W): max over channels of |ds_t/dx|.

    On one image and on five, with an int target and with one target per
    image (one-hot targets, and code that works only in float32, are
    accepted too).
    """
    return _map_check(
        f"check_saliency({name_of(fn)})",
        fn,
        saliency,
        _saliency_alternatives,
        inplace=True,
    )


@guarded
def check_guided_backprop(fn: Callable) -> Report:
    """fn(model, x, target) -> (N, C, H, W) guided backpropagation: every
    ReLU passes back only positive gradients, where its input was positive.

    (The model's ReLUs are not in place here: torch forbids the backward
    hooks guided backprop is usually written with on in-place modules.)
    """
    return _map_check(
        f"check_guided_backprop({name_of(fn)})",
        fn,
        guided,
        _guided_alternatives,
        inplace=False,
    )


TOPICS = {
    "saliency": Topic(
        check_saliency,
        ("saliency_map",),
        "saliency_map(model, x, target) -> (N, H, W)",
    ),
    "guided_backprop": Topic(
        check_guided_backprop,
        ("guided_backprop",),
        "guided_backprop(model, x, target) -> (N, C, H, W)",
    ),
}
