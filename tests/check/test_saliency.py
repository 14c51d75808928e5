"""Saliency and guided backprop: right answers pass, the classic mistakes
fail with a diagnosis."""

import torch

from hwlib import check

from . import students as s
from .helpers import text


def test_student_saliency_and_guided_backprop_pass():
    for report in (
        check.check_saliency(s.saliency_map),
        check.check_guided_backprop(s.guided_backprop),
    ):
        assert report.passed, report


def averaged(model, x, target):
    x = x.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(x))
    model(x).gather(1, t[:, None]).sum().backward()
    return x.grad.abs().mean(1)


def of_probability(model, x, target):
    x = x.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(x))
    model(x).softmax(1).gather(1, t[:, None]).sum().backward()
    return x.grad.abs().amax(1)


def ignores_target(model, x, target):
    with torch.no_grad():
        predicted = model(x).argmax(1)
    return s.saliency_map(model, x, predicted)


def test_saliency_mistakes_are_named():
    assert "averaged over the channels" in text(check.check_saliency(averaged))
    assert "softmax probability" in text(check.check_saliency(of_probability))
    assert "target is ignored" in text(check.check_saliency(ignores_target))


def plain_gradient(model, x, target):
    x = x.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(x))
    model(x).gather(1, t[:, None]).sum().backward()
    return x.grad


def test_guided_backprop_is_not_the_plain_gradient():
    report = check.check_guided_backprop(plain_gradient)
    assert not report.passed
    assert "the ordinary gradient" in text(report)
