"""Convolution and transposed convolution as matrices (seed 004 §1).

For a single-channel input X of shape (H, W) flattened in row-major order
(x = X.flatten()), PyTorch's conv2d (a cross-correlation) is a linear map
y = A x:

    Y[p, q] = sum_{a, b} K[a, b] X[p s - pad + a, q s - pad + b]

(terms outside X are 0), so row p*out_w + q of A holds K[a, b] in column
r*W + c for r = p s - pad + a, c = q s - pad + b. The transposed convolution
scatters instead: input pixel (r, c) adds K[a, b] X[r, c] to output
(r s - pad + a, c s - pad + b): the same pairs of pixels with the same
weights, inputs and outputs swapped, so it is the transpose (the adjoint) of
the convolution on its own output size, for every input size (h, w):

    conv_transpose2d_matrix(K, (h, w)) == conv2d_matrix(K, out).T,
    out = conv_transpose2d_output_size(K.shape, (h, w)).

The converse, conv_transpose2d_matrix(K, conv output size) ==
conv2d_matrix(K, (H, W)).T, holds only when s divides H + 2 pad - kh (and
likewise for W); otherwise the transposed output is smaller than (H, W).

Arguments follow torch.nn.functional: `kernel_size`, `stride` and `padding`
are ints or pairs (height, width).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _validate

MAX_MATRIX_ENTRIES = 2**24
"""The largest matrix (rows * columns) the builders agree to allocate.

Below hwlib's general limit (_validate.MAX_ELEMENTS = 2^28) because the
symbolic builders hold one Python string per entry.
"""


class _Geometry(NamedTuple):
    """Validated sizes, each a pair (height, width)."""

    kernel: tuple[int, int]
    size: tuple[int, int]  # the input (H, W)
    stride: tuple[int, int]
    padding: tuple[int, int]
    out: tuple[int, int]  # the output (out_h, out_w)


def _geometry(
    kernel_size, input_size, stride, padding, *, transpose: bool = False
) -> _Geometry:
    """Check the arguments and compute the output size along each axis.

    convolution:            out = floor((H + 2 pad - kh) / s) + 1
    transposed convolution: out = (H - 1) s - 2 pad + kh
    """
    k = _validate.int_pair("kernel_size", kernel_size)
    size = _validate.int_pair("input_size", input_size)
    s = _validate.int_pair("stride", stride)
    pad = _validate.int_pair("padding", padding, minimum=0)
    axes = list(zip(k, size, s, pad))
    if transpose:
        out = tuple((n - 1) * si - 2 * p + kk for kk, n, si, p in axes)
        if min(out) < 1:
            raise ValueError(
                f"padding {pad} is too large for kernel {k}, input {size} "
                f"and stride {s}: the output would be {out}"
            )
    else:
        padded = tuple(n + 2 * p for _, n, _, p in axes)
        if k[0] > padded[0] or k[1] > padded[1]:
            raise ValueError(
                f"kernel_size: the kernel {k} is larger than the padded "
                f"input {padded} = input {size} with padding {pad}"
            )
        out = tuple((n + 2 * p - kk) // si + 1 for kk, n, si, p in axes)
    return _Geometry(k, size, s, pad, out)


def _matrix_shape(g: _Geometry) -> tuple[int, int]:
    """(out_h * out_w, H * W), refused above MAX_MATRIX_ENTRIES."""
    shape = (g.out[0] * g.out[1], g.size[0] * g.size[1])
    if shape[0] * shape[1] > MAX_MATRIX_ENTRIES:
        raise ValueError(
            f"input_size {g.size}: the matrix would be {shape[0]} x "
            f"{shape[1]}, more than MAX_MATRIX_ENTRIES = "
            f"{MAX_MATRIX_ENTRIES} entries; use a smaller input"
        )
    return shape


def _entries(
    g: _Geometry, *, transpose: bool
) -> Iterator[tuple[int, int, int, int]]:
    """(row of A, column of A, a, b) for every entry A[row, col] = K[a, b].

    Both maps link a strided index i to a dense index j = i s - pad + a per
    axis: for the convolution i is an output pixel and j the input pixel it
    reads; for the transposed convolution i is an input pixel and j the
    output pixel it writes. Rows of A are output pixels, columns input pixels.
    """
    strided, dense = (g.size, g.out) if transpose else (g.out, g.size)
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    grid = itertools.product(
        range(strided[0]), range(strided[1]), range(kh), range(kw)
    )
    for i0, i1, a, b in grid:
        j0, j1 = i0 * sh - ph + a, i1 * sw - pw + b
        if 0 <= j0 < dense[0] and 0 <= j1 < dense[1]:
            i, j = i0 * strided[1] + i1, j0 * dense[1] + j1
            yield (j, i, a, b) if transpose else (i, j, a, b)


def conv2d_output_size(
    kernel_size, input_size, stride=1, padding=0
) -> tuple[int, int]:
    """floor((H + 2 pad - kh) / s) + 1 along each axis, as F.conv2d.

    >>> conv2d_output_size(3, (5, 6), stride=2, padding=1)
    (3, 3)
    """
    return _geometry(kernel_size, input_size, stride, padding).out


def conv_transpose2d_output_size(
    kernel_size, input_size, stride=1, padding=0
) -> tuple[int, int]:
    """(H - 1) s - 2 pad + kh along each axis, as F.conv_transpose2d with
    no output padding and no dilation: the input size that conv2d with the
    same arguments maps onto input_size, when the stride divides evenly.

    >>> conv_transpose2d_output_size(3, (3, 3), stride=2, padding=1)
    (5, 5)
    """
    g = _geometry(kernel_size, input_size, stride, padding, transpose=True)
    return g.out


def _kernel_geometry(kernel, input_size, stride, padding, *, transpose):
    """The kernel as a real 2-D tensor, and the convolution's geometry."""
    kernel = _validate.real_tensor("kernel", kernel)
    if kernel.ndim != 2 or kernel.numel() == 0:
        raise ValueError(
            "kernel must be 2-D (kh, kw) with positive sizes, got shape "
            f"{tuple(kernel.shape)}"
        )
    g = _geometry(
        tuple(kernel.shape), input_size, stride, padding, transpose=transpose
    )
    return kernel, g


