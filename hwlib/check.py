"""Self-checks a student runs on their own answers; each returns a Report.

Every check compares the student's code with an independent reference
(torch.autograd, torch.nn.functional, hwlib's reference functions, exact
enumeration) on one example and on a batch of several, and prints one line
per case:

    >>> report = check_relu(MyReLU)
    >>> print(report)     # verdict first, then ✓ or ✗ per case
    >>> report.passed     # True when every case matched

Nothing passes unchecked: None, a missing attribute, a wrong type or shape
and an exception are failed lines that say what was expected, and no check
raises, whatever it is given. Answers may be torch tensors, numpy arrays,
nested lists, scipy sparse matrices or sympy matrices. When values differ,
`diagnose` names the classic mistake that explains the difference (a factor
of the batch size, a flipped sign, transposed weights, a missing absolute
value, ...). Values are compared with one relative tolerance:
|yours - expected| <= RTOL * max|expected| + ATOL, entry by entry.

From a terminal: `python -m hwlib.check TOPIC file.py:NAME` (see --list).
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import attribution as attr
from . import review
from .conv import conv2d_matrix, conv_transpose2d_matrix
from .gates import (
    GATE_RULES,
    SIGN_GATE_RULES,
    boolean_points,
    linearly_separable,
    threshold_unit,
)
from .models import tiny_cnn
from .regions import abs_fold_layer, count_identified_regions

__all__ = [
    "Report",
    "diagnose",
    "check_linear",
    "check_relu",
    "check_cross_entropy",
    "check_affine_functions",
    "check_relu_functions",
    "check_softmax_loss",
    "check_gate",
    "check_threshold_neuron",
    "check_conv_matrix",
    "check_conv_transpose_matrix",
    "check_identified_regions",
    "check_gradient_formula",
    "check_saliency",
    "check_guided_backprop",
    "check_grad_cam",
    "check_guided_grad_cam",
    "check_fooling_image",
    "check_class_visualization_step",
    "check_kinks",
    "check_word_count",
    "main",
]

RTOL = 1e-5  # relative to the largest expected magnitude
ATOL = 1e-9  # floor, for answers whose expected values are all 0


# ---------------------------------------------------------------------------
# Numbers as a student would type them
# ---------------------------------------------------------------------------


def _fmt(value) -> str:
    """A number in short decimals (float32 noise removed): -1.4, 0.001."""
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return repr(value)


def _fmt_array(value, limit: int = 8) -> str:
    """A short list of numbers: [1, -0.5, 2] (the first `limit`)."""
    flat = [_fmt(v) for v in np.asarray(value, dtype=np.float64).ravel()]
    tail = ", ..." if len(flat) > limit else ""
    return "[" + ", ".join(flat[:limit]) + tail + "]"


def _short(value) -> str:
    """A value for a report title: numbers in short decimals, else repr."""
    try:
        t = _as_tensor(value)
    except Exception:  # not numbers: show it as it is
        return repr(value)
    return _fmt(t) if t.ndim == 0 else _fmt_array(t)


def _shape(t) -> tuple:
    return tuple(int(n) for n in t.shape)


# ---------------------------------------------------------------------------
# Reading answers in any format
# ---------------------------------------------------------------------------


class _Missing:
    """Stands in for an attribute the student's object lacks; `others`
    lists the object's gradient-like attributes (dW, grad_w, ...)."""

    def __init__(self, name: str, others: list[str]) -> None:
        self.name, self.others = name, others

    def __str__(self) -> str:
        found = f" (it has {', '.join(self.others)})" if self.others else ""
        return f"no attribute {self.name!r}{found}"


def _attr(obj, name: str):
    """obj.name, or a _Missing marker when there is no such attribute."""
    try:
        return getattr(obj, name)
    except Exception:  # any failure (property raising, ...) means missing
        names = getattr(obj, "__dict__", {})
        others = [n for n in names if n.startswith(("d", "grad"))]
        return _Missing(name, sorted(others)[:4])


def _is_sympy(value) -> bool:
    return type(value).__module__.startswith("sympy")


def _as_tensor(value) -> Tensor:
    """Any numeric answer as a float64 CPU tensor.

    Accepts torch tensors, numpy arrays, nested lists, Python numbers,
    scipy sparse matrices and sympy matrices of numbers; raises TypeError
    or ValueError otherwise (symbols, strings, None).
    """
    if value is None:
        raise TypeError("got None")
    if isinstance(value, Tensor):
        return value.detach().to("cpu", torch.float64)
    if _is_sympy(value):
        if getattr(value, "free_symbols", None):
            names = sorted(map(str, value.free_symbols))[:4]
            raise TypeError(f"it contains symbols {names}")
        value = value.tolist() if hasattr(value, "tolist") else float(value)
    elif hasattr(value, "toarray"):  # scipy.sparse
        value = value.toarray()
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, Tensor) for v in value
    ):
        value = [_as_tensor(v).numpy() for v in value]
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def _expected(reference: Tensor) -> str:
    if reference.ndim == 0:
        return "a number"
    return f"an array of shape {_shape(reference)}"


def _close(ours: Tensor, reference: Tensor) -> bool:
    """One rule everywhere: |ours - ref| <= RTOL * max|ref| + ATOL."""
    if ours.shape != reference.shape or not torch.isfinite(ours).all():
        return False
    if reference.numel() == 0:
        return True
    diff = (ours - reference).abs().max().item()
    return diff <= RTOL * reference.abs().max().item() + ATOL


# ---------------------------------------------------------------------------
# Diagnosis: which classic mistake explains the difference?
# ---------------------------------------------------------------------------

ZERO_CONVENTION = (
    "differs only where the input is exactly 0: a convention, not an error "
    "in calculus (any value in [0, 1] is a subgradient of ReLU at 0), but "
    "PyTorch uses ReLU'(0) = 0, and so does this check"
)


def _factor_name(c: float, batch_size: int | None) -> str:
    """Words for a factor c: 'the batch size N = 4', '2', '1/2', ..."""
    names = {2.0: "2", 0.5: "1/2"}
    if batch_size and batch_size > 1:
        names[float(batch_size)] = (
            f"the batch size N = {batch_size} (a sum over the batch where a "
            "mean was expected, or a missing 1/N)"
        )
        names[1.0 / batch_size] = (
            f"1/N with N = {batch_size} (divided by the batch size where "
            "no division was expected, or divided twice)"
        )
    for value, name in names.items():
        if abs(c - value) <= 1e-6 * abs(value):
            return name
    return _fmt(c)


def _factor_text(c: float, batch_size, *, single: bool) -> str:
    """'off by a constant factor ...' naming c; for a single number (where
    any two numbers differ by some factor) only a recognised factor."""
    name = _factor_name(abs(c), batch_size)
    if single and name == _fmt(abs(c)):
        return ""
    sign = "the sign is flipped and " if c < 0 else ""
    return (
        f"{sign}off by a constant factor: yours = {_fmt(c)} × expected, "
        f"a factor of {name}"
    )


def _scale_factor(ours: Tensor, reference: Tensor) -> float | None:
    """c with ours = c * reference (least squares), if that fits exactly."""
    denom = (reference * reference).sum().item()
    if denom == 0:
        return None
    c = (ours * reference).sum().item() / denom
    return c if _close(ours, c * reference) else None


def _diagnose_shape(ours: Tensor, reference: Tensor, context: dict) -> str:
    if ours.ndim == 2 and _close(ours.T, reference):
        return context.get(
            "transpose_hint", "it is the transpose of the expected array"
        )
    if ours.numel() == reference.numel() and _close(
        ours.reshape(reference.shape), reference
    ):
        return (
            f"right values in the wrong shape: reshape to {_shape(reference)}"
        )
    if (
        reference.ndim >= 1
        and ours.shape == reference.shape[1:]
        and _close(ours, reference.sum(0))
    ):
        return (
            "summed over the batch: one result for all examples "
            "instead of one per example"
        )
    return ""


def _diagnose_values(ours: Tensor, reference: Tensor, context: dict) -> str:
    n = context.get("batch_size")
    alternatives = context.get("alternatives", {})
    if callable(alternatives):  # computed only when a diagnosis is needed
        alternatives = alternatives()
    for name, alternative in alternatives.items():
        alternative = _as_tensor(alternative)
        if alternative.shape == ours.shape and _close(ours, alternative):
            return name
    if _close(ours, -reference):
        return "the sign is flipped: yours = -expected"
    c = _scale_factor(ours, reference)
    if c is not None and abs(c - 1) > 1e-6:
        return _factor_text(c, n, single=reference.numel() == 1)
    if (ours < 0).any() and _close(ours.abs(), reference):
        return "missing absolute value: |yours| = expected"
    if (
        ours.ndim == 2
        and ours.shape[0] == ours.shape[1]
        and _close(ours.T, reference)
    ):
        return context.get(
            "transpose_hint", "it is the transpose of the expected array"
        )
    total = reference.sum(0, keepdim=True).expand_as(reference)
    if len(reference) > 1 and _close(ours, total):
        return (
            "summed over the batch: every example got the total of the "
            "batch instead of its own value"
        )
    return _diagnose_at_zero(ours, reference, context)


