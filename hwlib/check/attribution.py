"""Gradients with respect to the input (GT §6): saliency, guided
backprop, Grad-CAM, fooling images, the class-visualisation step.

The references are written here with autograd, on the check's own CNN
(fixtures.check_cnn: BatchNorm, dropout, an in-place ReLU), run module by
module in float64: the student's function gets a fresh model in eval()
mode. Published conventions are accepted and named (Grad-CAM normalised
per image, min-max, over the batch; bilinear, bicubic, nearest upsampling,
align_corners either way; targets as one-hot rows; cs231n's unnormalised
class-visualisation step and unclipped fooling images).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .calling import FAILED, Topic, call_student, guarded
from .compare import (
    Hints,
    as_tensor,
    close,
    fmt,
    scale_factor,
    shape_of,
    short,
)
from .fixtures import CAM_LAYER, check_cnn, image_cases, reachable_targets
from .report import Report, name_of

CLASSES = 5
FOOLING_LR = 0.05  # hwlib's default step length, given when fn requires one


class _GuidedReLU(torch.autograd.Function):
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


class _DeconvReLU(_GuidedReLU):
    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(min=0)


def _forward(model, x, relu=torch.relu, keep: int | None = None):
    """model(x) module by module (eval mode as given), with `relu` for
    every ReLU; returns (scores, activation after module `keep`)."""
    h, kept = x, None
    for i, module in enumerate(model):
        h = relu(h) if isinstance(module, nn.ReLU) else module(h)
        if i == keep:
            kept = h
    return h, kept


def _targets(target, n: int) -> Tensor:
    return torch.as_tensor(target).expand(n)


def _grad(model, x, objective: Callable, relu=torch.relu) -> Tensor:
    x = x.detach().clone().requires_grad_(True)
    scores, _ = _forward(model, x, relu)
    (g,) = torch.autograd.grad(objective(scores), x)
    return g


def _score(target, n):
    t = _targets(target, n)
    return lambda s: s.gather(1, t[:, None]).sum()


def saliency(model, x, target) -> Tensor:
    """max over channels of |d s_target / dx|, (N, H, W)."""
    return _grad(model, x, _score(target, len(x))).abs().amax(1)


def guided(model, x, target) -> Tensor:
    return _grad(model, x, _score(target, len(x)), _GuidedReLU.apply)


def grad_cam(model, x, target, layer: int = CAM_LAYER, *, sign=torch.relu):
    """ReLU(sum_k alpha_k A^k), alpha_k the spatial mean of ds/dA^k."""
    scores, a = _forward(model, x.detach(), keep=layer)
    (g,) = torch.autograd.grad(_score(target, len(x))(scores), a)
    return sign((g.mean((2, 3), keepdim=True) * a).sum(1)).detach()


_LOSS_GRAD = (
    "the gradient of the loss instead of the class score: differentiate "
    "the unnormalised score s_target (no softmax, no loss)"
)
_PROB_GRAD = (
    "the gradient of the softmax probability instead of the class score: "
    "differentiate the unnormalised score s_target"
)
_IGNORED = "the target is ignored: this is the map of the predicted class"
_ALL_TARGETS = (
    "scores[:, target] takes every target for every image (an N x N "
    "block); take one score per image: scores.gather(1, target[:, None])"
)
_TRAIN_MODE = (
    "the model ran in train() mode (BatchNorm used the batch's statistics, "
    "dropout was on): leave it in eval() mode, as given"
)


def _objectives(target, n) -> dict:
    t = _targets(target, n)
    return {
        _LOSS_GRAD: lambda s: F.cross_entropy(s, t, reduction="sum"),
        _LOSS_GRAD + " (the mean loss)": lambda s: F.cross_entropy(s, t),
        _PROB_GRAD: lambda s: s.softmax(1).gather(1, t[:, None]).sum(),
        _IGNORED: lambda s: s.gather(1, s.argmax(1, keepdim=True)).sum(),
    }


def _saliency_alternatives(model, x, target) -> dict:
    g = _grad(model, x, _score(target, len(x)))
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
    for text, objective in _objectives(target, len(x)).items():
        found[text] = _grad(model, x, objective).abs().amax(1)
    if not isinstance(target, int):
        t = torch.as_tensor(target)
        block = _grad(model, x, lambda s: s[:, t].sum())
        found[_ALL_TARGETS] = block.abs().amax(1)
    return found


def _one_hot(target, n) -> Tensor:
    return F.one_hot(_targets(target, n), CLASSES).double()


def _call(report, name, fn, model, *args, target, n):
    """fn(model, *args, target) on a fresh model; with one-hot targets if
    that raises. Returns (result, note) or (FAILED, "")."""
    try:
        return call_student(fn, model, *args, _copy(target)), ""
    except BaseException as err:  # a second try, then reported
        if isinstance(err, KeyboardInterrupt) or "did not return" in str(err):
            report.add(name, False, f"raised {type(err).__name__}: {err}")
            return FAILED, ""
        first = err
    try:
        out = call_student(fn, model, *args, _one_hot(target, n))
        return out, "targets as one-hot rows"
    except BaseException:  # report the first error: targets are ints
        report.add(name, False, f"raised {type(first).__name__}: {first}")
        return FAILED, ""


def _copy(target):
    return target.clone() if isinstance(target, Tensor) else target


def _model_lines(report, name, model, before) -> bool:
    """Fail when the student's function left the model in train() mode or
    changed its weights or statistics."""
    if model.training or any(m.training for m in model.modules()):
        return report.add(
            f"{name}: the model is left as given", False, _TRAIN_MODE
        )
    after = model.state_dict()
    changed = [k for k, v in before.items() if not torch.equal(v, after[k])]
    if changed:
        return report.add(
            f"{name}: the model is left as given",
            False,
            f"your function changed {changed[0]} (work on copies; an "
            "attribution method only reads the model)",
        )
    return True


def _run_on_cases(
    report, fn, reference, alternatives, *, inplace=True, cam=False
):
    for name, x, target in image_cases():
        mine = check_cnn(inplace=inplace)
        before = {k: v.clone() for k, v in mine.state_dict().items()}
        args = (mine[CAM_LAYER], x.clone()) if cam else (x.clone(),)
        ours, note = _call(
            report, name, fn, mine, *args, target=target, n=len(x)
        )
        if ours is FAILED:
            continue
        model = check_cnn(inplace=False)
        yield name, x, target, ours, note, model
        _model_lines(report, name, mine, before)


def _map_check(title, fn, reference, alternatives, *, inplace=True) -> Report:
    report = Report(title)
    for name, x, target, ours, note, model in _run_on_cases(
        report, fn, reference, alternatives, inplace=inplace
    ):
        hints = Hints(
            batch_size=len(x),
            alternatives=functools.partial(alternatives, model, x, target),
        )
        want = reference(model, x, target)
        if report.compare(name, ours, want, hints):
            if note:
                report.lines[-1] = (name, True, note)
        elif _one_hot_matches(fn, x, target, want, inplace):
            report.lines[-1] = (name, True, "targets as one-hot rows")
    return report


def _one_hot_matches(fn, x, target, want, inplace) -> bool:
    """Whether fn, given the targets as one-hot rows (N, classes), gives
    the reference (code written for one-hot targets can take an int
    target without raising and compute something else)."""
    try:
        ours = call_student(
            fn, check_cnn(inplace=inplace), x.clone(), _one_hot(target, len(x))
        )
        return close(as_tensor(ours), want)
    except BaseException as err:  # not that convention
        if isinstance(err, KeyboardInterrupt):
            raise
        return False


@guarded
def check_saliency(fn: Callable) -> Report:
    """fn(model, x, target) -> (N, H, W): max over channels of |ds_t/dx|.

    On one image and on five, with an int target and with one target per
    image (one-hot targets are accepted too).
    """
    return _map_check(
        f"check_saliency({name_of(fn)})", fn, saliency, _saliency_alternatives
    )


def _guided_alternatives(model, x, target) -> dict:
    score = _score(target, len(x))
    return {
        "the ordinary gradient: guided backprop also zeroes the negative "
        "gradients passing back through every ReLU": _grad(model, x, score),
        "the deconvnet rule: guided backprop keeps a gradient only where it "
        "is positive AND the ReLU's input was positive": _grad(
            model, x, score, _DeconvReLU.apply
        ),
    }


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


# --------------------------------------------------------------- Grad-CAM


def _upsamplings(cam: Tensor, size) -> dict[str, Tensor]:
    """The map at the layer's resolution and upsampled to the image."""
    up = {"at the layer's resolution": cam}
    for mode in ("bilinear", "bicubic"):
        for corners in (False, True):
            up[f"upsampled {mode}, align_corners={corners}"] = F.interpolate(
                cam[:, None],
                size=tuple(size),
                mode=mode,
                align_corners=corners,
            )[:, 0]
    up["upsampled nearest"] = F.interpolate(
        cam[:, None], size=tuple(size), mode="nearest"
    )[:, 0]
    return up


