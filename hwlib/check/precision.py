"""Answers computed in float32: right code, compared at float32's precision.

The oracles compute in float64. Student code that works only in float32
(it creates float32 tensors, casts the model or its inputs) is right code
all the same: such an answer is compared with the float64 oracle at

    |yours - expected| <= FLOAT32_RTOL * max|expected| + ATOL,

FLOAT32_RTOL = 1e-4. float32 rounds each operation to 2^-24 ≈ 6e-8 of its
value, so the few hundred operations of a layer's pass or of the checks'
small CNN stay two orders of magnitude inside it, while every mistake the
checks name (a factor, a sign, a missing |.|, the wrong objective) moves
the answer by far more. The report's line says float32 was used.
"""

from __future__ import annotations

import numpy as np
import torch

from .compare import as_tensor, close
from .report import Report

FLOAT32_RTOL = 1e-4

FLOAT32_NOTE = (
    "computed in float32 (compared with the float64 reference to "
    f"{FLOAT32_RTOL:g} of its largest value)"
)


def is_float32(value) -> bool:
    """Whether value is a float32 tensor or array."""
    dtype = getattr(value, "dtype", None)
    return dtype == torch.float32 or (
        not isinstance(dtype, torch.dtype) and dtype == np.float32
    )


def close_as(ours, reference, *, float32: bool) -> bool:
    """compare.close at the tolerance of the answer's precision."""
    if float32:
        return close(ours, reference, rtol=FLOAT32_RTOL)
    return close(ours, reference)


def compare(
    report: Report,
    case: str,
    ours,
    reference,
    hints=None,
    *,
    float32: bool = False,
    note: str = "",
) -> bool:
    """report.compare(case, ours, reference, hints), at float32's
    tolerance when float32 is set or ours is a float32 array; a passing
    line carries `note` and says when float32 was used."""
    float32 = float32 or is_float32(ours)
    extra = FLOAT32_NOTE if float32 and FLOAT32_NOTE not in note else ""
    notes = ", ".join(filter(None, (note, extra)))
    if float32:
        try:
            mine = as_tensor(ours)
            want = as_tensor(reference)
            if mine.numel() == 1 == want.numel():
                mine = mine.reshape(want.shape)
            if close_as(mine, want, float32=True):
                return report.add(case, True, notes)
        except Exception:  # report.compare says what is wrong
            pass
    if report.compare(case, ours, reference, hints):
        report.lines[-1] = (case, True, notes)
        return True
    return False
