"""Grad-CAM: every published convention passes and is named; the classic
mistakes fail with a diagnosis."""

import torch
import torch.nn.functional as F

from hwlib import check

from . import students as s
from .helpers import failed, text


def test_student_grad_cam_and_guided_grad_cam_pass():
    for report in (
        check.check_grad_cam(s.grad_cam),
        check.check_guided_grad_cam(s.guided_grad_cam),
    ):
        assert report.passed, report


def min_max_per_image(model, layer, x, target):
    cam = s.grad_cam(model, layer, x, target)
    lo = cam.flatten(1).min(1).values[:, None, None]
    hi = cam.flatten(1).max(1).values[:, None, None]
    return (cam - lo) / (hi - lo)


def bicubic_over_batch(model, layer, x, target):
    cam = s.grad_cam(model, layer, x, target)
    cam = F.interpolate(cam[:, None], size=(8, 8), mode="bicubic")[:, 0]
    return (cam - cam.min()) / (cam.max() - cam.min())


def aligned(model, layer, x, target):
    cam = s.grad_cam(model, layer, x, target)
    return F.interpolate(
        cam[:, None], size=(8, 8), mode="bilinear", align_corners=True
    )[:, 0]


def test_grad_cam_conventions_are_accepted_and_named():
    report = check.check_grad_cam(min_max_per_image)
    assert report.passed and "min-max normalised per image" in text(report)
    report = check.check_grad_cam(bicubic_over_batch)
    assert (
        report.passed
        and "bicubic" in text(report)
        and "over the batch" in text(report)
    )
    report = check.check_grad_cam(aligned)
    assert report.passed and "align_corners=True" in text(report)


def absolute(model, layer, x, target):
    saved = {}
    h = layer.register_forward_hook(lambda m, i, o: saved.setdefault("a", o))
    scores = model(x)
    h.remove()
    t = torch.as_tensor(target).expand(len(x))
    (g,) = torch.autograd.grad(scores.gather(1, t[:, None]).sum(), saved["a"])
    return (g.mean((2, 3), keepdim=True) * saved["a"]).sum(1).abs().detach()


def test_grad_cam_mistakes():
    report = check.check_grad_cam(
        lambda model, layer, x, t: torch.zeros(len(x), 4, 4)
    )
    assert failed(report) == [
        "one image, target 1",
        "5 images, targets [0, 4, 2, 1, 3]",
    ]
    assert "|.| instead of the final ReLU" in text(
        check.check_grad_cam(absolute)
    )
