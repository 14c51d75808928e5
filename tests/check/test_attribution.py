"""What every input-gradient check shares: the model must be left as
given, targets may come as one-hot rows, and code that works only in
float32 passes (named), while a float32 mistake still fails."""

import torch

from hwlib import check

from . import students as s
from .helpers import failed, text
from .test_saliency import averaged


def in_train_mode(model, x, target):
    model.train()
    return s.saliency_map(model, x, target)


def edits_the_weights(model, x, target):
    with torch.no_grad():
        model[0].weight.mul_(1.0 + 1e-9)
    return s.saliency_map(model, x, target)


def test_the_model_must_be_left_as_given():
    assert "train() mode" in text(check.check_saliency(in_train_mode))
    report = check.check_saliency(edits_the_weights)
    assert "your function changed 0.weight" in text(report)


def one_hot_saliency(model, x, target_one_hot):
    x = x.clone().requires_grad_(True)
    (model(x) * target_one_hot).sum().backward()
    return x.grad.abs().amax(1)


def test_one_hot_targets_are_accepted():
    report = check.check_saliency(one_hot_saliency)
    assert report.passed, report
    assert "one-hot" in text(report)


def test_float32_only_code_passes_and_is_named():
    for report in (
        check.check_saliency(s.saliency_map_float32),
        check.check_grad_cam(s.grad_cam_float32),
        check.check_fooling_image(s.fooling_image_float32),
        check.check_class_visualization_step(
            s.class_visualization_step_float32
        ),
    ):
        assert report.passed, report
        assert "float32" in text(report), report


def averaged_float32(model, x, target):
    return averaged(model, x.float(), target)


def slightly_off_float32(model, x, target):
    """A float32 saliency map 0.1 % too large: not float32's rounding."""
    return 1.001 * s.saliency_map_float32(model, x, target)


def test_float32_mistakes_still_fail():
    report = check.check_saliency(averaged_float32)
    assert failed(report) == [
        "one image, target 1",
        "5 images, targets [0, 4, 2, 1, 3]",
    ]
    assert "averaged over the channels" in text(report)
    report = check.check_saliency(slightly_off_float32)
    assert not report.passed, report
