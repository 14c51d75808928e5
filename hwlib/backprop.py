"""Backpropagation by hand through a residual ReLU block (seed 000 Q8).

    y = W x,   u = ReLU(y),   v = u + W u,   L = 1/2 ||v||^2,

with W in R^{d x d} and x in R^d.

Closed form of the gradient (the seed's part (b)):

    dL/dW = v ⊗ u + (diag(Θ(y)) (I + W^T) v) ⊗ x,

with ⊗ the outer product and Θ the Heaviside step. Where some y_k = 0 (and
((I + W^T) v)_k x != 0) L is not differentiable in W: the one-sided partial
derivatives in W_kj differ by ((I + W^T) v)_k x_j. The seed's Θ(0) = 1,
followed here, gives the derivative from the side y_k > 0; torch.relu's
autograd (ReLU'(0) = 0) the one from the side y_k < 0. They differ only on
that measure-zero set of W.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import _validate


class ResidualReLUForward(NamedTuple):
    """The forward pass: y, u, v of shape (d,) each, and the scalar loss."""

    y: Tensor
    u: Tensor
    v: Tensor
    loss: Tensor


def _check(W: Tensor, x: Tensor) -> None:
    """W (d, d) and x (d,): finite floating tensors of one dtype and device."""
    for name, t in (("W", W), ("x", x)):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            kind = t.dtype if isinstance(t, Tensor) else type(t).__name__
            raise TypeError(
                f"{name} must be a floating torch.Tensor, got {kind}"
            )
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.numel() == 0:
        raise ValueError(
            f"W must be a square matrix (d, d), got shape {tuple(W.shape)}"
        )
    if x.shape != (W.shape[0],):
        raise ValueError(
            f"x must be a vector of shape ({W.shape[0]},) to match W "
            f"{tuple(W.shape)}, got {tuple(x.shape)}"
        )
    _validate.same_dtype_and_device("x", x, "W", W)
    for name, t in (("W", W), ("x", x)):
        if not bool(t.isfinite().all()):
            raise ValueError(f"{name} must be finite, got {t.tolist()}")


def residual_relu_forward(W: Tensor, x: Tensor) -> ResidualReLUForward:
    """y = W x, u = ReLU(y), v = u + W u, L = ||v||^2 / 2."""
    _check(W, x)
    y = W @ x
    u = torch.relu(y)
    v = u + W @ u
    return ResidualReLUForward(y, u, v, 0.5 * (v @ v))


def residual_relu_loss(W: Tensor, x: Tensor) -> Tensor:
    """L(W, x) as a 0-d tensor (differentiable by autograd)."""
    return residual_relu_forward(W, x).loss


def heaviside(y: Tensor) -> Tensor:
    """Θ(y) = 1 where y >= 0, else 0 (the seed's convention Θ(0) = 1)."""
    if not isinstance(y, Tensor) or not y.is_floating_point():
        raise TypeError(f"y must be a floating torch.Tensor, got {y!r:.60}")
    if y.isnan().any():
        raise ValueError("y must not contain NaN (Θ(NaN) is undefined)")
    return (y >= 0).to(y.dtype)


def residual_relu_grad(W: Tensor, x: Tensor) -> Tensor:
    """dL/dW = v ⊗ u + (diag(Θ(y)) (I + W^T) v) ⊗ x, shape (d, d)."""
    y, u, v, _ = residual_relu_forward(W, x)
    back_to_y = heaviside(y) * (v + W.T @ v)  # diag(Θ(y)) (I + W^T) v
    return torch.outer(v, u) + torch.outer(back_to_y, x)


def _as_lists(W: Tensor, x: Tensor) -> tuple[list, ...]:
    """W, x, u, v and Θ(y) of the forward pass as Python lists, for the
    loop versions (scalar arithmetic, no tensor kernels)."""
    y, u, v, _ = residual_relu_forward(W, x)
    return tuple(t.tolist() for t in (W, x, u, v, heaviside(y)))


def residual_relu_grad_loop(W: Tensor, x: Tensor) -> Tensor:
    """dL/dW entry by entry from part (a)'s index formulas, in Python loops.

        dL/dW_ij = sum_m v_m dv_m/dW_ij,
        dv_m/dW_ij = du_m/dW_ij + δ_im u_j + sum_l W_ml du_l/dW_ij,
        du_l/dW_ij = δ_li Θ(y_i) x_j,

    so dv_m/dW_ij = δ_mi Θ(y_i) x_j + δ_im u_j + W_mi Θ(y_i) x_j. Summed
    over m anew for every (i, j), as written: O(d^3) scalar operations.
    (`residual_relu_grad_hoisted` computes the same entries in O(d^2).)
    """
    d = len(x)
    W_, x_, u_, v_, th = _as_lists(W, x)
    grad = [[0.0] * d for _ in range(d)]
    for i in range(d):
        for j in range(d):
            total = 0.0
            for m in range(d):
                dv = (
                    (m == i) * th[i] * x_[j]
                    + (m == i) * u_[j]
                    + W_[m][i] * th[i] * x_[j]
                )
                total += v_[m] * dv
            grad[i][j] = total
    return torch.tensor(grad, dtype=W.dtype, device=W.device)


def residual_relu_grad_hoisted(W: Tensor, x: Tensor) -> Tensor:
    """The index formula in Python loops, with the sum over m hoisted.

        dL/dW_ij = v_i u_j + Θ(y_i) (v_i + s_i) x_j,  s_i = sum_m W_mi v_m,

    s = W^T v does not depend on j, so it is computed once per i: O(d^2)
    scalar operations, the same count as the matrix form. Python loops
    like `residual_relu_grad_loop`, so timing the two compares operation
    counts under one interpreter.
    """
    d = len(x)
    W_, x_, u_, v_, th = _as_lists(W, x)
    grad = []
    for i in range(d):
        s_i = 0.0
        for m in range(d):
            s_i += W_[m][i] * v_[m]
        back = th[i] * (v_[i] + s_i)
        grad.append([v_[i] * u_[j] + back * x_[j] for j in range(d)])
    return torch.tensor(grad, dtype=W.dtype, device=W.device)