def _diagnose_at_zero(ours: Tensor, reference: Tensor, context: dict) -> str:
    inputs = context.get("inputs")
    if inputs is None:
        return ""
    zero = _as_tensor(inputs) == 0
    if zero.shape != ours.shape or not zero.any():
        return ""
    differs = (ours - reference).abs() > RTOL * reference.abs().max() + ATOL
    if differs.any() and not (differs & ~zero).any():
        return context.get("zero_convention", ZERO_CONVENTION)
    return ""


def diagnose(ours, reference, context: dict | None = None) -> str:
    """Name the classic mistake that turns `reference` into `ours`, or "".

    Args:
        ours: the student's result (any numeric format).
        reference: the right result.
        context: optional hints. "batch_size": N, to name factors N and 1/N;
            "alternatives": {explanation: the result that mistake gives}
            (or a function returning that dict), tried first; "inputs":
            the input, to recognise a difference only where it is exactly
            0 ("zero_convention": the text to say then);
            "transpose_hint": the text for a transposed answer.

    Never raises: anything it cannot read gives "".
    """
    try:
        ours, reference = _as_tensor(ours), _as_tensor(reference)
        context = context or {}
        if ours.shape != reference.shape:
            return _diagnose_shape(ours, reference, context)
        return _diagnose_values(ours, reference, context)
    except Exception:  # a diagnosis is a bonus; it must never break a check
        return ""


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


@dataclass
class Report:
    """What a check compared: one (case, passed, detail) line per case."""

    title: str
    lines: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, case: str, passed: bool, detail: str = "") -> bool:
        """Record one line; returns `passed`."""
        self.lines.append((case, bool(passed), detail))
        return bool(passed)

    def compare(self, case: str, ours, reference, context=None) -> bool:
        """Record whether `ours` equals `reference` (shape and values).

        None, a missing attribute, an unreadable value, a wrong shape and
        inf/nan all fail with a line saying what was expected; a value
        mismatch fails with the largest difference and a diagnosis.
        """
        reference = _as_tensor(reference)
        want = _expected(reference)
        if isinstance(ours, _Missing):
            return self.add(
                case,
                False,
                f"{ours}; expected .{ours.name} to hold {want}",
            )
        if ours is None:
            return self.add(case, False, f"got None, expected {want}")
        try:
            mine = _as_tensor(ours)
        except Exception as err:
            return self.add(
                case,
                False,
                f"could not read the "
                f"{type(ours).__name__} as numbers ({err}); "
                f"expected {want}",
            )
        if mine.numel() == 1 == reference.numel():
            mine = mine.reshape(reference.shape)
        return self._compare_values(case, mine, reference, context)

    def _compare_values(self, case, mine, reference, context) -> bool:
        if mine.shape != reference.shape:
            hint = diagnose(mine, reference, context)
            return self.add(
                case,
                False,
                f"shape {_shape(mine)}, expected "
                f"{_shape(reference)}" + (f": {hint}" if hint else ""),
            )
        if not torch.isfinite(mine).all():
            return self.add(case, False, "contains inf or nan")
        if _close(mine, reference):
            return self.add(case, True)
        diff = (mine - reference).abs()
        where = np.unravel_index(int(diff.argmax()), _shape(diff))
        index = ", ".join(map(str, where))
        detail = (
            f"at [{index}] yours {_fmt(mine[where])}, expected "
            f"{_fmt(reference[where])}"
        )
        hint = diagnose(mine, reference, context)
        return self.add(case, False, detail + (f"; {hint}" if hint else ""))

    def run(self, case: str, fn: Callable, *args, **kwargs):
        """fn(*args, **kwargs); an exception becomes a failed line instead.

        Returns the result, or FAILED when fn raised.
        """
        try:
            return fn(*args, **kwargs)
        except (Exception, SystemExit) as err:  # reported
            self.add(case, False, f"raised {type(err).__name__}: {err}")
            return FAILED

    @property
    def passed(self) -> bool:
        """True when at least one line was checked and every line passed."""
        return bool(self.lines) and all(ok for _, ok, _ in self.lines)

    def verdict(self) -> str:
        """The one-line summary printed first."""
        failed = sum(not ok for _, ok, _ in self.lines)
        if not self.lines:
            return f"✗ {self.title}: nothing was checked"
        if self.passed:
            return f"✓ {self.title}: all {len(self.lines)} checks passed"
        return f"✗ {self.title}: {failed} of {len(self.lines)} checks failed"

    def __str__(self) -> str:
        body = [
            f"  {'✓' if ok else '✗'} {case}"
            + (f": {detail}" if detail else "")
            for case, ok, detail in self.lines
        ]
        return "\n".join([self.verdict(), *body])

    __repr__ = __str__