def _normalisations(m: Tensor) -> dict[str, Tensor]:
    """Display normalisations used in published code."""
    out = {"": m}
    flat = m.flatten(1)
    lo, hi = flat.min(1).values, flat.max(1).values
    view = (-1,) + (1,) * (m.ndim - 1)
    if (hi > lo).all():
        out["min-max normalised per image"] = (m - lo.view(view)) / (
            hi - lo
        ).view(view)
    if m.max() > m.min():
        out["min-max normalised over the batch"] = (m - m.min()) / (
            m.max() - m.min()
        )
    if m.abs().max() > 0:
        out["divided by the batch's maximum"] = m / m.abs().max()
    return out


def _positive_scales(ours: Tensor, reference: Tensor) -> bool:
    """ours_i = c_i * reference_i with c_i > 0 for every image i."""
    for mine, ref in zip(ours, reference):
        if ref.abs().max() == 0:
            return False
        c = scale_factor(mine, ref)
        if c is None or c <= 0:
            return False
    return True


def _match(mine, candidates: dict) -> str | None:
    for note, cand in candidates.items():
        if mine is None or mine.shape != cand.shape:
            continue
        for norm, version in _normalisations(cand).items():
            if close(mine, version):
                return ", ".join(filter(None, (note, norm)))
        if _positive_scales(mine, cand):
            return f"{note}, rescaled per image (normalised for display)"
    return None


