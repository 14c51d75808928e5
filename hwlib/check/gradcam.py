"""Grad-CAM and guided Grad-CAM (GT §6), against autograd.

    alpha_k  = mean over positions of ∂s_target / ∂A^k
    Grad-CAM = ReLU(sum_k alpha_k A^k)                  (N, h, w)

with A the activation of check_cnn()[CAM_LAYER], (N, 8, 4, 4). Guided
Grad-CAM is guided backprop times the map upsampled to the image. Every
published convention is accepted and named: the map at the layer's
resolution or upsampled (bilinear, bicubic, align_corners either way,
nearest), as is or normalised for display (per image by a positive
factor or min-max, or over the batch).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .attribution import (
    forward,
    score,
    student_runs,
    wrong_objectives,
)
from .calling import Topic, guarded
from .compare import Hints, as_tensor
from .fixtures import CAM_LAYER
from .precision import close_as, compare, is_float32
from .report import Report, name_of
from .saliency import guided


def grad_cam(model, x, target, layer: int = CAM_LAYER, *, sign=torch.relu):
    """sign(sum_k alpha_k A^k), alpha_k the spatial mean of ds/dA^k."""
    scores, a = forward(model, x.detach(), keep=layer)
    (g,) = torch.autograd.grad(score(target, len(x))(scores), a)
    return sign((g.mean((2, 3), keepdim=True) * a).sum(1)).detach()


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


def _positive_scales(ours: Tensor, reference: Tensor, float32) -> bool:
    """ours_i = c_i * reference_i with c_i > 0 for every image i."""
    for mine, ref in zip(ours, reference):
        denom = (ref * ref).sum()
        if denom == 0:
            return False
        c = (mine * ref).sum() / denom
        if c <= 0 or not close_as(mine, c * ref, float32=float32):
            return False
    return True


def _match(mine, candidates: dict, float32: bool) -> str | None:
    """The convention under which mine equals a candidate, or None."""
    for note, cand in candidates.items():
        if mine is None or mine.shape != cand.shape:
            continue
        for norm, version in _normalisations(cand).items():
            if close_as(mine, version, float32=float32):
                return ", ".join(filter(None, (note, norm)))
        if _positive_scales(mine, cand, float32):
            return f"{note}, rescaled per image (normalised for display)"
    return None


def _accept_map(report, run, candidates: dict, hints) -> None:
    """Pass when the result equals a candidate under some convention,
    naming it; otherwise compare with the candidate of the same shape."""
    try:
        mine = as_tensor(run.ours)
    except Exception:  # compare reports it below
        mine = None
    float32 = run.way.float32 or is_float32(run.ours)
    note = run.way.note(run.ours)
    found = _match(mine, candidates, float32)
    if found is not None:
        report.add(run.name, True, ", ".join(filter(None, (found, note))))
        return
    same = [
        c
        for c in candidates.values()
        if mine is not None and c.shape == mine.shape
    ]
    want = (same or list(candidates.values()))[0]
    compare(
        report, run.name, run.ours, want, hints, float32=float32, note=note
    )


def _cam_alternatives(model, x, target) -> dict:
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
    scores, a = forward(model, x.detach(), keep=CAM_LAYER)
    objective = score(target, len(x))
    (g,) = torch.autograd.grad(objective(scores), a, retain_graph=True)
    found[
        "weighted the feature maps pixel by pixel with the gradient instead "
        "of by its spatial mean alpha_k"
    ] = torch.relu((g * a).sum(1)).detach()
    for text, objective in wrong_objectives(target, len(x)).items():
        (g,) = torch.autograd.grad(objective(scores), a, retain_graph=True)
        found[text] = torch.relu(
            (g.mean((2, 3), keepdim=True) * a).sum(1)
        ).detach()
    size = tuple(x.shape[-2:])
    up = {
        text: F.interpolate(m[:, None], size=size, mode="bilinear")[:, 0]
        for text, m in found.items()
    }
    return up | found


def _cam_check(title, fn, *, guided_cam: bool) -> Report:
    report = Report(title)
    for run in student_runs(report, fn, inplace=not guided_cam, cam=True):
        model, x, target = run.model, run.x, run.target
        candidates = _upsamplings(grad_cam(model, x, target), x.shape[-2:])
        hints = Hints(
            batch_size=len(x),
            alternatives=functools.partial(
                _cam_alternatives, model, x, target
            ),
        )
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
        _accept_map(report, run, candidates, hints)
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


TOPICS = {
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
}
