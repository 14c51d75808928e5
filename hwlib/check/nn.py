"""Layers with a hand-written backward pass (MIT Q10; cs231n's functional
interface): against torch.nn.functional and autograd in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .calling import (
    FAILED,
    Topic,
    call_in,
    guarded,
    in_mode,
    module_forward,
    randn,
    run_cases,
    try_modes,
    unpack,
)
from .compare import OVERFLOW, Hints, as_tensor, close
from .report import Report, attribute, name_of

_WEIGHT_T = (
    "transposed weights: this gradient has shape (in, out), but "
    "the weight is laid out (out, in) as in torch.nn.Linear"
)
_IGNORED = (
    "forward ignores the .weight and .bias the check set (setting other "
    "values changes nothing): keep them as the attributes weight and bias "
    "and compute with those"
)


def _ignores_weights(layer, x, y, mode) -> bool:
    """Whether forward gives y again after .weight and .bias change."""
    try:
        layer.weight, layer.bias = layer.weight * 2 + 1, layer.bias + 1
        again = as_tensor(layer.forward(in_mode(x, mode)))
        return close(again, as_tensor(y))
    except Exception:  # no diagnosis
        return False


def _linear_case(report, cls, n_out, name, x, g) -> None:
    w, b = randn(g, n_out, x.shape[1]), randn(g, n_out)
    wr, br = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
    xr = x.clone().requires_grad_(True)
    out = F.linear(xr, wr, br)
    up = randn(g, *out.shape)
    out.backward(up)

    def make(mode):
        layer = cls(x.shape[1], n_out)
        layer.weight, layer.bias = in_mode(w, mode), in_mode(b, mode)
        return layer

    called = module_forward(report, f"{name}: forward", make, (x,), cls)
    if called is None:
        return
    layer, y, mode = called
    ctx = Hints(batch_size=len(x))
    if not report.compare(f"{name}: forward", y, out.detach(), ctx):
        if _ignores_weights(layer, x, y, mode):
            report.lines[-1] = (f"{name}: forward", False, _IGNORED)
        return
    dx = report.run(f"{name}: backward", layer.backward, in_mode(up, mode))
    if dx is FAILED:
        return
    report.compare(f"{name}: backward returns dL/dx", dx, xr.grad, ctx)
    report.compare(
        f"{name}: grad_weight",
        attribute(layer, "grad_weight"),
        wr.grad,
        Hints(batch_size=len(x), transpose_hint=_WEIGHT_T),
    )
    report.compare(
        f"{name}: grad_bias", attribute(layer, "grad_bias"), br.grad, ctx
    )


@guarded
def check_linear(cls, in_features: int = 5, out_features: int = 3) -> Report:
    """A Linear class: cls(in_features, out_features), forward, backward.

    Compares forward(x) with x W^T + b, backward(g) with dL/dx, and the
    attributes .grad_weight (out, in) and .grad_bias (out,) with autograd,
    after setting .weight (out, in) and .bias (out,) to known values
    (float64 tensors; numpy arrays, then float32 tensors, if that raises).
    """
    return run_cases(
        f"check_linear({name_of(cls)})",
        lambda g: {
            "one example": randn(g, 1, in_features),
            "batch of 4": randn(g, 4, in_features),
            "zero input": torch.zeros(3, in_features, dtype=torch.float64),
        },
        _linear_case,
        cls,
        out_features,
    )


def _relu_subgradient(dx, x: Tensor, up: Tensor, reference: Tensor):
    """The reference with the student's values where x == 0, when those
    are a valid subgradient there (up * c with c in [0, 1]); and a note
    naming the convention found."""
    try:
        mine = as_tensor(dx).reshape(reference.shape)
    except Exception:  # compare reports the unreadable value
        return reference, ""
    zero = x == 0
    if not zero.any():
        return reference, ""
    c = mine[zero] / up[zero]
    if not ((c >= -1e-12) & (c <= 1 + 1e-12)).all():
        return reference, ""
    values = sorted({round(float(v), 6) for v in c})
    note = "ReLU'(0) = " + ", ".join(f"{v:g}" for v in values[:3])
    return torch.where(
        zero, mine, reference
    ), note + " (any value in [0, 1] is accepted)"


def _relu_grad_line(report, case, dx, x, up, reference) -> None:
    reference, note = _relu_subgradient(dx, x, up, reference)
    if report.compare(case, dx, reference, Hints(inputs=x)) and note:
        report.lines[-1] = (case, True, note)


def _relu_case(report, cls, name, x, g) -> None:
    xr = x.clone().requires_grad_(True)
    up = randn(g, *x.shape)
    torch.relu(xr).backward(up)
    called = module_forward(
        report, f"{name}: forward", lambda _: cls(), (x,), cls
    )
    if called is None:
        return
    relu, y, mode = called
    report.compare(f"{name}: forward", y, torch.relu(x))
    dx = report.run(f"{name}: backward", relu.backward, in_mode(up, mode))
    if dx is not FAILED:
        _relu_grad_line(report, f"{name}: backward", dx, x, up, xr.grad)


def _relu_inputs(g) -> dict:
    return {
        "one example": randn(g, 1, 5),
        "batch of 6": randn(g, 6, 4),
        "exact zeros": torch.tensor(
            [[0.0, -0.0, 1.0, -1.0]] * 2, dtype=torch.float64
        ),
        "large values": 1e6 * randn(g, 3, 4),
    }


@guarded
def check_relu(cls) -> Report:
    """A ReLU class: forward(x) = max(x, 0), backward(g) = g * [x > 0].

    At exactly x = 0 any subgradient ReLU'(0) in [0, 1] is accepted (the
    report names the one found).
    """
    return run_cases(
        f"check_relu({name_of(cls)})", _relu_inputs, _relu_case, cls
    )


def cross_entropy_reference(logits: Tensor, g) -> tuple[Tensor, ...]:
    """(target, loss, dL/dlogits): random classes (N,) drawn from g, and
    F.cross_entropy's mean loss and its gradient by autograd."""
    target = torch.randint(0, logits.shape[1], (len(logits),), generator=g)
    z = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(z, target)
    loss.backward()
    return target, loss.detach(), z.grad


