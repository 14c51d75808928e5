"""Layers with a hand-written backward pass: right answers in every
format pass, classic mistakes fail with a named diagnosis."""

import warnings

import numpy as np
import torch

from hwlib import check

from . import students as s
from .helpers import failed, text


def test_student_layers_pass_in_torch_and_numpy_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports = [
            check.check_linear(s.Linear),
            check.check_relu(s.ReLU),
            check.check_cross_entropy(s.CrossEntropyLoss),
            check.check_linear(s.NumpyLinear),
            check.check_relu(s.NumpyReLU),
            check.check_cross_entropy(s.NumpyCrossEntropy),
        ]
    assert [str(w.message) for w in caught] == []
    for report in reports:
        assert report.passed, report


class ReLUOneAtZero(s.ReLU):
    def backward(self, g):
        return g * (self.x >= 0)  # the backprop chapter's Θ(0) = 1


class ReLUWrongAtZero(s.ReLU):
    def backward(self, g):
        return g * (self.x > 0) + 2 * g * (self.x == 0)


def test_relu_subgradient_at_zero_any_value_in_0_1():
    report = check.check_relu(ReLUOneAtZero)
    assert report.passed, report
    assert "ReLU'(0) = 1" in text(report)
    report = check.check_relu(ReLUWrongAtZero)
    assert failed(report) == ["exact zeros: backward"]
    assert "[0, 1]" in text(report)


class DictLinear:
    """Keeps its parameters in a dict: the check's .weight is ignored."""

    def __init__(self, n_in, n_out):
        g = torch.Generator().manual_seed(0)
        self.params = {
            "W": torch.randn(n_out, n_in, generator=g, dtype=torch.float64),
            "b": torch.zeros(n_out, dtype=torch.float64),
        }

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, g):
        self.grad_weight, self.grad_bias = g.T @ self.x, g.sum(0)
        return g @ self.params["W"]


def test_a_linear_that_ignores_the_weight_it_was_given_is_named():
    report = check.check_linear(DictLinear)
    assert not report.passed
    assert "ignores the .weight and .bias the check set" in text(report)


class Float32Linear(s.Linear):
    def forward(self, x):
        self.x = x
        return x @ self.weight.T.float() + self.bias.float()


class CastsToFloat32(s.Linear):
    """Raises nothing with float64 inputs: computes in float32 anyway."""

    def forward(self, x):
        self.x = x.float()
        return self.x @ self.weight.T.float() + self.bias.float()

    def backward(self, g):
        g = g.float()
        self.grad_weight, self.grad_bias = g.T @ self.x, g.sum(0)
        return g @ self.weight.float()


class MeanGradFloat32Linear(Float32Linear):
    def backward(self, g):
        dx = super().backward(g)
        self.grad_weight = self.grad_weight / len(g)
        return dx


def test_float32_only_code_passes_and_is_named():
    for cls in (Float32Linear, CastsToFloat32):
        report = check.check_linear(cls)
        assert report.passed, report
        assert "computed in float32" in text(report)


def test_a_float32_mistake_still_fails():
    report = check.check_linear(MeanGradFloat32Linear)
    assert not report.passed
    assert "1/N with N = 4" in text(report)


class NaiveCrossEntropy(s.CrossEntropyLoss):
    def forward(self, z, y):
        p = z.exp() / z.exp().sum(1, keepdim=True)
        self.p, self.y = p, y
        return -p[torch.arange(len(y)), y].log().mean()


def test_softmax_without_max_shift_says_log_sum_exp():
    report = check.check_cross_entropy(NaiveCrossEntropy)
    assert not report.passed
    assert "subtract each row's maximum" in text(report)


class MeanGradLinear(s.Linear):
    def backward(self, g):
        dx = super().backward(g)
        self.grad_weight = self.grad_weight / len(g)
        return dx


def test_layer_mistakes_are_named():
    assert "1/N with N = 4" in text(check.check_linear(MeanGradLinear))


def test_stubs_and_crashes_fail_with_what_was_expected():
    class Stub:
        def __init__(self, *a):
            pass

        def forward(self, x):
            return None

        def backward(self, g):
            raise NotImplementedError

    report = check.check_linear(Stub)
    assert not report.passed and "got None" in text(report)
    report = check.check_relu(Stub)
    assert not report.passed


def test_numpy_arrays_are_given_when_torch_raises():
    report = check.check_relu(s.NumpyReLU)
    assert report.passed
    assert isinstance(s.NumpyReLU().forward(np.ones(2)), np.ndarray)