class _Failed:
    """The result of a call that raised (already reported)."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED = _Failed()


def _name(obj) -> str:
    return getattr(obj, "__name__", type(obj).__name__)


def _guarded(check: Callable) -> Callable:
    """Make a check return a failed report instead of raising.

    While it runs, numpy code handed torch tensors does not warn: torch's
    __array_wrap__ DeprecationWarning (numpy 2's signature) is noise to a
    student, whatever line of their code triggers it.
    """

    @functools.wraps(check)
    def wrapper(*args, **kwargs) -> Report:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", ".*__array_wrap__", DeprecationWarning
                )
                return check(*args, **kwargs)
        except (Exception, SystemExit) as err:  # never raise
            report = Report(f"{check.__name__}")
            report.add(
                "running the check", False, f"{type(err).__name__}: {err}"
            )
            return report

    return wrapper


# ---------------------------------------------------------------------------
# Calling student code in torch or in numpy
# ---------------------------------------------------------------------------


def _in_mode(value, mode: str):
    """A fresh copy of value for code that computes in `mode`."""
    if isinstance(value, tuple):
        return tuple(_in_mode(v, mode) for v in value)
    if isinstance(value, Tensor):
        value = value.detach().clone()
        return value.numpy() if mode == "numpy" else value
    return value


def _try_modes(report: Report, case: str, attempt: Callable, modes):
    """attempt(mode) in each mode until one does not raise.

    Returns (result, mode), or (FAILED, None) after recording a failed line
    with the error of the first mode (and of the second, if tried).
    """
    errors = []
    for mode in modes:
        try:
            return attempt(mode), mode
        except (Exception, SystemExit) as err:  # reported
            errors.append(f"with {mode} arrays: {type(err).__name__}: {err}")
    report.add(case, False, "raised " + "; ".join(errors))
    return FAILED, None


def _call_in(fn: Callable, args: tuple, mode: str):
    """fn(*args) with the tensors in args given as `mode` arrays."""
    return fn(*(_in_mode(a, mode) for a in args))


def _module_forward(report: Report, case: str, make: Callable, inputs):
    """module = make(mode); module.forward(*inputs), with torch tensors
    first, then numpy arrays if that raises.

    Returns (module, output, mode), or None after a failed line.
    """

    def attempt(mode):
        module = make(mode)
        return module, module.forward(*_in_mode(inputs, mode))

    result, mode = _try_modes(report, case, attempt, ("torch", "numpy"))
    return None if mode is None else (*result, mode)


def _randn(g: torch.Generator, *shape: int) -> Tensor:
    """float64 standard-normal draws of this shape from g."""
    return torch.randn(shape, generator=g, dtype=torch.float64)


def _run_cases(title: str, make_cases: Callable, case: Callable, *args):
    """A Report titled title, from one generator g seeded with 0: first
    make_cases(g) -> {name: input}, then case(report, *args, name, input,
    g) for each, in order (so every case sees the same draws each run)."""
    report = Report(title)
    g = torch.Generator().manual_seed(0)
    for name, x in make_cases(g).items():
        case(report, *args, name, x, g)
    return report


# ---------------------------------------------------------------------------
# Modules as classes (seed 000 Q10): forward(x), backward(grad) -> dL/dx
# ---------------------------------------------------------------------------

_WEIGHT_T = (
    "transposed weights: this gradient has shape (in, out), but "
    "the weight is laid out (out, in) as in torch.nn.Linear"
)


def _linear_case(report, cls, n_out, name, x, g) -> None:
    w = _randn(g, n_out, x.shape[1])
    b = _randn(g, n_out)
    wr, br = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
    xr = x.clone().requires_grad_(True)
    out = F.linear(xr, wr, br)
    up = _randn(g, *out.shape)
    out.backward(up)

    def make(mode):
        layer = cls(x.shape[1], n_out)
        layer.weight, layer.bias = _in_mode(w, mode), _in_mode(b, mode)
        return layer

    called = _module_forward(report, f"{name}: forward", make, (x,))
    if called is None:
        return
    layer, y, mode = called
    ctx = {"batch_size": len(x)}
    report.compare(f"{name}: forward", y, out.detach(), ctx)
    dx = report.run(f"{name}: backward", layer.backward, _in_mode(up, mode))
    if dx is FAILED:
        return
    report.compare(f"{name}: backward returns dL/dx", dx, xr.grad, ctx)
    report.compare(
        f"{name}: grad_weight",
        _attr(layer, "grad_weight"),
        wr.grad,
        {**ctx, "transpose_hint": _WEIGHT_T},
    )
    report.compare(
        f"{name}: grad_bias", _attr(layer, "grad_bias"), br.grad, ctx
    )


@_guarded
def check_linear(cls, in_features: int = 5, out_features: int = 3) -> Report:
    """A Linear class: cls(in_features, out_features), forward, backward.

    Compares forward(x) with x W^T + b, backward(g) with dL/dx, and the
    attributes .grad_weight (out, in) and .grad_bias (out,) with autograd,
    after setting .weight (out, in) and .bias (out,) to known float64
    values (torch tensors, or numpy arrays if torch inputs raise).
    """
    return _run_cases(
        f"check_linear({_name(cls)})",
        lambda g: {
            "one example": _randn(g, 1, in_features),
            "batch of 4": _randn(g, 4, in_features),
            "zero input": torch.zeros(3, in_features, dtype=torch.float64),
        },
        _linear_case,
        cls,
        out_features,
    )


def _relu_case(report, cls, name, x, g) -> None:
    xr = x.clone().requires_grad_(True)
    up = _randn(g, *x.shape)
    torch.relu(xr).backward(up)

    called = _module_forward(report, f"{name}: forward", lambda _: cls(), (x,))
    if called is None:
        return
    relu, y, mode = called
    report.compare(f"{name}: forward", y, torch.relu(x))
    dx = report.run(f"{name}: backward", relu.backward, _in_mode(up, mode))
    if dx is not FAILED:
        report.compare(f"{name}: backward", dx, xr.grad, {"inputs": x})


@_guarded
def check_relu(cls) -> Report:
    """A ReLU class: forward(x) = max(x, 0), backward(g) = g * [x > 0].

    At exactly x = 0 the gradient must be 0, PyTorch's convention.
    """
    return _run_cases(
        f"check_relu({_name(cls)})",
        lambda g: {
            "one example": _randn(g, 1, 5),
            "batch of 6": _randn(g, 6, 4),
            "exact zeros": torch.tensor(
                [[0.0, -0.0, 1.0, -1.0]] * 2, dtype=torch.float64
            ),
            "large values": 1e6 * _randn(g, 3, 4),
        },
        _relu_case,
        cls,
    )


def _cross_entropy_reference(logits: Tensor, g) -> tuple[Tensor, ...]:
    """(target, loss, dL/dlogits): random classes (N,) drawn from g, and
    F.cross_entropy's mean loss and its gradient by autograd."""
    target = torch.randint(0, logits.shape[1], (len(logits),), generator=g)
    z = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(z, target)
    loss.backward()
    return target, loss.detach(), z.grad


def _cross_entropy_case(report, cls, name, logits, g) -> None:
    target, loss_ref, grad_ref = _cross_entropy_reference(logits, g)

    called = _module_forward(
        report, f"{name}: forward", lambda _: cls(), (logits, target)
    )
    if called is None:
        return
    loss_fn, loss, mode = called
    ctx = {"batch_size": len(logits)}
    report.compare(f"{name}: loss (mean over the batch)", loss, loss_ref, ctx)
    grad = report.run(f"{name}: backward", loss_fn.backward)
    if grad is not FAILED:
        report.compare(f"{name}: dL/dlogits", grad, grad_ref, ctx)


@_guarded
def check_cross_entropy(cls) -> Report:
    """A loss class: forward(logits, target) -> mean loss, backward().

    Compares the loss with F.cross_entropy (mean over the batch) and
    backward() with dL/dlogits = (softmax - one_hot) / N.
    """
    return _run_cases(
        f"check_cross_entropy({_name(cls)})",
        lambda g: {
            "one example": _randn(g, 1, 10),
            "batch of 8": _randn(g, 8, 10),
            "zero logits": torch.zeros(4, 10, dtype=torch.float64),
            "large logits (±1e4)": 1e4 * _randn(g, 4, 10).sign(),
        },
        _cross_entropy_case,
        cls,
    )


# ---------------------------------------------------------------------------
# Modules as functions (cs231n style): forward -> (out, cache)
# ---------------------------------------------------------------------------

_AFFINE_W_T = (
    "transposed: dw has shape (M, D) but w is laid out (D, M) "
    "in this interface (out = x.reshape(N, D) @ w + b)"
)


def _unpack(report, case, value, names: tuple[str, ...]):
    """value as a tuple of len(names), or FAILED after a failed line."""
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return tuple(value)
    got = "None" if value is None else type(value).__name__
    if isinstance(value, (tuple, list)):
        got = f"a {got} of {len(value)} items"
    report.add(
        case, False, f"expected a tuple ({', '.join(names)}), got {got}"
    )
    return FAILED


def _affine_case(report, forward, backward, name, x, g) -> None:
    d, m = int(np.prod(x.shape[1:])), 3
    w = _randn(g, d, m)
    b = _randn(g, m)
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, w, b))
    out_ref = xr.reshape(len(x), d) @ wr + br
    up = _randn(g, *out_ref.shape)
    out_ref.backward(up)

    def call(mode):
        return forward(*(_in_mode(t, mode) for t in (x, w, b)))

    result, mode = _try_modes(
        report, f"{name}: forward", call, ("numpy", "torch")
    )
    if mode is None:
        return
    pair = _unpack(report, f"{name}: forward", result, ("out", "cache"))
    if pair is FAILED:
        return
    ctx = {"batch_size": len(x)}
    report.compare(f"{name}: out", pair[0], out_ref.detach(), ctx)
    grads = report.run(
        f"{name}: backward", backward, _in_mode(up, mode), pair[1]
    )
    grads = (
        grads
        if grads is FAILED
        else _unpack(report, f"{name}: backward", grads, ("dx", "dw", "db"))
    )
    if grads is FAILED:
        return
    report.compare(f"{name}: dx", grads[0], xr.grad, ctx)
    report.compare(
        f"{name}: dw",
        grads[1],
        wr.grad,
        {**ctx, "transpose_hint": _AFFINE_W_T},
    )
    report.compare(f"{name}: db", grads[2], br.grad, ctx)


@_guarded
def check_affine_functions(forward: Callable, backward: Callable) -> Report:
    """forward(x, w, b) -> (out, cache); backward(dout, cache) -> (dx, dw, db).

    cs231n's interface: x of shape (N, d1, ..., dk) is flattened to (N, D),
    w is laid out (D, M), out = x.reshape(N, D) @ w + b; dx has x's shape.
    Inputs are numpy arrays (torch tensors if numpy raises).
    """
    return _run_cases(
        f"check_affine_functions({_name(forward)}, {_name(backward)})",
        lambda g: {
            "one example (1, 6)": _randn(g, 1, 6),
            "batch of 4 images (4, 2, 3)": _randn(g, 4, 2, 3),
            "batch of 5 (5, 6)": _randn(g, 5, 6),
        },
        _affine_case,
        forward,
        backward,
    )


def _relu_functions_case(report, forward, backward, name, x, g) -> None:
    xr = x.clone().requires_grad_(True)
    up = _randn(g, *x.shape)
    torch.relu(xr).backward(up)
    result, mode = _try_modes(
        report,
        f"{name}: forward",
        lambda mode: forward(_in_mode(x, mode)),
        ("numpy", "torch"),
    )
    if mode is None:
        return
    pair = _unpack(report, f"{name}: forward", result, ("out", "cache"))
    if pair is FAILED:
        return
    report.compare(f"{name}: out", pair[0], torch.relu(x))
    dx = report.run(f"{name}: backward", backward, _in_mode(up, mode), pair[1])
    if dx is not FAILED:
        report.compare(f"{name}: dx", dx, xr.grad, {"inputs": x})