def _accept_map(report, case, ours, candidates: dict, hints, note) -> None:
    """Pass when ours equals a candidate under some convention, naming it;
    otherwise compare with the candidate of the same shape."""
    try:
        mine = as_tensor(ours)
    except Exception:  # compare reports it below
        mine = None
    found = _match(mine, candidates)
    if found is not None:
        report.add(case, True, ", ".join(filter(None, (found, note))))
        return
    same = [
        c
        for c in candidates.values()
        if mine is not None and c.shape == mine.shape
    ]
    report.compare(case, ours, (same or list(candidates.values()))[0], hints)


def _cam_alternatives(model, x, target) -> dict:
    n = len(x)
    found = {
        "missing the final ReLU: Grad-CAM keeps only the positive part, "
        "ReLU(sum_k alpha_k A^k)": grad_cam(
            model, x, target, sign=lambda t: t
        ),
        "|.| instead of the final ReLU: Grad-CAM keeps the positive part, "
        "ReLU(sum_k alpha_k A^k), not the absolute value": grad_cam(
            model, x, target, sign=torch.abs
        ),
    }
    scores, a = _forward(model, x.detach(), keep=CAM_LAYER)
    (g,) = torch.autograd.grad(_score(target, n)(scores), a, retain_graph=True)
    found[
        "weighted the feature maps pixel by pixel with the gradient instead "
        "of by its spatial mean alpha_k"
    ] = torch.relu((g * a).sum(1)).detach()
    for text, objective in _objectives(target, n).items():
        (g,) = torch.autograd.grad(objective(scores), a, retain_graph=True)
        found[text] = torch.relu(
            (g.mean((2, 3), keepdim=True) * a).sum(1)
        ).detach()
    size = x.shape[-2:]
    return {
        text: F.interpolate(m[:, None], size=tuple(size), mode="bilinear")[
            :, 0
        ]
        for text, m in found.items()
    } | found


def _cam_check(title, fn, *, guided_cam: bool) -> Report:
    report = Report(title)
    for name, x, target, ours, note, model in _run_on_cases(
        report, fn, None, None, inplace=not guided_cam, cam=True
    ):
        cam = grad_cam(model, x, target)
        hints = Hints(
            batch_size=len(x),
            alternatives=functools.partial(
                _cam_alternatives, model, x, target
            ),
        )
        candidates = _upsamplings(cam, x.shape[-2:])
        if guided_cam:
            gb = guided(model, x, target)
            candidates = {
                k: gb * c[:, None] for k, c in list(candidates.items())[1:]
            }
            hints = Hints(
                batch_size=len(x),
                alternatives={
                    "guided backprop alone, not multiplied by the "
                    "Grad-CAM map": gb
                },
            )
        _accept_map(report, name, ours, candidates, hints, note)
    return report


@guarded
def check_grad_cam(fn: Callable) -> Report:
    """fn(model, layer, x, target) -> (N, h, w) or (N, H, W) Grad-CAM maps.

    At the layer's resolution or upsampled to the image (bilinear, bicubic
    with align_corners either way, nearest), as is or normalised (per
    image by a positive factor or min-max, or over the batch); the report
    names the convention it found.
    """
    return _cam_check(f"check_grad_cam({name_of(fn)})", fn, guided_cam=False)


