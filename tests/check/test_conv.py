"""Convolution as a matrix: numeric (any format), symbolic, flipped."""

import sympy
import torch
import torch.nn.functional as F

from hwlib import check

from .helpers import failed, text


def one_hot_matrix(kernel, size, stride=1, padding=0):
    """A student's matrix: A[p, j] by the definition of cross-correlation."""
    kh, kw = kernel.shape
    out = (size + 2 * padding - kh) // stride + 1
    A = torch.zeros(out * out, size * size, dtype=torch.float64)
    for p in range(out):
        for q in range(out):
            for a in range(kh):
                for b in range(kw):
                    i, j = p * stride - padding + a, q * stride - padding + b
                    if 0 <= i < size and 0 <= j < size:
                        A[p * out + q, i * size + j] = kernel[a, b]
    return A


def test_numeric_matrix_formats_and_the_flipped_kernel():
    kernel = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)
    A = one_hot_matrix(kernel, 4, stride=1, padding=1)
    for value in (A, A.numpy(), A.tolist(), sympy.Matrix(A.tolist())):
        assert check.check_conv_matrix(value, kernel, (4, 4), padding=1).passed
    flipped = one_hot_matrix(kernel.flip(0, 1), 4, padding=1)
    report = check.check_conv_matrix(flipped, kernel, (4, 4), padding=1)
    assert "flipped" in text(report)


def test_a_nan_entry_is_a_wrong_entry():
    kernel = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)
    A = one_hot_matrix(kernel, 3)
    A[0, 0] = float("nan")
    report = check.check_conv_matrix(A, kernel, (3, 3))
    assert failed(report) == ["every entry"]
    assert text(report).startswith("1 of 36 entries wrong: A[0, 0] = nan")


def test_symbolic_matrix():
    k = sympy.Matrix(2, 2, sympy.symbols("k0:4"))
    A = [[0] * 9 for _ in range(4)]
    for p in range(2):
        for q in range(2):
            for a in range(2):
                for b in range(2):
                    A[p * 2 + q][(p + a) * 3 + q + b] = k[a, b]
    assert check.check_conv_matrix(sympy.Matrix(A), k, (3, 3)).passed
    A[0][0] = k[1, 1]
    assert not check.check_conv_matrix(sympy.Matrix(A), k, (3, 3)).passed


def test_transposed_matrix_against_conv_transpose2d():
    kernel = torch.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=torch.float64)
    eye = torch.eye(4, dtype=torch.float64).reshape(4, 1, 2, 2)
    A = F.conv_transpose2d(eye, kernel[None, None], stride=2).flatten(1).T
    assert check.check_conv_transpose_matrix(
        A, kernel, (2, 2), stride=2
    ).passed
    assert not check.check_conv_transpose_matrix(A.T, kernel, (2, 2), 2).passed