@_guarded
def check_relu_functions(forward: Callable, backward: Callable) -> Report:
    """forward(x) -> (out, cache); backward(dout, cache) -> dx.

    dx = dout * [x > 0]: 0 at exactly x = 0, PyTorch's convention.
    """
    return _run_cases(
        f"check_relu_functions({_name(forward)}, {_name(backward)})",
        lambda g: {
            "one example": _randn(g, 1, 5),
            "batch of 4 images (4, 2, 3)": _randn(g, 4, 2, 3),
            "exact zeros": torch.tensor(
                [[0.0, -0.0, 2.0, -2.0]] * 2, dtype=torch.float64
            ),
        },
        _relu_functions_case,
        forward,
        backward,
    )


def _softmax_loss_case(report, fn, name, x, g) -> None:
    y, loss_ref, dx_ref = _cross_entropy_reference(x, g)

    def call(mode):
        return _call_in(fn, (x, y), mode)

    result, mode = _try_modes(report, name, call, ("numpy", "torch"))
    if mode is None:
        return
    pair = _unpack(report, name, result, ("loss", "dx"))
    if pair is FAILED:
        return
    ctx = {"batch_size": len(x)}
    report.compare(
        f"{name}: loss (mean over the batch)", pair[0], loss_ref, ctx
    )
    report.compare(f"{name}: dx", pair[1], dx_ref, ctx)


@_guarded
def check_softmax_loss(fn: Callable) -> Report:
    """fn(x, y) -> (loss, dx): mean softmax cross-entropy and its gradient.

    x: scores (N, C), y: labels (N,) of ints; dx = (softmax(x) - onehot)/N.
    """
    return _run_cases(
        f"check_softmax_loss({_name(fn)})",
        lambda g: {
            "one example": _randn(g, 1, 10),
            "batch of 8": _randn(g, 8, 10),
            "large scores (±1e4)": 1e4 * _randn(g, 4, 10).sign(),
        },
        _softmax_loss_case,
        fn,
    )


# ---------------------------------------------------------------------------
# Gates (seed 000 Q7) and threshold neurons (seed 004 §2)
# ---------------------------------------------------------------------------


def _gate_outputs(net_or_fn, x: Tensor) -> Tensor:
    """The output for each point as float64 (N,): called with a float64
    torch batch, else float32 (torch.nn.Linear's default), else numpy."""
    error = None
    for batch in (x, x.float(), x.numpy()):
        try:
            out = _as_tensor(
                net_or_fn(
                    batch.copy()
                    if isinstance(batch, np.ndarray)
                    else batch.clone()
                )
            )
            if out.numel() == len(x):
                return out.reshape(len(x))
            error = ValueError(
                f"expected one output per point ({len(x)}), "
                f"got shape {_shape(out)}"
            )
        except (Exception, SystemExit) as err:  # re-raised
            error = error or err
    raise error


def _check_nand(report: Report, net_or_fn) -> None:
    x = boolean_points(2)
    out = report.run("evaluate on {0,1}^2", _gate_outputs, net_or_fn, x)
    if out is FAILED:
        return
    for (a, b), value, want in zip(
        x.int().tolist(), out.tolist(), (1, 1, 1, 0)
    ):
        report.add(
            f"NAND({a}, {b}) = {want}",
            abs(value - want) < 1e-9,
            f"got {_fmt(value)}",
        )


def _sign_grid_lines(report, out, x, rule) -> None:
    want = rule(x[:, 0], x[:, 1])
    on_axes = (x == 0).any(1)
    for name, mask in (
        ("off the axes", ~on_axes),
        ("on the axes (boundary points)", on_axes),
    ):
        wrong = ((out[mask] > 0) != want[mask]).nonzero()[:, 0]
        detail = f"{len(wrong)} of {int(mask.sum())} points wrong"
        if len(wrong):
            point = x[mask][wrong[0]]
            detail += (
                f"; e.g. f({_fmt(point[0])}, {_fmt(point[1])}) = "
                f"{_fmt(out[mask][wrong[0]])}, expected "
                f"{'> 0' if want[mask][wrong[0]] else '<= 0'}"
            )
        report.add(f"sign of f {name}", len(wrong) == 0, detail)


@_guarded
def check_gate(net_or_fn, gate: str) -> Report:
    """A network or function R^2 -> R, given float64 batches (N, 2).

    "and", "or", "xor": f(x) > 0 exactly where the gate holds
    (hwlib.gates.SIGN_GATE_RULES), on one point and on a grid containing the
    axes and points 1e-9 away.
    "nand": the value on {0, 1}^2 must be exactly 1, 1, 1, 0.
    """
    report = Report(f"check_gate({_name(net_or_fn)}, {gate!r})")
    if gate == "nand":
        _check_nand(report, net_or_fn)
        return report
    if gate not in SIGN_GATE_RULES:
        report.add(
            "gate name",
            False,
            f"expected one of {[*SIGN_GATE_RULES, 'nand']}, got {gate!r}",
        )
        return report
    one = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    out = report.run("one point (1, -2)", _gate_outputs, net_or_fn, one)
    if out is not FAILED:
        want = bool(SIGN_GATE_RULES[gate](one[:, 0], one[:, 1]))
        report.add(
            "one point (1, -2)",
            bool(out[0] > 0) == want,
            f"f(1, -2) = {_fmt(out[0])}, expected {'> 0' if want else '<= 0'}",
        )
    ticks = torch.cat(
        [torch.linspace(-2, 2, 41), torch.tensor([0.0, 1e-9, -1e-9])]
    ).double()
    x = torch.cartesian_prod(ticks, ticks)
    out = report.run("evaluate on the grid", _gate_outputs, net_or_fn, x)
    if out is not FAILED:
        _sign_grid_lines(report, out, x, SIGN_GATE_RULES[gate])
    return report


def _not_separable_reason(gate: str, labels: list[int]) -> str:
    """Why no threshold neuron computes an XOR-like gate (two inequalities
    that add up to contradict each other)."""
    diagonal = "1" if labels[0] else "0"
    ge, lt = (">=", "<") if labels[0] else ("<", ">=")
    return (
        f"no (w, b) can pass: {gate.upper()} is not linearly separable. "
        f"f(0,0) = f(1,1) = {diagonal} needs b {ge} 0 and "
        f"w1 + w2 + b {ge} 0, so w1 + w2 + 2b {ge} 0; "
        f"f(0,1) = f(1,0) = {1 - int(diagonal)} needs w2 + b {lt} 0 "
        f"and w1 + b {lt} 0, so w1 + w2 + 2b {lt} 0: a contradiction "
        f"(no line separates the two diagonals of the square)"
    )


def _threshold_rows(report, w: Tensor, b: float, labels) -> None:
    corners = boolean_points(2)  # (0, 0), (0, 1), (1, 0), (1, 1)
    outputs = threshold_unit(w, b, corners).tolist()
    for (x1, x2), got, want in zip(corners.int().tolist(), outputs, labels):
        value = float(w[0] * x1 + w[1] * x2 + b)
        note = " (on the boundary: >= 0 counts as 1)" if value == 0 else ""
        report.add(
            f"f({x1}, {x2}) = {want}",
            got == want,
            f"w·x + b = {_fmt(value)} gives {got}{note}",
        )


@_guarded
def check_threshold_neuron(w, b, gate: str) -> Report:
    """f(x) = 1 if w·x + b >= 0 else 0 on x in {0, 1}^2 against the gate.

    gate: "and", "or", "nand", "nor", "xor" or "iff". For "xor" and "iff"
    the report explains why no (w, b) can pass.
    """
    report = Report(
        f"check_threshold_neuron(w={_short(w)}, b={_short(b)}, {gate!r})"
    )
    if gate not in GATE_RULES:
        report.add(
            "gate name",
            False,
            f"expected one of {list(GATE_RULES)}, got {gate!r}",
        )
        return report
    corners = boolean_points(2)
    labels = [int(GATE_RULES[gate](p, q)) for p, q in corners.int().tolist()]
    if not linearly_separable(corners, torch.tensor(labels)):
        report.add(
            f"{gate.upper()} with one threshold neuron",
            False,
            _not_separable_reason(gate, labels),
        )
        return report
    try:
        w_t, b_f = _as_tensor(w).reshape(-1), float(_as_tensor(b))
        if w_t.shape != (2,):
            raise ValueError(f"w has {w_t.numel()} entries")
    except Exception as err:  # reported
        report.add(
            "reading w and b",
            False,
            f"expected w with 2 numbers and a number b ({err})",
        )
        return report
    _threshold_rows(report, w_t, b_f, labels)
    return report


# ---------------------------------------------------------------------------
# Convolution matrices (seed 004 §1): numeric or symbolic (sympy)
# ---------------------------------------------------------------------------

_FLIPPED = (
    "the kernel is flipped (a true convolution); conv2d in PyTorch "
    "and in this problem is a cross-correlation: K[a, b] multiplies "
    "x[p*s - pad + a, q*s - pad + b]"
)


