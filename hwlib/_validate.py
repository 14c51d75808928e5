"""Argument checks shared by the modules: each error names the argument,
the value it got and what it expects (TypeError for a wrong kind of value,
ValueError for a value out of range)."""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np
import torch
from torch import Tensor

_NUMERIC = {
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.complex64,
    torch.complex128,
}


MAX_ELEMENTS = 2**28
"""The largest tensor (entries) a constructor agrees to allocate."""


def allocation(what: str, numel: int) -> None:
    """Refuse at once a tensor of more than MAX_ELEMENTS entries."""
    if numel > MAX_ELEMENTS:
        raise ValueError(
            f"{what} would have {numel} entries, more than hwlib's limit "
            f"MAX_ELEMENTS = {MAX_ELEMENTS}; use smaller sizes"
        )


def integer(
    name: str, value, *, minimum: int = 1, maximum: int | None = None
) -> int:
    """An int (not a bool, not a float such as 2.0) in [minimum, maximum]."""
    wanted = (
        f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int {wanted}, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an int {wanted}, got {value!r}")
    return int(value)


def boolean(name: str, value, *, allow_none: bool = False) -> bool | None:
    """True or False (or None when allow_none); 0, 1 and "yes" refused."""
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        allowed = "True, False or None" if allow_none else "True or False"
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    return value


def device(value) -> torch.device:
    """A torch.device from a device, a name such as "cuda:0" or a CUDA
    index; None means the CPU."""
    wanted = "a torch.device or a name such as 'cpu' or 'cuda'"
    if value is None:
        return torch.device("cpu")
    if isinstance(value, bool) or not isinstance(
        value, (str, int, torch.device)
    ):
        raise TypeError(
            f"device must be {wanted}, got {value!r} ({type(value).__name__})"
        )
    try:
        return torch.device(value)
    except (TypeError, RuntimeError):
        raise ValueError(f"device must be {wanted}, got {value!r}") from None


def real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (not a bool) in the interval given by low/high.

    low_open / high_open exclude the end, e.g. low=0, low_open=True: x > 0.
    """
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} "
            f"({type(value).__name__})"
        )
    value = float(value)
    too_low = low is not None and (value < low or (low_open and value == low))
    too_high = high is not None and (
        value > high or (high_open and value == high)
    )
    if not math.isfinite(value) or too_low or too_high:
        left = "-inf" if low is None else low
        right = "inf" if high is None else high
        interval = (
            f"{'(' if low_open or low is None else '['}{left}, "
            f"{right}{')' if high_open or high is None else ']'}"
        )
        raise ValueError(
            f"{name} must be a finite number in {interval}, got {value!r}"
        )
    return value


def real_tensor(name: str, value, *, dtype=None) -> Tensor:
    """A tensor of finite real numbers (bools and complex refused).

    Nested lists and arrays are converted; with `dtype` the result has it.
    """
    try:
        # numpy keeps Python floats as float64 and bools as bool
        t = (
            value
            if isinstance(value, Tensor)
            else torch.as_tensor(np.asarray(value))
        )
    except (TypeError, ValueError, RuntimeError):
        t = None
    if t is None or t.dtype not in _NUMERIC:
        raise TypeError(
            f"{name} must be a tensor of numbers, got {type(value).__name__}"
        )
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got {t.dtype}")
    t = t if dtype is None else t.to(dtype)
    if t.is_floating_point() and not bool(t.isfinite().all()):
        bad = (~t.isfinite()).sum().item()
        raise ValueError(
            f"{name} must be finite, got {bad} NaN/inf entries "
            f"(shape {tuple(t.shape)})"
        )
    return t


def as_tensor(name: str, value, expected: str) -> Tensor:
    """torch.as_tensor(value), or a TypeError: name must be expected."""
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be {expected}, got {value!r}") from None


def generator(value, device) -> torch.Generator | None:
    """None, or a torch.Generator on the device of the tensors it draws."""
    if value is None:
        return None
    if not isinstance(value, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got "
            f"{type(value).__name__}"
        )
    want = torch.device(device if device is not None else "cpu")
    if value.device.type != want.type:
        raise ValueError(
            f"generator is on {value.device} but draws tensors on {want}: "
            f"use torch.Generator(device={str(want)!r})"
        )
    return value


def floating_dtype(name: str, value) -> torch.dtype:
    """A floating torch.dtype such as torch.float64."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(
            f"{name} must be a floating torch.dtype (e.g. torch.float64), "
            f"got {value!r}"
        )
    return value


def same_dtype_and_device(name: str, t: Tensor, other: str, like: Tensor):
    """t has like's dtype and device, or a TypeError that says how to fix it.

    `other` names what `like` is ("W", "the parameters").
    """
    if t.dtype != like.dtype or t.device != like.device:
        raise TypeError(
            f"{name} ({t.dtype} on {t.device}) must match {other} "
            f"({like.dtype} on {like.device}); convert with "
            f"{name}.to({str(like.device)!r}, {like.dtype})"
        )


