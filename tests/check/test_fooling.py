"""Fooling images: a right answer passes (unclipped images accepted and
named), the classic mistakes fail."""

import torch

from hwlib import check

from . import students as s
from .helpers import text


def test_student_fooling_image_passes():
    report = check.check_fooling_image(s.fooling_image)
    assert report.passed, report


def first_target_only(model, x, target):
    target = torch.as_tensor(target).expand(len(x))
    return s.fooling_image(model, x, target[0].expand(len(x)))


def unclipped(model, x, target, lr=0.05):
    x = x.clone()
    t = torch.as_tensor(target).expand(len(x))
    for _ in range(200):
        x.requires_grad_(True)
        scores = model(x)
        if (scores.argmax(1) == t).all():
            break
        (g,) = torch.autograd.grad(scores.gather(1, t[:, None]).sum(), x)
        x = (x + lr * g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)).detach()
    return x.detach() - 0.01  # shifted below 0: no clipping


def test_fooling_images():
    report = check.check_fooling_image(first_target_only)
    assert not report.passed
    assert "first target" in text(report)
    report = check.check_fooling_image(unclipped)
    assert report.passed, report
    assert "not clipped" in text(report)
    report = check.check_fooling_image(lambda model, x, target: x)
    assert "unchanged" in text(report)
