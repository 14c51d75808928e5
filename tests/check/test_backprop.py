"""The residual block's gradient (MIT Q8) against autograd."""

import torch

from hwlib import check

from . import students as s
from .helpers import text


def test_gradient_formula():
    assert check.check_gradient_formula(s.grad_W).passed

    def residual_term_only(W, x):
        u = torch.relu(W @ x)
        return torch.outer(u + W @ u, u)

    report = check.check_gradient_formula(residual_term_only)
    assert not report.passed
    report = check.check_gradient_formula(lambda W, x: s.grad_W(W, x).T)
    assert "transpose of dL/dW" in text(report)