def integers(
    name: str, value, *, min_length: int = 1, minimum: int = 1
) -> tuple[int, ...]:
    """A tuple or list of ints, each >= minimum, at least min_length long;
    returned as a tuple (layer widths such as (3072, 512, 10))."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(
            f"{name} must be a tuple or list of ints, got {value!r} "
            f"({type(value).__name__})"
        )
    if len(value) < min_length:
        raise ValueError(
            f"{name} must hold at least {min_length} "
            f"int{'s' if min_length != 1 else ''}, got {value!r}"
        )
    return tuple(
        integer(f"{name}[{i}]", v, minimum=minimum)
        for i, v in enumerate(value)
    )


def sgd_fields(settings) -> None:
    """The fields every training-settings class shares: epochs and
    batch_size ints >= 1, lr > 0, momentum in [0, 1), weight_decay >= 0
    and seed an int >= 0."""
    integer("epochs", settings.epochs)
    integer("batch_size", settings.batch_size)
    real("lr", settings.lr, low=0, low_open=True)
    real("momentum", settings.momentum, low=0, high=1, high_open=True)
    real("weight_decay", settings.weight_decay, low=0)
    integer("seed", settings.seed, minimum=0, maximum=2**63 - 1)


def int_pair(name: str, value, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair (bools refused)."""
    is_seq = isinstance(value, (tuple, list))
    items = tuple(value) if is_seq else (value, value)
    try:
        if len(items) != 2 or any(isinstance(v, bool) for v in items):
            raise TypeError
        pair = (operator.index(items[0]), operator.index(items[1]))
    except TypeError:
        raise TypeError(
            f"{name} must be an int or a pair of ints, got {value!r}"
        ) from None
    if min(pair) < minimum:
        raise ValueError(
            f"{name} must be >= {minimum} (an int or a pair), got {value!r}"
        )
    return pair


_KINDS = {
    "floating": (torch.Tensor.is_floating_point, "a floating tensor"),
    "integer": (
        lambda t: (
            not (t.is_floating_point() or t.is_complex())
            and t.dtype != torch.bool
        ),
        "an integer tensor",
    ),
}


def channels_last_hint(x: Tensor) -> str:
    """A hint when x (4-D) looks like channels-last images (N, H, W, C)."""
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and min(x.shape[1:3]) > 4:
        return (
            f" (channels-last? use x.permute(0, 3, 1, 2) for (N, C, H, W) "
            f"= {(x.shape[0], x.shape[3], x.shape[1], x.shape[2])})"
        )
    return ""


def tensor(
    name: str,
    value,
    *,
    shape: str | None = None,
    dtype: torch.dtype | str | None = None,
    like: Tensor | None = None,
    like_name: str = "the parameters",
    convert: bool = False,
    what: str | None = None,
) -> Tensor:
    """`value` as a checked tensor (sklearn's check_array, for torch).

    shape: the axes, e.g. "(N, C, H, W)": the number of axes is checked,
    and an axis written as a number ("(N, 3, H, W)") must have that size;
    4-D images that look channels-last get a hint to permute them.
    dtype: a torch.dtype, or "floating" / "integer" for a kind. like: a
    tensor whose dtype and device `value` must share (called like_name in
    the message). convert: accept what torch.as_tensor accepts (lists,
    arrays); otherwise anything but a tensor is a TypeError. what: how
    the messages describe the value ("name must be <what> <shape>"; by
    default "a tensor", or "an integer tensor" for dtype="integer").
    Returns the tensor (converted when convert=True).
    """
    axes = [] if shape is None else shape.strip("()").split(", ")
    axes = [a for a in axes if a]
    kind = _KINDS[dtype] if isinstance(dtype, str) else None
    what = what or (kind[1] if kind else "a tensor")
    wanted = f"{what} {shape}" if shape else what
    if not isinstance(value, Tensor):
        if not convert:
            raise TypeError(
                f"{name} must be {wanted}, got {type(value).__name__}"
            )
        value = as_tensor(name, value, wanted)
    if shape is not None:
        sizes = [int(a) if a.isdigit() else None for a in axes]
        ok = value.ndim == len(axes) and all(
            s is None or s == n for s, n in zip(sizes, value.shape)
        )
        if not ok:
            raise ValueError(
                f"{name} must be {wanted}, got shape {tuple(value.shape)}"
                + (channels_last_hint(value) if len(axes) == 4 else "")
            )
    if kind is not None and not kind[0](value):
        raise TypeError(f"{name} must be {wanted}, got {value.dtype}")
    if isinstance(dtype, torch.dtype) and value.dtype != dtype:
        raise TypeError(
            f"{name} must be {wanted} of {dtype}, got {value.dtype}"
        )
    if like is not None:
        same_dtype_and_device(name, value, like_name, like)
    return value


def finite(name: str, value: Tensor) -> Tensor:
    """value (a tensor) without NaN or inf entries, or a ValueError."""
    if value.is_floating_point() or value.is_complex():
        bad = int((~value.isfinite()).sum())
        if bad:
            raise ValueError(
                f"{name} must be finite, got {bad} NaN/inf entries "
                f"(shape {tuple(value.shape)})"
            )
    return value
