"""cs231n's functional layers: right answers in numpy, torch or float32
pass; the classic mistakes fail with a diagnosis."""

import numpy as np

from hwlib import check

from . import students as s
from .helpers import failed, text


def test_student_functions_pass():
    for report in (
        check.check_affine_functions(s.affine_forward, s.affine_backward),
        check.check_relu_functions(s.relu_forward, s.relu_backward),
        check.check_softmax_loss(s.softmax_loss),
    ):
        assert report.passed, report


def transposed_backward(dout, cache):
    dx, dw, db = s.affine_backward(dout, cache)
    return dx, dw.T, db


def test_mistakes_and_crashes():
    report = check.check_affine_functions(
        s.affine_forward, transposed_backward
    )
    assert "transposed" in text(report)
    assert check.check_softmax_loss(lambda x, y: 1 / 0).passed is False


def relu_backward_one_at_zero(dout, x):
    return dout * (x >= 0)


def test_relu_functions_accept_any_subgradient_at_zero():
    report = check.check_relu_functions(
        s.relu_forward, relu_backward_one_at_zero
    )
    assert report.passed and "ReLU'(0) = 1" in text(report)


def summed_float32(x, y):
    loss, dx = s.softmax_loss_float32(x, y)
    return loss * len(y), dx


def test_float32_softmax_loss_passes_and_a_float32_mistake_fails():
    report = check.check_softmax_loss(s.softmax_loss_float32)
    assert report.passed and "computed in float32" in text(report)
    report = check.check_softmax_loss(summed_float32)
    assert "one example: loss (mean over the batch)" not in failed(report)
    assert "batch of 8: loss (mean over the batch)" in failed(report)
    assert isinstance(
        s.softmax_loss_float32(np.ones((1, 2)), [0])[1], np.ndarray
    )
