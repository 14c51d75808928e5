"""cs231n's functional layers: affine_forward/backward,
relu_forward/backward, softmax_loss (MIT Q10's passes in the interface of
cs231n's layers.py), against autograd in float64.

The functions get numpy float64 arrays first (cs231n's code is numpy),
then float64 tensors, then float32 tensors; an answer computed in
float32 is compared at float32's precision (check.precision).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .calling import (
    FAILED,
    Topic,
    call_in,
    guarded,
    in_mode,
    randn,
    run_cases,
    try_modes,
    unpack,
)
from .compare import OVERFLOW, Hints
from .nn import cross_entropy_reference, relu_grad_line
from .precision import compare
from .report import Report, name_of

_AFFINE_W_T = (
    "transposed: dw has shape (M, D) but w is laid out (D, M) "
    "in this interface (out = x.reshape(N, D) @ w + b)"
)
_NUMPY_FIRST = ("numpy", "torch", "float32")


def _affine_case(report, forward, backward, name, x, g) -> None:
    d, m = int(np.prod(x.shape[1:])), 3
    w, b = randn(g, d, m), randn(g, m)
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, w, b))
    out_ref = xr.reshape(len(x), d) @ wr + br
    up = randn(g, *out_ref.shape)
    out_ref.backward(up)

    def call(mode):
        return forward(*(in_mode(t, mode) for t in (x, w, b)))

    result, mode = try_modes(
        report, f"{name}: forward", call, _NUMPY_FIRST, forward
    )
    if mode is None:
        return
    pair = unpack(report, f"{name}: forward", result, ("out", "cache"))
    if pair is FAILED:
        return
    ctx = Hints(batch_size=len(x))
    f32 = {"float32": mode == "float32"}
    compare(report, f"{name}: out", pair[0], out_ref.detach(), ctx, **f32)
    grads = report.run(
        f"{name}: backward", backward, in_mode(up, mode), pair[1]
    )
    if grads is not FAILED:
        grads = unpack(report, f"{name}: backward", grads, ("dx", "dw", "db"))
    if grads is FAILED:
        return
    compare(report, f"{name}: dx", grads[0], xr.grad, ctx, **f32)
    w_hints = Hints(batch_size=len(x), transpose_hint=_AFFINE_W_T)
    compare(report, f"{name}: dw", grads[1], wr.grad, w_hints, **f32)
    compare(report, f"{name}: db", grads[2], br.grad, ctx, **f32)


@guarded
def check_affine_functions(forward: Callable, backward: Callable) -> Report:
    """forward(x, w, b) -> (out, cache); backward(dout, cache) -> (dx, dw, db).

    cs231n's interface: x of shape (N, d1, ..., dk) is flattened to (N, D),
    w is laid out (D, M), out = x.reshape(N, D) @ w + b; dx has x's shape.
    Inputs are numpy arrays (torch tensors if numpy raises).
    """
    return run_cases(
        f"check_affine_functions({name_of(forward)}, {name_of(backward)})",
        lambda g: {
            "one example (1, 6)": randn(g, 1, 6),
            "batch of 4 images (4, 2, 3)": randn(g, 4, 2, 3),
            "batch of 5 (5, 6)": randn(g, 5, 6),
        },
        _affine_case,
        forward,
        backward,
    )


def _relu_functions_case(report, forward, backward, name, x, g) -> None:
    xr = x.clone().requires_grad_(True)
    up = randn(g, *x.shape)
    torch.relu(xr).backward(up)
    result, mode = try_modes(
        report,
        f"{name}: forward",
        lambda mode: forward(in_mode(x, mode)),
        _NUMPY_FIRST,
        forward,
    )
    if mode is None:
        return
    pair = unpack(report, f"{name}: forward", result, ("out", "cache"))
    if pair is FAILED:
        return
    f32 = mode == "float32"
    compare(report, f"{name}: out", pair[0], torch.relu(x), float32=f32)
    dx = report.run(f"{name}: backward", backward, in_mode(up, mode), pair[1])
    if dx is not FAILED:
        case = f"{name}: dx"
        relu_grad_line(report, case, dx, x, up, xr.grad, float32=f32)


@guarded
def check_relu_functions(forward: Callable, backward: Callable) -> Report:
    """forward(x) -> (out, cache); backward(dout, cache) -> dx.

    dx = dout * [x > 0]; at exactly x = 0 any ReLU'(0) in [0, 1] passes.
    """
    return run_cases(
        f"check_relu_functions({name_of(forward)}, {name_of(backward)})",
        lambda g: {
            "one example": randn(g, 1, 5),
            "batch of 4 images (4, 2, 3)": randn(g, 4, 2, 3),
            "exact zeros": torch.tensor(
                [[0.0, -0.0, 2.0, -2.0]] * 2, dtype=torch.float64
            ),
        },
        _relu_functions_case,
        forward,
        backward,
    )


def _softmax_loss_case(report, fn, name, x, g) -> None:
    y, loss_ref, dx_ref = cross_entropy_reference(x, g)
    attempt = lambda mode: call_in(fn, (x, y), mode)  # noqa: E731
    result, mode = try_modes(report, name, attempt, _NUMPY_FIRST, fn)
    if mode is None:
        return
    pair = unpack(report, name, result, ("loss", "dx"))
    if pair is FAILED:
        return
    ctx = Hints(batch_size=len(x), not_finite=OVERFLOW)
    f32 = {"float32": mode == "float32"}
    case = f"{name}: loss (mean over the batch)"
    compare(report, case, pair[0], loss_ref, ctx, **f32)
    compare(report, f"{name}: dx", pair[1], dx_ref, ctx, **f32)


@guarded
def check_softmax_loss(fn: Callable) -> Report:
    """fn(x, y) -> (loss, dx): mean softmax cross-entropy and its gradient.

    x: scores (N, C), y: labels (N,) of ints; dx = (softmax(x) - onehot)/N.
    """
    return run_cases(
        f"check_softmax_loss({name_of(fn)})",
        lambda g: {
            "one example": randn(g, 1, 10),
            "batch of 8": randn(g, 8, 10),
            "large scores (±1e4)": 1e4 * randn(g, 4, 10).sign(),
        },
        _softmax_loss_case,
        fn,
    )


TOPICS = {
    "affine": Topic(
        check_affine_functions,
        ("affine_forward", "affine_backward"),
        "affine_forward(x, w, b) -> (out, cache), w (D, M); "
        "affine_backward(dout, cache) -> (dx, dw, db)",
    ),
    "relu_functions": Topic(
        check_relu_functions,
        ("relu_forward", "relu_backward"),
        "relu_forward(x) -> (out, cache); relu_backward(dout, cache) -> dx",
    ),
    "softmax_loss": Topic(
        check_softmax_loss,
        ("softmax_loss",),
        "softmax_loss(x, y) -> (mean loss, dx)",
    ),
}
