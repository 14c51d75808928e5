"""The residual ReLU block's gradient (MIT Q8), against autograd."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from .calling import Topic, call_in, guarded, randn, try_modes
from .compare import Hints
from .report import Report, name_of

_DW = Hints(
    transpose_hint="it is the transpose of dL/dW: entry (i, j) must be "
    "dL/dW_ij"
)


def residual_loss(W, x):
    """L = ||v||^2 / 2 with y = W x, u = ReLU(y), v = u + W u."""
    u = torch.relu(W @ x)
    v = u + W @ u
    return (v * v).sum() / 2


@guarded
def check_gradient_formula(fn: Callable) -> Report:
    """fn(W, x) -> dL/dW for y = Wx, u = ReLU(y), v = u + Wu, L = ||v||^2/2.

    Against autograd in float64, for d = 1 (one number), 3 and 8, two
    random draws each.
    """
    report = Report(f"check_gradient_formula({name_of(fn)})")
    for d in (1, 3, 8):
        for draw in (1, 2):
            g = torch.Generator().manual_seed(draw - 1)
            W = randn(g, d, d).requires_grad_(True)
            x = randn(g, d)
            (reference,) = torch.autograd.grad(residual_loss(W, x), W)
            case = f"d = {d}, draw {draw}"
            attempt = functools.partial(call_in, fn, (W.detach(), x))
            modes = ("torch", "numpy", "float32")
            got, mode = try_modes(report, case, attempt, modes, fn)
            if mode is not None:
                report.compare(case, got, reference, _DW)
    return report


TOPICS = {
    "gradient_formula": Topic(
        check_gradient_formula, ("grad",), "grad(W, x) -> dL/dW (MIT Q8)"
    ),
}