def _matrix(kernel, input_size, stride, padding, *, transpose: bool) -> Tensor:
    kernel, g = _kernel_geometry(
        kernel, input_size, stride, padding, transpose=transpose
    )
    A = torch.zeros(_matrix_shape(g), dtype=kernel.dtype, device=kernel.device)
    for row, col, a, b in _entries(g, transpose=transpose):
        A[row, col] += kernel[a, b]
    return A


def conv2d_matrix(kernel: Tensor, input_size, stride=1, padding=0) -> Tensor:
    """A with A @ x.flatten() == F.conv2d(x, kernel, ...).flatten().

    Args:
        kernel: (kh, kw), one input and one output channel.
        input_size: (H, W) of the input x.
        stride, padding: ints or pairs, as in torch.nn.functional.conv2d.
    Returns:
        A of shape (out_h * out_w, H * W).
    """
    return _matrix(kernel, input_size, stride, padding, transpose=False)


def conv_transpose2d_matrix(
    kernel: Tensor, input_size, stride=1, padding=0
) -> Tensor:
    """A with A @ x.flatten() == F.conv_transpose2d(x, kernel, ...).flatten().

    Shape (out_h * out_w, H * W) with out = (H - 1) s - 2 pad + kh (no output
    padding).
    """
    return _matrix(kernel, input_size, stride, padding, transpose=True)


def _symbolic(
    kernel_size, input_size, stride, padding, *, name: str, transpose: bool
) -> list[list[str]]:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    g = _geometry(
        kernel_size, input_size, stride, padding, transpose=transpose
    )
    n_rows, n_cols = _matrix_shape(g)
    rows = [["0"] * n_cols for _ in range(n_rows)]
    for row, col, a, b in _entries(g, transpose=transpose):
        rows[row][col] = f"{name}_{{({a},{b})}}"
    return rows


def conv2d_matrix_symbolic(
    kernel_size, input_size, stride=1, padding=0, name: str = "w"
) -> list[list[str]]:
    """conv2d_matrix with LaTeX names w_{(a,b)} for the kernel entries.

    Entries that no kernel weight reaches are the string "0".
    """
    return _symbolic(
        kernel_size, input_size, stride, padding, name=name, transpose=False
    )


def conv_transpose2d_matrix_symbolic(
    kernel_size, input_size, stride=1, padding=0, name: str = "w"
) -> list[list[str]]:
    """conv_transpose2d_matrix with LaTeX names w_{(a,b)} for the kernel."""
    return _symbolic(
        kernel_size, input_size, stride, padding, name=name, transpose=True
    )


def matrix_from_torch(
    kernel: Tensor, input_size, stride=1, padding=0, *, transpose=False
) -> Tensor:
    """The layer's matrix read off PyTorch, an independent reference.

    Column j is F.conv2d (transpose=False) or F.conv_transpose2d
    (transpose=True) applied to the j-th one-hot image of shape input_size,
    flattened row by row; no formula of this module is used, so it checks
    conv2d_matrix and conv_transpose2d_matrix (and their symbolic twins,
    through `entry_names`).
    """
    kernel, g = _kernel_geometry(
        kernel, input_size, stride, padding, transpose=transpose
    )
    n = _matrix_shape(g)[1]  # one one-hot image per input pixel
    if n * n > MAX_MATRIX_ENTRIES:
        raise ValueError(
            f"input_size {g.size}: {n} one-hot images of {n} pixels are more "
            f"than MAX_MATRIX_ENTRIES = {MAX_MATRIX_ENTRIES} entries"
        )
    basis = torch.eye(n, dtype=kernel.dtype, device=kernel.device)
    op = F.conv_transpose2d if transpose else F.conv2d
    images = basis.reshape(n, 1, *g.size)
    out = op(images, kernel[None, None], stride=g.stride, padding=g.padding)
    return out.reshape(n, -1).T


def labelled_kernel(kernel_size) -> Tensor:
    """The (kh, kw) float64 kernel with entry (a, b) = a * kw + b + 1.

    Every weight is distinct and nonzero, so each entry of a matrix built
    from it says which weight it is (`entry_names`).
    """
    kh, kw = _validate.int_pair("kernel_size", kernel_size)
    return torch.arange(1, kh * kw + 1, dtype=torch.float64).reshape(kh, kw)


def entry_names(A: Tensor, kernel_size, name: str = "w") -> list[list[str]]:
    """Name the entries of a matrix built from labelled_kernel(kernel_size):
    value a * kw + b + 1 becomes "w_{(a,b)}", 0 stays "0" (the format of the
    symbolic builders).

    Raises:
        ValueError: an entry is not 0 or one of the kernel's labels.
    """
    kh, kw = _validate.int_pair("kernel_size", kernel_size)
    A = _validate.real_tensor("A", A)
    names = []
    for row in A.tolist():
        named = []
        for value in row:
            label = round(value)
            if value != label or not 0 <= label <= kh * kw:
                raise ValueError(
                    f"A holds {value}, not an entry of labelled_kernel"
                    f"({(kh, kw)}): 0 or 1..{kh * kw}"
                )
            a, b = divmod(label - 1, kw)
            named.append("0" if label == 0 else f"{name}_{{({a},{b})}}")
        names.append(named)
    return names
