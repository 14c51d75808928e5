"""Layer classes with a hand-written backward pass (MIT Q10): Linear,
ReLU, CrossEntropyLoss, against torch.nn.functional and autograd in
float64.

A layer gets float64 tensors; numpy arrays, then float32 tensors, when
that raises. An answer computed in float32 is compared at float32's
precision and the report says so (check.precision). cs231n's functional
interface (affine_forward, ...) is checked in check.layer_functions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .calling import (
    FAILED,
    Topic,
    guarded,
    in_mode,
    module_forward,
    randn,
    run_cases,
)
from .compare import OVERFLOW, Hints, as_tensor, close
from .precision import FLOAT32_RTOL, compare
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
    f32 = {"float32": mode == "float32"}
    if not compare(report, f"{name}: forward", y, out.detach(), ctx, **f32):
        if _ignores_weights(layer, x, y, mode):
            report.lines[-1] = (f"{name}: forward", False, _IGNORED)
        return
    dx = report.run(f"{name}: backward", layer.backward, in_mode(up, mode))
    if dx is FAILED:
        return
    compare(report, f"{name}: backward returns dL/dx", dx, xr.grad, ctx, **f32)
    w_hints = Hints(batch_size=len(x), transpose_hint=_WEIGHT_T)
    grad_weight = attribute(layer, "grad_weight")
    compare(
        report, f"{name}: grad_weight", grad_weight, wr.grad, w_hints, **f32
    )
    grad_bias = attribute(layer, "grad_bias")
    compare(report, f"{name}: grad_bias", grad_bias, br.grad, ctx, **f32)


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


def _relu_subgradient(dx, x: Tensor, up: Tensor, reference: Tensor, tol):
    """The reference with the student's values where x == 0, when those
    are a valid subgradient there (up * c with c in [0, 1], to `tol`);
    and a note naming the convention found."""
    try:
        mine = as_tensor(dx).reshape(reference.shape)
    except Exception:  # compare reports the unreadable value
        return reference, ""
    zero = x == 0
    if not zero.any():
        return reference, ""
    c = mine[zero] / up[zero]
    if not ((c >= -tol) & (c <= 1 + tol)).all():
        return reference, ""
    values = sorted({round(float(v), 6) for v in c})
    note = "ReLU'(0) = " + ", ".join(f"{v:g}" for v in values[:3])
    return torch.where(
        zero, mine, reference
    ), note + " (any value in [0, 1] is accepted)"


def relu_grad_line(report, case, dx, x, up, reference, *, float32) -> None:
    """Compare dx with dL/dx of ReLU, accepting any ReLU'(0) in [0, 1]."""
    tol = FLOAT32_RTOL if float32 else 1e-12
    reference, note = _relu_subgradient(dx, x, up, reference, tol)
    hints = Hints(inputs=x)
    compare(report, case, dx, reference, hints, float32=float32, note=note)


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
    f32 = mode == "float32"
    compare(report, f"{name}: forward", y, torch.relu(x), float32=f32)
    dx = report.run(f"{name}: backward", relu.backward, in_mode(up, mode))
    if dx is not FAILED:
        case = f"{name}: backward"
        relu_grad_line(report, case, dx, x, up, xr.grad, float32=f32)


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
    f32 = {"float32": mode == "float32"}
    case = f"{name}: loss (mean over the batch)"
    compare(report, case, loss, loss_ref, ctx, **f32)
    grad = report.run(f"{name}: backward", loss_fn.backward)
    if grad is not FAILED:
        compare(report, f"{name}: dL/dlogits", grad, grad_ref, ctx, **f32)


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
}