def _kernel_index(
    shape, input_size, stride, padding, *, transpose: bool, flip: bool = False
) -> Tensor:
    """Which kernel entry (k = a*kw + b, plus 1) sits in each entry of A;
    0 where no kernel entry does. Built with hwlib.conv's references.
    flip=True: the same for the flipped kernel (a true convolution)."""
    kh, kw = shape
    numbers = torch.arange(1, kh * kw + 1, dtype=torch.float64)
    numbers = numbers.reshape(kh, kw).flip(0, 1) if flip else numbers
    build = conv_transpose2d_matrix if transpose else conv2d_matrix
    return (
        build(numbers.reshape(kh, kw), input_size, stride, padding)
        .round()
        .long()
    )


def _entry_name(k: int, kw: int) -> str:
    return "0" if k == 0 else f"kernel[{(k - 1) // kw}, {(k - 1) % kw}]"


def _symbolic_expected(kernel, index: Tensor):
    import sympy

    kw = kernel.shape[1]
    return sympy.Matrix(
        *index.shape,
        lambda i, j: (
            0
            if index[i, j] == 0
            else kernel[(index[i, j] - 1) // kw, (index[i, j] - 1) % kw]
        ),
    )


def _symbolic_wrong(A, expected) -> list[tuple[int, int]]:
    import sympy

    return [
        (i, j)
        for i in range(expected.rows)
        for j in range(expected.cols)
        if sympy.expand(sympy.sympify(A[i, j]) - expected[i, j]) != 0
    ]


def _check_symbolic(report, A, kernel, index, flipped_index) -> None:
    """A (sympy or nested lists) entry by entry against kernel symbols."""
    import sympy

    try:
        if A is None:
            raise TypeError("got None")
        A = sympy.Matrix(A.tolist() if hasattr(A, "tolist") else A)
    except Exception as err:  # reported
        report.add(
            "reading A",
            False,
            f"expected a sympy Matrix (or nested "
            f"lists) of kernel symbols, got {type(A).__name__} "
            f"({type(err).__name__}: {err})",
        )
        return
    want = _shape(index)
    if A.shape != want:
        report.add(
            "shape",
            False,
            f"{A.shape}, expected {want}"
            + (": the transpose?" if A.shape == want[::-1] else ""),
        )
        return
    wrong = _symbolic_wrong(A, _symbolic_expected(kernel, index))
    detail = "; ".join(
        f"A[{i}, {j}] = {A[i, j]}, expected "
        f"{_symbolic_expected(kernel, index)[i, j]}"
        for i, j in wrong[:4]
    )
    if wrong and not _symbolic_wrong(
        A, _symbolic_expected(kernel, flipped_index)
    ):
        detail += f"; {_FLIPPED}"
    report.add(
        "every entry (symbolic)",
        not wrong,
        f"{len(wrong)} of {A.rows * A.cols} entries wrong: {detail}"
        if wrong
        else f"all {A.rows * A.cols} entries",
    )


def _check_numeric(
    report, A, kernel: Tensor, args, *, transpose: bool
) -> None:
    """A entry by entry against hwlib.conv, then A @ x against F.conv2d."""
    build = conv_transpose2d_matrix if transpose else conv2d_matrix
    reference = build(kernel, *args)
    if _is_sympy(A) and getattr(A, "free_symbols", None):
        report.add(
            "every entry",
            False,
            "A holds symbols but the kernel is "
            "numeric: pass the kernel as a sympy Matrix of the same "
            "symbols to check A symbolically",
        )
        return
    context = {
        "alternatives": {_FLIPPED: build(kernel.flip(0, 1), *args)},
        "transpose_hint": "A is the transpose of the expected matrix "
        "(rows are output pixels, columns input pixels)",
    }
    try:
        mine = _as_tensor(A)
    except Exception:  # compare reports what was expected
        mine = None
    if mine is None or mine.shape != reference.shape:
        report.compare("every entry", A, reference, context)
        return
    if not _close(mine, reference):
        hint = diagnose(mine, reference, context)
        report.add(
            "every entry",
            False,
            _wrong_entries(mine, reference) + (f"; {hint}" if hint else ""),
        )
        return
    report.add("every entry", True)
    _check_product(report, mine, reference, kernel, args, transpose=transpose)


def _check_product(
    report, A, reference, kernel, args, *, transpose: bool
) -> None:
    """A @ x on random images against F.conv2d / F.conv_transpose2d.

    Allowed error: what entries within tolerance imply, so that this line
    never contradicts the entry check.
    """
    g = torch.Generator().manual_seed(0)
    x = _randn(g, 3, 1, *args[0])
    op = F.conv_transpose2d if transpose else F.conv2d
    y = op(x, kernel[None, None], stride=args[1], padding=args[2])
    error = (A @ x.flatten(1).T - y.flatten(1).T).abs()
    allowed = (RTOL * reference.abs().max() + ATOL) * x.abs().flatten(1).sum(1)
    report.add(
        "A @ x on 3 random images equals the convolution",
        bool((error <= allowed).all()),
    )


def _wrong_entries(mine: Tensor, reference: Tensor) -> str:
    """'n of m entries wrong: A[i, j] = v, expected e; ...' (first four)."""
    atol = RTOL * float(reference.abs().max()) + ATOL
    bad = ((mine - reference).abs() > atol).nonzero().tolist()
    text = "; ".join(
        f"A[{i}, {j}] = {_fmt(mine[i, j])}, expected {_fmt(reference[i, j])}"
        for i, j in bad[:4]
    )
    return f"{len(bad)} of {reference.numel()} entries wrong: {text}"


def _conv_like(
    A, kernel, input_size, stride, padding, *, transpose: bool
) -> Report:
    name = "check_conv_transpose_matrix" if transpose else "check_conv_matrix"
    shape = tuple(int(n) for n in getattr(kernel, "shape", ()))
    report = Report(
        f"{name}(kernel {shape}, input {tuple(input_size)}, "
        f"stride {stride}, padding {padding})"
    )
    args = (tuple(input_size), stride, padding)
    if _is_sympy(kernel) and kernel.free_symbols:
        index = _kernel_index(shape, *args, transpose=transpose)
        flipped = _kernel_index(shape, *args, transpose=transpose, flip=True)
        _check_symbolic(report, A, kernel, index, flipped)
    else:
        kernel = _as_tensor(kernel)
        _check_numeric(report, A, kernel, args, transpose=transpose)
    return report


@_guarded
def check_conv_matrix(A, kernel, input_size, stride=1, padding=0) -> Report:
    """A (out_h*out_w, H*W) meant to satisfy A @ x.flatten() = conv2d(x).

    kernel: numbers (kh, kw), or a sympy Matrix of symbols; then A (a sympy
    Matrix or nested lists) is checked entry by entry symbolically: each
    entry must be the right kernel symbol or 0.
    """
    return _conv_like(A, kernel, input_size, stride, padding, transpose=False)


@_guarded
def check_conv_transpose_matrix(
    A, kernel, input_size, stride=1, padding=0
) -> Report:
    """A meant to satisfy A @ x.flatten() = conv_transpose2d(x).flatten().

    Numeric or symbolic kernel, as in check_conv_matrix.
    """
    return _conv_like(A, kernel, input_size, stride, padding, transpose=True)


# ---------------------------------------------------------------------------
# Gradients with respect to the input (seed 004 §6), on a small CNN
# ---------------------------------------------------------------------------


def _image_cases() -> list[tuple[str, Tensor, object]]:
    """(name, images, target): one image with an int target, and a batch
    of 5 with one target per image (an int64 tensor)."""
    g = torch.Generator().manual_seed(1)
    one = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64)
    five = torch.rand(5, 3, 8, 8, generator=g, dtype=torch.float64)
    return [
        ("one image, target 1", one, 1),
        (
            "5 images, targets [0, 4, 2, 1, 3]",
            five,
            torch.tensor([0, 4, 2, 1, 3]),
        ),
    ]


def _copy(target):
    """A copy of a target for the student's code (which might change it)."""
    return target.clone() if isinstance(target, Tensor) else target