def _cross_entropy_case(report, cls, name, logits, g) -> None:
    target, loss_ref, grad_ref = cross_entropy_reference(logits, g)
    called = module_forward(
        report, f"{name}: forward", lambda _: cls(), (logits, target), cls
    )
    if called is None:
        return
    loss_fn, loss, mode = called
    ctx = Hints(batch_size=len(logits), not_finite=OVERFLOW)
    report.compare(f"{name}: loss (mean over the batch)", loss, loss_ref, ctx)
    grad = report.run(f"{name}: backward", loss_fn.backward)
    if grad is not FAILED:
        report.compare(f"{name}: dL/dlogits", grad, grad_ref, ctx)


def _logit_cases(g) -> dict:
    return {
        "one example": randn(g, 1, 10),
        "batch of 8": randn(g, 8, 10),
        "zero logits": torch.zeros(4, 10, dtype=torch.float64),
        "large logits (±1e4)": 1e4 * randn(g, 4, 10).sign(),
    }


@guarded
def check_cross_entropy(cls) -> Report:
    """A loss class: forward(logits, target) -> mean loss, backward().

    Compares the loss with F.cross_entropy (mean over the batch) and
    backward() with dL/dlogits = (softmax - one_hot) / N.
    """
    return run_cases(
        f"check_cross_entropy({name_of(cls)})",
        _logit_cases,
        _cross_entropy_case,
        cls,
    )


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
    report.compare(f"{name}: out", pair[0], out_ref.detach(), ctx)
    grads = report.run(
        f"{name}: backward", backward, in_mode(up, mode), pair[1]
    )
    if grads is not FAILED:
        grads = unpack(report, f"{name}: backward", grads, ("dx", "dw", "db"))
    if grads is FAILED:
        return
    report.compare(f"{name}: dx", grads[0], xr.grad, ctx)
    w_hints = Hints(batch_size=len(x), transpose_hint=_AFFINE_W_T)
    report.compare(f"{name}: dw", grads[1], wr.grad, w_hints)
    report.compare(f"{name}: db", grads[2], br.grad, ctx)


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
    report.compare(f"{name}: out", pair[0], torch.relu(x))
    dx = report.run(f"{name}: backward", backward, in_mode(up, mode), pair[1])
    if dx is not FAILED:
        _relu_grad_line(report, f"{name}: dx", dx, x, up, xr.grad)


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
    report.compare(
        f"{name}: loss (mean over the batch)", pair[0], loss_ref, ctx
    )
    report.compare(f"{name}: dx", pair[1], dx_ref, ctx)


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
    "linear": Topic(
        check_linear,
        ("Linear",),
        "class Linear(in_features, out_features): .weight (out, in), .bias, "
        "forward(x), backward(g) -> dL/dx, .grad_weight, .grad_bias",
    ),
    "relu": Topic(
        check_relu, ("ReLU",), "class ReLU(): forward(x), backward(g) -> dL/dx"
    ),
    "cross_entropy": Topic(
        check_cross_entropy,
        ("CrossEntropyLoss",),
        "class CrossEntropyLoss(): forward(logits, target) -> mean loss, "
        "backward() -> dL/dlogits",
    ),
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
