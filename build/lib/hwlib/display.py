"""Render matrices as LaTeX, for equations shown in the chapters."""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import torch


def _entry(value) -> str:
    if isinstance(value, str):
        return value
    number = float(value)
    fraction = Fraction(number).limit_denominator(1000)
    return str(fraction) if float(fraction) == number else f"{number:.4g}"


def latex_matrix(rows: Sequence[Sequence] | torch.Tensor, name: str | None = None) -> str:
    """A bmatrix of the entries (strings verbatim, numbers as integers or short fractions).

    A 1-D input is shown as a column vector. With `name`, the result is "name = [...]".
    """
    if isinstance(rows, torch.Tensor):
        rows = rows.detach().cpu().reshape(-1, 1).tolist() if rows.ndim == 1 else rows.detach().cpu().tolist()
    rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in rows]
    body = r" \\ ".join(" & ".join(_entry(v) for v in row) for row in rows)
    matrix = r"\begin{bmatrix} " + body + r" \end{bmatrix}"
    return f"{name} = {matrix}" if name else matrix