def _gradient_of(model, x: Tensor, objective: Callable) -> Tensor:
    """d objective(model(x), x) / dx for the reference's alternatives."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(model(x), x), x)
    return grad


def _score(target, n: int) -> Callable:
    t = torch.as_tensor(target).expand(n)
    return lambda scores, x: scores.gather(1, t[:, None]).sum()


def _loss(target, n: int) -> Callable:
    t = torch.as_tensor(target).expand(n)
    return lambda scores, x: F.cross_entropy(scores, t, reduction="sum")


_LOSS_GRAD = (
    "the gradient of the loss instead of the class score: "
    "differentiate the unnormalised score s_target (no softmax, "
    "no loss)"
)
_ALL_TARGETS = (
    "scores[:, target] takes every target for every image (an "
    "N x N block); take one score per image: "
    "scores.gather(1, target[:, None])"
)


def _saliency_alternatives(model, x, target) -> dict:
    grad = _gradient_of(model, x, _score(target, len(x)))
    loss = _gradient_of(model, x, _loss(target, len(x))).abs().amax(1)
    alternatives = {
        "missing absolute value: the maximum over channels of the signed "
        "gradient; the saliency is max_c |ds/dx_c|": grad.amax(1),
        "the absolute value was taken after the maximum over channels; "
        "the saliency is max_c |ds/dx_c|": grad.amax(1).abs(),
        "summed over the channels; the saliency takes the maximum over "
        "channels": grad.abs().sum(1),
        _LOSS_GRAD: loss,
        _LOSS_GRAD + " (the mean loss)": loss / len(x),
    }
    if not isinstance(target, int):
        t = torch.as_tensor(target)
        block = _gradient_of(model, x, lambda s, _: s[:, t].sum())
        alternatives[_ALL_TARGETS] = block.abs().amax(1)
    return alternatives


def _map_check(title: str, fn, reference, alternatives) -> Report:
    """Run fn on each image case against reference(model, x, target).

    The reference runs on its own copy of the model, the student's function
    on a fresh one, so hooks a function forgets to remove cannot leak.
    """
    report = Report(title)
    for name, x, target in _image_cases():
        ours = report.run(name, fn, tiny_cnn(), x.clone(), _copy(target))
        if ours is FAILED:
            continue
        model = tiny_cnn()
        context = {
            "batch_size": len(x),
            "alternatives": functools.partial(alternatives, model, x, target),
        }
        report.compare(name, ours, reference(model, x, target), context)
    return report


@_guarded
def check_saliency(fn: Callable) -> Report:
    """fn(model, x, target) -> (N, H, W): max over channels of |ds_t/dx|.

    Compared with hwlib.attribution.saliency_map on one image and on five,
    with an int target and with one target per image.
    """
    return _map_check(
        f"check_saliency({_name(fn)})",
        fn,
        attr.saliency_map,
        _saliency_alternatives,
    )


def _deconvnet(model, x, target) -> Tensor:
    """The deconvnet rule: ReLUs pass back the positive part of the
    gradient from above, ignoring where their input was positive."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [
        m.register_full_backward_hook(
            lambda mod, gin, gout: (gout[0].clamp(min=0),)
        )
        for m in relus
    ]
    try:
        return _gradient_of(model, x, _score(target, len(x)))
    finally:
        for handle in handles:
            handle.remove()


def _guided_alternatives(model, x, target) -> dict:
    return {
        "the ordinary gradient: guided backprop also zeroes the negative "
        "gradients passing back through every ReLU": _gradient_of(
            model, x, _score(target, len(x))
        ),
        "the deconvnet rule: guided backprop keeps a gradient only where it "
        "is positive AND the ReLU's input was positive": _deconvnet(
            model, x, target
        ),
    }


@_guarded
def check_guided_backprop(fn: Callable) -> Report:
    """fn(model, x, target) -> (N, C, H, W) guided backpropagation.

    Compared with hwlib.attribution.guided_backprop (every ReLU passes back
    only positive gradients, where its input was positive).
    """
    return _map_check(
        f"check_guided_backprop({_name(fn)})",
        fn,
        attr.guided_backprop,
        _guided_alternatives,
    )


def _positive_scales(ours: Tensor, reference: Tensor) -> bool:
    """Whether ours_i = c_i * reference_i with c_i > 0 for every image i
    (a map normalised per image, e.g. divided by its maximum)."""
    for mine, ref in zip(ours, reference):
        c = _scale_factor(mine, ref)
        if c is None and not (
            _close(mine, ref) or _close(mine, torch.zeros_like(mine))
        ):
            return False
        if c is not None and c <= 0:
            return False
    return True


def _upsampled(cam: Tensor, size) -> dict[str, Tensor]:
    """The layer-resolution map and its upsamplings to the image size."""
    return {
        "": cam,
        " (upsampled, bilinear)": attr.upsample(cam, size, mode="bilinear"),
        " (upsampled, nearest)": attr.upsample(cam, size, mode="nearest"),
    }


def _accept_map(report, case, ours, candidates: dict, context) -> None:
    """Pass when ours equals one candidate, possibly rescaled per image
    (display normalisation); otherwise compare with the first one."""
    try:
        mine = _as_tensor(ours)
    except Exception:  # compare reports it below
        mine = None
    for note, cand in candidates.items():
        if mine is None or mine.shape != cand.shape:
            continue
        if _close(mine, cand):
            report.add(case, True, note.strip(" ()"))
            return
        if _positive_scales(mine, cand):
            report.add(
                case,
                True,
                "equal up to a positive factor per image"
                " (normalised for display: accepted)" + note,
            )
            return
    same_shape = [
        c
        for c in candidates.values()
        if mine is not None and c.shape == mine.shape
    ]
    first = next(iter(candidates.values()))
    report.compare(case, ours, (same_shape or [first])[0], context)


def _cam_alternatives(model, layer, x, target) -> dict:
    """Grad-CAM variants that classic mistakes compute."""
    acts: list[Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, o: acts.append(o))
    try:
        scores = model(x.detach().clone().requires_grad_(True))
        t = torch.as_tensor(target).expand(len(x))
        (g_score,) = torch.autograd.grad(
            scores.gather(1, t[:, None]).sum(), acts[0], retain_graph=True
        )
        (g_loss,) = torch.autograd.grad(
            F.cross_entropy(scores, t, reduction="sum"), acts[0]
        )
    finally:
        handle.remove()
    a = acts[0].detach()
    weighted = (g_score.mean((2, 3), keepdim=True) * a).sum(1)
    return {
        "missing the final ReLU: Grad-CAM keeps only the positive part, "
        "ReLU(sum_k alpha_k A^k)": weighted,
        "weighted the feature maps pixel by pixel with the gradient instead "
        "of by its spatial mean alpha_k": torch.relu((g_score * a).sum(1)),
        _LOSS_GRAD: torch.relu((g_loss.mean((2, 3), keepdim=True) * a).sum(1)),
    }


def _cam_check(title, fn, *, guided: bool) -> Report:
    report = Report(title)
    for name, x, target in _image_cases():
        mine = tiny_cnn()
        ours = report.run(name, fn, mine, mine[5], x.clone(), _copy(target))
        if ours is FAILED:
            continue
        model = tiny_cnn()
        cam = attr.grad_cam(model, model[5], x, target)
        context = {
            "batch_size": len(x),
            "alternatives": functools.partial(
                _cam_alternatives, model, model[5], x, target
            ),
        }
        candidates = _upsampled(cam, x.shape[-2:])
        if guided:
            gb = attr.guided_backprop(model, x, target)
            candidates = {
                note: gb * c[:, None]
                for note, c in list(candidates.items())[1:]
            }
            context = {
                "batch_size": len(x),
                "alternatives": {
                    "guided backprop alone, not multiplied by the Grad-CAM "
                    "map": gb
                },
            }
        _accept_map(report, name, ours, candidates, context)
    return report


@_guarded
def check_grad_cam(fn: Callable) -> Report:
    """fn(model, layer, x, target) -> (N, h, w) Grad-CAM maps.

    Compared with hwlib.attribution.grad_cam, at the layer's resolution or
    upsampled to the image (bilinear or nearest); a map rescaled per image
    (normalised for display) is accepted.
    """
    return _cam_check(f"check_grad_cam({_name(fn)})", fn, guided=False)


@_guarded
def check_guided_grad_cam(fn: Callable) -> Report:
    """fn(model, layer, x, target) -> (N, C, H, W) guided Grad-CAM.

    Guided backprop times the Grad-CAM map upsampled to the image
    (bilinear, as hwlib.attribution.guided_grad_cam, or nearest); a
    positive rescaling per image is accepted.
    """
    return _cam_check(f"check_guided_grad_cam({_name(fn)})", fn, guided=True)


# ---------------------------------------------------------------------------
# Fooling images and the class-visualisation update (seed 004 §6)
# ---------------------------------------------------------------------------


def _runner_up(model, x: Tensor) -> Tensor:
    """The second most likely class of each image: a reachable target."""
    with torch.no_grad():
        return model(x).topk(2, dim=1).indices[:, 1]