@guarded
def check_guided_grad_cam(fn: Callable) -> Report:
    """fn(model, layer, x, target) -> (N, C, H, W) guided Grad-CAM: guided
    backprop times the Grad-CAM map upsampled to the image (any of
    check_grad_cam's upsamplings and normalisations)."""
    return _cam_check(
        f"check_guided_grad_cam({name_of(fn)})", fn, guided_cam=True
    )


# ------------------------------------------- fooling images, class images


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


def _fooling_lines(report, name, model, x, t: Tensor, image) -> None:
    """Prediction, range and size of the change of one fooling result."""
    image = _read_images(report, f"{name}: result", image, x.shape)
    if image is None:
        return
    with torch.no_grad():
        scores, before = model(image), model(x)
    detail = _fooled_detail(scores, before, t, image, x)
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
    import inspect

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
    does not).
    """
    report = Report(f"check_fooling_image({name_of(fn)})")
    step_size = _step_size_name(fn, required=True)
    kw = {step_size: FOOLING_LR} if step_size else {}
    for name, x, _ in image_cases():
        model = check_cnn()
        t = reachable_targets(model, x)
        target = int(t[0]) if len(x) == 1 else t
        name = f"{name.split(',')[0]}, target {short(target)}"
        mine = check_cnn()
        image = report.run(name, fn, mine, x.clone(), _copy(target), **kw)
        if image is not FAILED:
            _fooling_lines(report, name, model, x, t, image)
            _model_lines(report, name, mine, model.state_dict())
    return report


def class_step(
    model, image, target, *, lr, l2_reg, sign=1.0, squared=True, norm="image"
):
    """One gradient-ascent step on S_t(I) - l2_reg ||I||^2: I + lr g / ||g||
    (norm per "image", over the "batch", or None for cs231n's I + lr g)."""
    image = image.detach().clone().requires_grad_(True)
    norms = image.flatten(1).norm(dim=1)
    penalty = norms**2 if squared else norms
    scores, _ = _forward(model, image)
    t = _targets(target, len(image))
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


@guarded
def check_class_visualization_step(fn: Callable) -> Report:
    """fn(model, image, target, *, lr, l2_reg) -> updated image.

    One gradient-ascent step on S_target(I) - l2_reg * ||I||^2 per image,

        I <- I + lr * g / ||g||_2,  g = ∂S_target/∂I - 2 l2_reg I,

    the norm per image (cs231n's unnormalised I + lr g is accepted and
    named). The step size goes to fn as `lr`, or as `learning_rate` when
    that is what fn's signature calls it. The change I_new - I is compared
    (returning None after updating `image` in place is accepted).
    """
    report = Report(f"check_class_visualization_step({name_of(fn)})")
    kw = {"lr": 0.5, "l2_reg": 0.3}
    yours = {_step_size_name(fn) or "lr": kw["lr"], "l2_reg": kw["l2_reg"]}
    for name, image, target in image_cases():
        mine = image.clone()
        ours = report.run(name, fn, check_cnn(), mine, _copy(target), **yours)
        if ours is FAILED:
            continue
        model = check_cnn(inplace=False)
        if ours is None and not torch.equal(mine, image):
            ours = mine  # updated in place
        step = None if ours is None else _minus(ours, image)
        case = f"{name}: the update I_new - I"
        cs231n = class_step(model, image, target, **kw, norm=None) - image
        try:
            if close(as_tensor(step), cs231n):
                report.add(case, True, _UNNORMALISED)
                continue
        except Exception:  # compare reports it
            pass
        hints = Hints(
            batch_size=len(image),
            alternatives=functools.partial(
                _class_alternatives, model, image, target, kw
            ),
        )
        want = class_step(model, image, target, **kw) - image
        report.compare(case, step, want, hints)
    return report


def _minus(ours, image: Tensor):
    """ours - image, or ours itself when it cannot be read (compare says)."""
    try:
        return as_tensor(ours).reshape(image.shape) - image
    except Exception:  # compare reports the unreadable value
        return ours


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
    "grad_cam": Topic(
        check_grad_cam,
        ("grad_cam",),
        "grad_cam(model, layer, x, target) -> (N, h, w)",
    ),
    "guided_grad_cam": Topic(
        check_guided_grad_cam,
        ("guided_grad_cam",),
        "guided_grad_cam(model, layer, x, target) -> (N, C, H, W)",
    ),
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
