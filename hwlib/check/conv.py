"""Convolution as a matrix (GT §1): the reference matrix is read off
F.conv2d / F.conv_transpose2d applied to every one-hot image; a symbolic
answer (sympy) is checked entry by entry against kernel symbols."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .calling import Topic, guarded, randn
from .compare import (
    ATOL,
    RTOL,
    Hints,
    as_tensor,
    close,
    diagnose,
    fmt,
    is_sympy,
    shape_of,
)
from .report import Report

_FLIPPED = (
    "the kernel is flipped (a true convolution); conv2d in PyTorch "
    "and in this problem is a cross-correlation: K[a, b] multiplies "
    "x[p*s - pad + a, q*s - pad + b]"
)


def conv_matrix(
    kernel: Tensor, input_size, stride, padding, *, transpose: bool
) -> Tensor:
    """A with A @ x.flatten() = conv(x).flatten(): column j is the
    convolution of the j-th one-hot image."""
    h, w = input_size
    basis = torch.eye(h * w, dtype=torch.float64).reshape(h * w, 1, h, w)
    op = F.conv_transpose2d if transpose else F.conv2d
    out = op(
        basis,
        kernel.reshape(1, 1, *kernel.shape).double(),
        stride=stride,
        padding=padding,
    )
    return out.flatten(1).T.contiguous()


def _kernel_index(
    shape, args, *, transpose: bool, flip: bool = False
) -> Tensor:
    """Which kernel entry (k = a*kw + b, plus 1) sits in each entry of A;
    0 where none does (kernel entries numbered 1.., exact in float64)."""
    kh, kw = shape
    numbers = torch.arange(1, kh * kw + 1, dtype=torch.float64).reshape(kh, kw)
    numbers = numbers.flip(0, 1) if flip else numbers
    return conv_matrix(numbers, *args, transpose=transpose).round().long()


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
            "expected a sympy Matrix (or nested lists) of kernel symbols, got "
            f"{type(A).__name__} ({type(err).__name__}: {err})",
        )
        return
    want = shape_of(index)
    if A.shape != want:
        hint = ": the transpose?" if A.shape == want[::-1] else ""
        report.add("shape", False, f"{A.shape}, expected {want}{hint}")
        return
    expected = _symbolic_expected(kernel, index)
    wrong = _symbolic_wrong(A, expected)
    detail = "; ".join(
        f"A[{i}, {j}] = {A[i, j]}, expected {expected[i, j]}"
        for i, j in wrong[:4]
    )
    if wrong and not _symbolic_wrong(
        A, _symbolic_expected(kernel, flipped_index)
    ):
        detail += f"; {_FLIPPED}"
    n = A.rows * A.cols
    report.add(
        "every entry (symbolic)",
        not wrong,
        f"{len(wrong)} of {n} entries wrong: {detail}"
        if wrong
        else f"all {n} entries",
    )


def _wrong_entries(mine: Tensor, reference: Tensor) -> str:
    """'n of m entries wrong: A[i, j] = v, expected e; ...' (first four);
    a nan or inf entry counts as wrong."""
    atol = RTOL * float(reference.abs().max()) + ATOL
    bad = (~((mine - reference).abs() <= atol)).nonzero().tolist()
    text = "; ".join(
        f"A[{i}, {j}] = {fmt(mine[i, j])}, expected {fmt(reference[i, j])}"
        for i, j in bad[:4]
    )
    return f"{len(bad)} of {reference.numel()} entries wrong: {text}"


def _check_numeric(
    report, A, kernel: Tensor, args, *, transpose: bool
) -> None:
    """A entry by entry against the matrix read off F.conv2d, then A @ x
    against F.conv2d on random images."""
    reference = conv_matrix(kernel, *args, transpose=transpose)
    if is_sympy(A) and getattr(A, "free_symbols", None):
        report.add(
            "every entry",
            False,
            "A holds symbols but the kernel is numeric: pass the kernel as a "
            "sympy Matrix of the same symbols to check A symbolically",
        )
        return
    hints = Hints(
        alternatives={
            _FLIPPED: conv_matrix(
                kernel.flip(0, 1), *args, transpose=transpose
            )
        },
        transpose_hint="A is the transpose of the expected matrix "
        "(rows are output pixels, columns input pixels)",
    )
    try:
        mine = as_tensor(A)
    except Exception:  # compare reports what was expected
        mine = None
    if mine is None or mine.shape != reference.shape:
        report.compare("every entry", A, reference, hints)
        return
    if not close(mine, reference):
        hint = diagnose(mine, reference, hints)
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
    """A @ x on random images against F.conv2d / F.conv_transpose2d; the
    allowed error is what entries within tolerance imply."""
    g = torch.Generator().manual_seed(0)
    x = randn(g, 3, 1, *args[0])
    op = F.conv_transpose2d if transpose else F.conv2d
    y = op(x, kernel[None, None], stride=args[1], padding=args[2])
    error = (A @ x.flatten(1).T - y.flatten(1).T).abs()
    allowed = (RTOL * reference.abs().max() + ATOL) * x.abs().flatten(1).sum(1)
    report.add(
        "A @ x on 3 random images equals the convolution",
        bool((error <= allowed).all()),
    )


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
    if is_sympy(kernel) and kernel.free_symbols:
        index = _kernel_index(shape, args, transpose=transpose)
        flipped = _kernel_index(shape, args, transpose=transpose, flip=True)
        _check_symbolic(report, A, kernel, index, flipped)
    else:
        _check_numeric(report, A, as_tensor(kernel), args, transpose=transpose)
    return report


@guarded
def check_conv_matrix(A, kernel, input_size, stride=1, padding=0) -> Report:
    """A (out_h*out_w, H*W) meant to satisfy A @ x.flatten() = conv2d(x).

    kernel: numbers (kh, kw), or a sympy Matrix of symbols; then A (a sympy
    Matrix or nested lists) is checked entry by entry symbolically: each
    entry must be the right kernel symbol or 0.
    """
    return _conv_like(A, kernel, input_size, stride, padding, transpose=False)


@guarded
def check_conv_transpose_matrix(
    A, kernel, input_size, stride=1, padding=0
) -> Report:
    """A meant to satisfy A @ x.flatten() = conv_transpose2d(x).flatten().

    Numeric or symbolic kernel, as in check_conv_matrix.
    """
    return _conv_like(A, kernel, input_size, stride, padding, transpose=True)


TOPICS: dict[str, Topic] = {}  # a matrix is a value: checked in the notebook