def _fooling_lines(report, name, model, x, t: Tensor, image) -> None:
    """Prediction, range and size of the change of one fooling result."""
    image = _read_images(report, f"{name}: result", image, x.shape)
    if image is None:
        return
    with torch.no_grad():
        scores, before = model(image), model(x)
    wrong = (scores.argmax(1) != t).nonzero()[:, 0].tolist()
    detail = f"predicted {scores.argmax(1).tolist()}, target {t.tolist()}"
    if wrong:
        i = wrong[0]
        change = scores[i, t[i]] - before[i, t[i]]
        detail += (
            "; the target score went down: the step goes the wrong "
            "way (ascend the score: x + lr * g)"
            if change < 0
            else "; the image is unchanged"
            if torch.equal(image[i], x[i])
            else ""
        )
    report.add(f"{name}: the model predicts the target", not wrong, detail)
    lo, hi = image.min().item(), image.max().item()
    report.add(
        f"{name}: values stay in [0, 1]",
        lo >= 0 and hi <= 1,
        f"from {_fmt(lo)} to {_fmt(hi)}",
    )
    rel = (image - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    report.add(
        f"{name}: the change is small (||Δ|| <= 0.3 ||x||)",
        bool((rel <= 0.3).all()),
        f"largest ||Δ|| / ||x|| = {_fmt(rel.max().item())}",
    )


def _read_images(report, case, image, shape):
    """The result as a float64 tensor of `shape`, or None after a failed
    line (None, unreadable, wrong shape). Accepts an object with .image."""
    image = getattr(image, "image", image)  # hwlib returns FoolingResult
    want = f"images of shape {tuple(shape)}"
    if image is None:
        report.add(case, False, f"got None, expected {want}")
        return None
    try:
        image = _as_tensor(image)
    except Exception as err:  # reported
        report.add(
            case,
            False,
            f"could not read the {type(image).__name__}"
            f" as numbers ({err}); expected {want}",
        )
        return None
    if image.numel() != torch.Size(shape).numel():
        report.add(case, False, f"shape {_shape(image)}, expected {want}")
        return None
    return image.reshape(shape)


def _step_size_name(fn: Callable, *, required: bool = False) -> str | None:
    """What fn's signature calls the step size: "lr" (torch's and hwlib's
    name) or "learning_rate" (cs231n's). None when it has neither or, with
    required=True, when its step size has a default value."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or an odd callable
        return None
    for name in ("lr", "learning_rate"):
        parameter = parameters.get(name)
        if parameter is not None and not (
            required and parameter.default is not parameter.empty
        ):
            return name
    return None


_FOOLING_LR = inspect.signature(attr.fooling_image).parameters["lr"].default


@_guarded
def check_fooling_image(fn: Callable) -> Report:
    """fn(model, x, target) -> fooling images (N, C, H, W) in [0, 1].

    (An object with an .image attribute, like hwlib's FoolingResult, is
    accepted.) When fn requires a step size (a parameter `lr`, or cs231n's
    `learning_rate`, without a default), it gets hwlib's default, 0.05;
    otherwise fn's own default is used. On one image and on five, with the
    runner-up class as the target: the model must predict the target on the
    result, the values must stay in [0, 1], and the change must be small:
    ||Δ|| <= 0.3 ||x|| for every image.
    """
    report = Report(f"check_fooling_image({_name(fn)})")
    step_size = _step_size_name(fn, required=True)
    kw = {step_size: _FOOLING_LR} if step_size else {}
    for name, x, _ in _image_cases():
        model = tiny_cnn()
        t = _runner_up(model, x)
        target = int(t[0]) if len(x) == 1 else t
        name = f"{name.split(',')[0]}, target {_short(target)}"
        image = report.run(
            name, fn, tiny_cnn(), x.clone(), _copy(target), **kw
        )
        if image is not FAILED:
            _fooling_lines(report, name, model, x, t, image)
    return report


def _class_visualization_step(
    model,
    image,
    target,
    *,
    lr,
    l2_reg,
    sign=1.0,
    squared=True,
    per_image=True,
) -> Tensor:
    """One normalised gradient-ascent step on S_t(I) - l2_reg ||I||^2.

    I <- I + lr * g / ||g||, g the gradient, the norm per image.
    sign, squared and per_image produce the classic mistakes.
    """
    image = image.detach().clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(image))
    norms = image.flatten(1).norm(dim=1)
    penalty = norms**2 if squared else norms
    objective = (
        model(image).gather(1, t[:, None])[:, 0] - sign * l2_reg * penalty
    ).sum()
    (g,) = torch.autograd.grad(objective, image)
    scale = (
        g.flatten(1).norm(dim=1).view(-1, 1, 1, 1) if per_image else g.norm()
    )
    return (image + lr * g / scale).detach()


def _class_vis_alternatives(model, image, target, kw) -> dict:
    step = _class_visualization_step
    return {
        "the L2 penalty has the wrong sign: the update climbs "
        "S_t(I) + l2_reg ||I||^2 instead of S_t(I) - l2_reg ||I||^2": step(
            model, image, target, **kw, sign=-1.0
        )
        - image,
        "the penalty uses ||I|| instead of the squared norm ||I||^2": step(
            model, image, target, **kw, squared=False
        )
        - image,
        "the L2 penalty is missing": step(model, image, target, **kw, sign=0.0)
        - image,
        "normalised by the gradient norm of the whole batch instead of "
        "per image": step(model, image, target, **kw, per_image=False) - image,
    }


@_guarded
def check_class_visualization_step(fn: Callable) -> Report:
    """fn(model, image, target, *, lr, l2_reg) -> updated image.

    One gradient-ascent step on S_target(I) - l2_reg * ||I||^2 (per image),

        I <- I + lr * g / ||g||_2,  g = ∂S_target/∂I - 2 l2_reg I,

    with the norm taken per image. The step size goes to fn as `lr`, or as
    `learning_rate` when that is what fn's signature calls it (cs231n's
    name). The change I_new - I is compared with the reference (returning
    None after updating `image` in place is accepted).
    """
    report = Report(f"check_class_visualization_step({_name(fn)})")
    kw = {"lr": 0.5, "l2_reg": 0.3}
    yours = {_step_size_name(fn) or "lr": kw["lr"], "l2_reg": kw["l2_reg"]}
    for name, image, target in _image_cases():
        mine = image.clone()
        ours = report.run(name, fn, tiny_cnn(), mine, _copy(target), **yours)
        if ours is FAILED:
            continue
        model = tiny_cnn()
        want = _class_visualization_step(model, image, target, **kw) - image
        context = {
            "batch_size": len(image),
            "alternatives": functools.partial(
                _class_vis_alternatives, model, image, target, kw
            ),
        }
        if ours is None and not torch.equal(mine, image):
            ours = mine  # updated in place
        step = None if ours is None else _minus(ours, image)
        report.compare(f"{name}: the update I_new - I", step, want, context)
    return report


def _minus(ours, image: Tensor):
    """ours - image, or ours itself when it cannot be read (compare says)."""
    try:
        return _as_tensor(ours).reshape(image.shape) - image
    except Exception:  # compare reports the unreadable value
        return ours


# ---------------------------------------------------------------------------
# Identified regions (seed 004 §3), the residual block's gradient (seed 000
# Q8), kinks (seed 000 Q4-Q5) and the review's length (seed 004 §5)
# ---------------------------------------------------------------------------


@_guarded
def check_identified_regions(fn: Callable) -> Report:
    """fn(layers) -> the number of regions identified onto (0, 1)^d.

    layers: [(W, b), ...] for h -> |W h + b|. Compared with the exact count
    (hwlib.regions.count_identified_regions) on one layer and on stacks.
    """
    report = Report(f"check_identified_regions({_name(fn)})")
    cases = {
        f"fold layer, L={L}, d={d}": [abs_fold_layer(d)] * L
        for L in (1, 2, 3)
        for d in (1, 2)
    }
    w, b = torch.tensor([[3.0]]), torch.tensor([-1.0])
    cases |= {
        "|3x - 1| (d=1)": [(w, b)],
        "|3x - 1| twice (d=1)": [(w, b)] * 2,
        "|x / 2| (d=1)": [(torch.tensor([[0.5]]), torch.tensor([0.0]))],
    }
    for name, layers in cases.items():
        got = report.run(name, fn, layers)
        if got is FAILED:
            continue
        want = count_identified_regions(layers)
        report.add(
            name, _as_count(got) == want, f"got {got!r}, expected {want}"
        )
    return report


def _as_count(value) -> int | None:
    """A whole number given as int, numpy or torch scalar; else None."""
    try:
        number = float(_as_tensor(value).reshape(()))
    except Exception:  # not a count
        return None
    return int(number) if number.is_integer() else None


_DW_CONTEXT = {
    "transpose_hint": "it is the transpose of dL/dW: entry (i, j) must be "
    "dL/dW_ij"
}


@_guarded
def check_gradient_formula(fn: Callable) -> Report:
    """fn(W, x) -> dL/dW for y = Wx, u = ReLU(y), v = u + Wu, L = ||v||^2/2.

    Against autograd, for d = 1 (one number), 3 and 8.
    """
    from .backprop import residual_relu_loss

    report = Report(f"check_gradient_formula({_name(fn)})")
    for d in (1, 3, 8):
        for seed in (0, 1):
            g = torch.Generator().manual_seed(seed)
            W = torch.randn(
                d, d, generator=g, dtype=torch.float64, requires_grad=True
            )
            x = _randn(g, d)
            (reference,) = torch.autograd.grad(residual_relu_loss(W, x), W)
            case = f"d = {d}, seed {seed}"
            attempt = functools.partial(_call_in, fn, (W.detach(), x))
            got, mode = _try_modes(report, case, attempt, ("torch", "numpy"))
            if mode is not None:
                report.compare(case, got, reference, _DW_CONTEXT)
    return report


@_guarded
def check_kinks(points, net, lo: float, hi: float) -> Report:
    """Your list of the points of (lo, hi) where `net` (R -> R) is not
    differentiable, against the exact ones (1e-9 apart counts as equal)."""
    from .regions import breakpoints_1d

    report = Report(f"check_kinks(points on ({_fmt(lo)}, {_fmt(hi)}))")
    exact = breakpoints_1d(net, lo, hi)
    try:
        yours = sorted(float(p) for p in _as_tensor(points).reshape(-1))
    except Exception as err:  # reported
        report.add(
            "reading the points",
            False,
            f"expected a list of numbers, got {type(points).__name__} ({err})",
        )
        return report
    missing = [t for t in exact if not any(abs(t - p) < 1e-9 for p in yours)]
    extra = [p for p in yours if not any(abs(t - p) < 1e-9 for t in exact)]
    report.add(
        "number of kinks",
        len(yours) == len(exact),
        f"you listed {len(yours)}, the network has {len(exact)}",
    )
    report.add(
        "no kink missing",
        not missing,
        f"missing {_fmt_array(missing)}" if missing else "",
    )
    report.add(
        "no extra points",
        not extra,
        f"not kinks: {_fmt_array(extra)}" if extra else "",
    )
    return report


@_guarded
def check_word_count(text: str, limit: int = 350) -> Report:
    """Whether an answer fits the word limit (hwlib.review.count_words)."""
    report = Report(f"check_word_count(limit {limit})")
    if not isinstance(text, str):
        report.add(
            "reading the text",
            False,
            f"expected a str, got {type(text).__name__}",
        )
        return report
    words = review.count_words(text)
    report.add(f"at most {limit} words", words <= limit, f"{words} words")
    return report


# ---------------------------------------------------------------------------
# Command line: python -m hwlib.check TOPIC path/to/file.py:NAME
# ---------------------------------------------------------------------------


def _built(obj):
    """obj(), when obj is a function of no arguments (like hwlib's
    or_network or and_neuron); else obj itself."""
    if not inspect.isfunction(obj):
        return obj
    required = [
        p
        for p in inspect.signature(obj).parameters.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return obj if required else obj()


def _gate_topic(gate: str) -> Callable:
    return lambda obj: check_gate(_built(obj), gate)


def _neuron_topic(gate: str) -> Callable:
    def run(pair) -> Report:
        try:
            w, b = _built(pair)
        except Exception as err:  # reported like any other failure
            report = Report(f"check_threshold_neuron(..., {gate!r})")
            report.add(
                "reading (w, b)",
                False,
                f"expected a pair (w, b), or a function returning one ({err})",
            )
            return report
        return check_threshold_neuron(w, b, gate)

    return run


# topic -> (check, the names it needs, what the names must be)
TOPICS: dict[str, tuple[Callable, tuple[str, ...], str]] = {
    "linear": (
        check_linear,
        ("Linear",),
        "class Linear(in_features, "
        "out_features): .weight (out, in), .bias, forward(x), "
        "backward(g) -> dL/dx, .grad_weight, .grad_bias",
    ),
    "relu": (
        check_relu,
        ("ReLU",),
        "class ReLU(): forward(x), backward(g) -> dL/dx",
    ),
    "cross_entropy": (
        check_cross_entropy,
        ("CrossEntropyLoss",),
        "class CrossEntropyLoss(): forward(logits, target) -> "
        "mean loss, backward() -> dL/dlogits",
    ),
    "affine": (
        check_affine_functions,
        ("affine_forward", "affine_backward"),
        "affine_forward(x, w, b) -> (out, cache), w (D, M); "
        "affine_backward(dout, cache) -> (dx, dw, db)",
    ),
    "relu_functions": (
        check_relu_functions,
        ("relu_forward", "relu_backward"),
        "relu_forward(x) -> (out, cache); relu_backward(dout, cache) -> dx",
    ),
    "softmax_loss": (
        check_softmax_loss,
        ("softmax_loss",),
        "softmax_loss(x, y) -> (mean loss, dx)",
    ),
    "gradient_formula": (
        check_gradient_formula,
        ("grad",),
        "grad(W, x) -> dL/dW (seed 000 Q8)",
    ),
    "identified_regions": (
        check_identified_regions,
        ("count",),
        "count(layers) -> int, layers [(W, b), ...]",
    ),
    "saliency": (
        check_saliency,
        ("saliency_map",),
        "saliency_map(model, x, target) -> (N, H, W)",
    ),
    "guided_backprop": (
        check_guided_backprop,
        ("guided_backprop",),
        "guided_backprop(model, x, target) -> (N, C, H, W)",
    ),
    "grad_cam": (
        check_grad_cam,
        ("grad_cam",),
        "grad_cam(model, layer, x, target) -> (N, h, w)",
    ),
    "guided_grad_cam": (
        check_guided_grad_cam,
        ("guided_grad_cam",),
        "guided_grad_cam(model, layer, x, target) -> (N, C, H, W)",
    ),
    "fooling_image": (
        check_fooling_image,
        ("fooling_image",),
        "fooling_image(model, x, target) -> images (N, C, H, W) in [0, 1]"
        " (a required lr or learning_rate gets 0.05)",
    ),
    "class_visualization_step": (
        check_class_visualization_step,
        ("class_visualization_step",),
        "class_visualization_step(model, image, target, *, lr, l2_reg) -> "
        "image (lr may be called learning_rate)",
    ),
    **{
        f"gate_{g}": (
            _gate_topic(g),
            (f"{g}_network",),
            "a network or function f(x) of x (N, 2), (or a function of "
            "no arguments that builds it); f > 0 where the gate is true",
        )
        for g in ("and", "or", "xor", "nand")
    },
    **{
        f"neuron_{g}": (
            _neuron_topic(g),
            (f"{g}_neuron",),
            "a pair (w, b), or a function of no arguments returning it; "
            "f(x) = 1 if w·x + b >= 0",
        )
        for g in ("and", "or", "iff")
    },
}


def _usage() -> str:
    lines = [
        "usage: python -m hwlib.check TOPIC file.py[:NAME[,NAME]]",
        "       python -m hwlib.check --list",
        "",
        "topics:",
    ]
    for topic, (_, names, signature) in TOPICS.items():
        lines.append(f"  {topic:<26} NAME = {','.join(names)}")
        lines.append(f"  {'':<26} {signature}")
    return "\n".join(lines)


def _load(spec: str, defaults: tuple[str, ...]) -> list:
    """The objects NAME[,NAME] of file.py:NAME (ValueError when absent)."""
    import importlib.util
    from pathlib import Path

    path, _, names = spec.partition(":")
    names = tuple(n.strip() for n in names.split(",")) if names else defaults
    if len(names) != len(defaults):
        raise ValueError(
            f"this topic needs {len(defaults)} names "
            f"({','.join(defaults)}), got {','.join(names)}"
        )
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no such file: {path}")
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(file.parent.resolve()))
    module_spec.loader.exec_module(module)
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise ValueError(f"{path} defines no {', '.join(missing)}")
    return [getattr(module, n) for n in names]


def main(argv: list[str] | None = None) -> int:
    """Run one check from the command line; 0 passed, 1 failed, 2 usage."""
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--list"], ["-l"], ["--help"], ["-h"]):
        print(_usage())
        return 0
    if len(argv) != 2 or argv[0] not in TOPICS:
        print(
            _usage()
            if len(argv) != 2
            else f"unknown topic {argv[0]!r}; see --list",
            file=sys.stderr,
        )
        return 2
    check, defaults, _ = TOPICS[argv[0]]
    try:
        objects = _load(argv[1], defaults)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the student's file failed
        print(f"✗ could not import {argv[1]}: {type(err).__name__}: {err}")
        return 1
    report = check(*objects)
    print(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
