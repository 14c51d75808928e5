"""Reading answers in any format, one tolerance, and diagnoses.

Answers may be torch tensors, numpy arrays, nested lists, Python numbers,
scipy sparse matrices or sympy matrices of numbers: `as_tensor` reads them
all as float64. Values are compared with one relative tolerance,

    |yours - expected| <= RTOL * max|expected| + ATOL   (entry by entry),

and `diagnose` names the classic mistake that explains a difference (a
factor of the batch size, a flipped sign, transposed weights, a missing
absolute value, ...), from the `Hints` a check gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import Tensor

RTOL = 1e-5  # relative to the largest expected magnitude
ATOL = 1e-9  # floor, for answers whose expected values are all 0

OVERFLOW = (
    "contains inf or nan: exp of large scores overflows; subtract each "
    "row's maximum before exp (the log-sum-exp trick)"
)

ZERO_CONVENTION = (
    "differs only where the input is exactly 0, and there by more than "
    "a subgradient allows: ReLU'(0) may be any value in [0, 1]"
)


def fmt(value) -> str:
    """A number in short decimals (float32 noise removed): -1.4, 0.001."""
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return repr(value)


def fmt_array(value, limit: int = 8) -> str:
    """A short list of numbers: [1, -0.5, 2] (the first `limit`)."""
    flat = [fmt(v) for v in np.asarray(value, dtype=np.float64).ravel()]
    tail = ", ..." if len(flat) > limit else ""
    return "[" + ", ".join(flat[:limit]) + tail + "]"


def short(value) -> str:
    """A value for a report title: numbers in short decimals, else repr."""
    try:
        t = as_tensor(value)
    except Exception:  # not numbers: show it as it is
        return repr(value)
    return fmt(t) if t.ndim == 0 else fmt_array(t)


def shape_of(t) -> tuple:
    return tuple(int(n) for n in t.shape)


def is_sympy(value) -> bool:
    return type(value).__module__.startswith("sympy")


def as_tensor(value) -> Tensor:
    """Any numeric answer as a float64 CPU tensor.

    Accepts torch tensors, numpy arrays, nested lists, Python numbers,
    scipy sparse matrices and sympy matrices of numbers; raises TypeError
    or ValueError otherwise (symbols, strings, None).
    """
    if value is None:
        raise TypeError("got None")
    if isinstance(value, Tensor):
        return value.detach().to("cpu", torch.float64)
    if is_sympy(value):
        if getattr(value, "free_symbols", None):
            names = sorted(map(str, value.free_symbols))[:4]
            raise TypeError(f"it contains symbols {names}")
        value = value.tolist() if hasattr(value, "tolist") else float(value)
    elif hasattr(value, "toarray"):  # scipy.sparse
        value = value.toarray()
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, Tensor) for v in value
    ):
        value = [as_tensor(v).numpy() for v in value]
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def expected_text(reference: Tensor) -> str:
    if reference.ndim == 0:
        return "a number"
    return f"an array of shape {shape_of(reference)}"


def close(ours: Tensor, reference: Tensor, rtol: float = RTOL) -> bool:
    """One rule everywhere: |ours - ref| <= rtol * max|ref| + ATOL (rtol
    is RTOL but for answers computed in float32: check.precision)."""
    if ours.shape != reference.shape or not torch.isfinite(ours).all():
        return False
    if reference.numel() == 0:
        return True
    diff = (ours - reference).abs().max().item()
    return diff <= rtol * reference.abs().max().item() + ATOL


@dataclass
class Hints:
    """What a check knows that helps name a mistake.

    batch_size: N, to name factors N and 1/N. alternatives: {explanation:
    the result that mistake gives} (or a function returning that dict,
    computed only when needed), tried first. inputs: the input, to
    recognise a difference only where it is exactly 0 (then say
    zero_convention). transpose_hint: what to say about a transpose.
    """

    batch_size: int | None = None
    alternatives: Mapping | Callable = field(default_factory=dict)
    inputs: object = None
    zero_convention: str = ZERO_CONVENTION
    transpose_hint: str = "it is the transpose of the expected array"
    not_finite: str = "contains inf or nan"

    @classmethod
    def of(cls, context) -> Hints:
        """Hints from Hints, None, or a dict with the same keys."""
        if isinstance(context, Hints):
            return context
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (context or {}).items() if k in known})


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
    return fmt(c)


def _factor_text(c: float, batch_size, *, single: bool) -> str:
    """'off by a constant factor ...' naming c; for a single number (where
    any two numbers differ by some factor) only a recognised factor."""
    name = _factor_name(abs(c), batch_size)
    if single and name == fmt(abs(c)):
        return ""
    sign = "the sign is flipped and " if c < 0 else ""
    return (
        f"{sign}off by a constant factor: yours = {fmt(c)} × expected, "
        f"a factor of {name}"
    )


def scale_factor(ours: Tensor, reference: Tensor) -> float | None:
    """c with ours = c * reference (least squares), if that fits exactly."""
    denom = (reference * reference).sum().item()
    if denom == 0:
        return None
    c = (ours * reference).sum().item() / denom
    return c if close(ours, c * reference) else None


def _diagnose_shape(ours: Tensor, reference: Tensor, hints: Hints) -> str:
    if ours.ndim == 2 and close(ours.T, reference):
        return hints.transpose_hint
    if ours.numel() == reference.numel() and close(
        ours.reshape(reference.shape), reference
    ):
        want = shape_of(reference)
        return f"right values in the wrong shape: reshape to {want}"
    if (
        reference.ndim >= 1
        and ours.shape == reference.shape[1:]
        and close(ours, reference.sum(0))
    ):
        return (
            "summed over the batch: one result for all examples "
            "instead of one per example"
        )
    return ""


def _alternative(ours: Tensor, hints: Hints) -> str:
    alternatives = hints.alternatives
    if callable(alternatives):  # computed only when a diagnosis is needed
        alternatives = alternatives()
    for name, alternative in alternatives.items():
        alternative = as_tensor(alternative)
        if alternative.shape == ours.shape and close(ours, alternative):
            return name
    return ""


def _diagnose_values(ours: Tensor, reference: Tensor, hints: Hints) -> str:
    named = _alternative(ours, hints)
    if named:
        return named
    if close(ours, -reference):
        return "the sign is flipped: yours = -expected"
    c = scale_factor(ours, reference)
    if c is not None and abs(c - 1) > 1e-6:
        return _factor_text(c, hints.batch_size, single=reference.numel() == 1)
    if (ours < 0).any() and close(ours.abs(), reference):
        return "missing absolute value: |yours| = expected"
    square = ours.ndim == 2 and ours.shape[0] == ours.shape[1]
    if square and close(ours.T, reference):
        return hints.transpose_hint
    total = reference.sum(0, keepdim=True).expand_as(reference)
    if len(reference) > 1 and close(ours, total):
        return (
            "summed over the batch: every example got the total of the "
            "batch instead of its own value"
        )
    return _diagnose_at_zero(ours, reference, hints)


def _diagnose_at_zero(ours: Tensor, reference: Tensor, hints: Hints) -> str:
    if hints.inputs is None:
        return ""
    zero = as_tensor(hints.inputs) == 0
    if zero.shape != ours.shape or not zero.any():
        return ""
    differs = (ours - reference).abs() > RTOL * reference.abs().max() + ATOL
    if differs.any() and not (differs & ~zero).any():
        return hints.zero_convention
    return ""


def diagnose(ours, reference, context: Hints | dict | None = None) -> str:
    """Name the classic mistake that turns `reference` into `ours`, or "".

    context: a `Hints` (or a dict with its field names). Never raises:
    anything it cannot read gives "".
    """
    try:
        ours, reference = as_tensor(ours), as_tensor(reference)
        hints = Hints.of(context)
        if ours.shape != reference.shape:
            return _diagnose_shape(ours, reference, hints)
        return _diagnose_values(ours, reference, hints)
    except Exception:  # a diagnosis is a bonus; it must never break a check
        return ""
