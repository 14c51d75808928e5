"""The class-visualisation step: a right answer passes (cs231n's
unnormalised step accepted and named), the classic mistakes fail."""

import torch

from hwlib import check

from . import students as s
from .helpers import text


def test_student_step_passes():
    report = check.check_class_visualization_step(s.class_visualization_step)
    assert report.passed, report


def cs231n_step(model, image, target, *, learning_rate, l2_reg):
    image = image.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(image))
    score = model(image).gather(1, t[:, None]).sum()
    (g,) = torch.autograd.grad(score - l2_reg * (image**2).sum(), image)
    return (image + learning_rate * g).detach()


def test_class_visualisation_step():
    report = check.check_class_visualization_step(cs231n_step)
    assert report.passed and "not divided by ||g||" in text(report)
    report = check.check_class_visualization_step(
        lambda model, image, target, lr, l2_reg: image.clone()
    )
    assert "the image is unchanged" in text(report)
