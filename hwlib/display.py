"""Render matrices as LaTeX, for equations shown in the chapters."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from fractions import Fraction

import torch


def _entry(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"rows: entries must be strings or real numbers, got {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        return (
            r"\mathrm{NaN}"
            if math.isnan(number)
            else (r"\infty" if number > 0 else r"-\infty")
        )
    fraction = Fraction(number).limit_denominator(1000)
    return str(fraction) if float(fraction) == number else f"{number:.4g}"


def latex_matrix(
    rows: Sequence[Sequence] | torch.Tensor, name: str | None = None
) -> str:
    """A bmatrix of the entries: strings verbatim, numbers as short fractions.

    A 1-D input is shown as a column vector. With `name`, the result is
    "name = [...]". NaN and infinities are shown as such.
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {name!r}")
    if isinstance(rows, torch.Tensor):
        if rows.ndim not in (1, 2):
            raise ValueError(
                f"rows must be 1-D or 2-D, got shape {tuple(rows.shape)}"
            )
        rows = rows.detach().cpu()
        rows = (rows[:, None] if rows.ndim == 1 else rows).tolist()
    unordered = isinstance(rows, (dict, set, frozenset))
    if unordered or isinstance(rows, (str, bytes)):
        raise TypeError(f"rows must be a matrix or a vector, got {rows!r}")
    if not hasattr(rows, "__iter__"):
        raise TypeError(f"rows must be a matrix or a vector, got {rows!r}")
    rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in rows]
    if not rows:
        raise ValueError("rows must hold at least one row, got none")
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1 or widths == [0]:
        lengths = [len(row) for row in rows]
        raise ValueError(
            f"rows must all have the same nonzero length, got lengths "
            f"{lengths}"
        )
    body = r" \\ ".join(" & ".join(_entry(v) for v in row) for row in rows)
    matrix = r"\begin{bmatrix} " + body + r" \end{bmatrix}"
    return f"{name} = {matrix}" if name else matrix
