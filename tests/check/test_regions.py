"""Identified regions and kinks, against exact enumeration."""

import torch

from hwlib import check

from . import students as s
from .helpers import text


def test_identified_regions():
    assert check.check_identified_regions(s.count_regions).passed

    def closed_form(layers):
        d = torch.as_tensor(layers[0][1]).numel()
        return 2 ** (len(layers) * d)

    report = check.check_identified_regions(closed_form)
    assert not report.passed and "expected 0" in text(report)


class Net:
    """A network of the course's form, R -> R: hat(x) = relu(x) -
    2 relu(x - 1) + relu(x - 2)."""

    activation = "relu"
    weights = [
        torch.tensor([[1.0], [1.0], [1.0]]),
        torch.tensor([[1.0, -2.0, 1.0]]),
    ]
    biases = [torch.tensor([0.0, -1.0, -2.0]), torch.tensor([0.0])]


def test_kinks():
    assert check.check_kinks([0.0, 1.0, 2.0], Net(), -5, 5).passed
    report = check.check_kinks([0.0, 1.0], Net(), -5, 5)
    assert "missing [2]" in text(report)
    assert not check.check_kinks([0.0, 1.0, 2.0, 3.0], Net(), -5, 5).passed
    assert not check.check_kinks([0.0], lambda x: x, -5, 5).passed
