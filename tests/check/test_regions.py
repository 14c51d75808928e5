"""Identified regions and kinks, against exact enumeration."""

from fractions import Fraction

import torch

from hwlib import check

from . import students as s
from .helpers import failed, text


def fewest_preimages(layers):
    """A careful student's count (diagonal W): per coordinate, invert the
    stack backwards (|w t + b| = y gives t = (+-y - b) / w) and take the
    fewest preimages in (0, 1) over the values y where that number can
    change (the images of 0, 1 and the kinks) and between them."""
    d = torch.as_tensor(layers[0][1]).numel()
    total = 1
    for i in range(d):
        chain = [
            (
                Fraction(float(torch.as_tensor(w).reshape(d, d)[i, i])),
                Fraction(float(torch.as_tensor(b).reshape(d)[i])),
            )
            for w, b in layers
        ]
        total *= _fewest(chain)
    return total


def _back(chain, y):
    ts = [y]
    for w, b in reversed(chain):
        ts = [
            (s * t - b) / w for t in ts if t >= 0 for s in {1, -1 if t else 1}
        ]
    return [t for t in ts if 0 < t < 1]


def _fewest(chain):
    kinks = {0, 1}
    for k, (w, b) in enumerate(chain):
        kinks |= set(_back(chain[:k], -b / w))
    values = set()
    for t in kinks:
        for w, b in chain:
            t = abs(w * t + b)
        values.add(t)
    ys = sorted({Fraction(0), Fraction(1)} | {v for v in values if 0 < v < 1})
    ys = ys[1:-1] + [(u + v) / 2 for u, v in zip(ys, ys[1:])]
    return min(len(_back(chain, y)) for y in ys)


def test_identified_regions():
    assert check.check_identified_regions(fewest_preimages).passed


def test_counting_affine_pieces_is_named():
    """s.count_regions counts the pieces whose image covers the cube: on
    [(2.25, -1.5), (-1.25, 1)] that is 1, but every y has 2 preimages."""
    report = check.check_identified_regions(s.count_regions)
    assert "pieces differ from regions (d=1)" in failed(report)
    assert not any(case.startswith("fold") for case in failed(report))
    assert "counts the affine pieces" in text(report)

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
