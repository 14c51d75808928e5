"""Convolution and transposed convolution as matrices (seed 004 §1).

For a single-channel input X of shape (H, W) flattened in row-major order (x = X.flatten()),
PyTorch's conv2d (a cross-correlation) is a linear map y = A x:

    Y[p, q] = sum_{a, b} K[a, b] X[p s - pad + a, q s - pad + b]     (terms outside X are 0)

so row p*out_w + q of A holds K[a, b] in column r*W + c for r = p s - pad + a, c = q s - pad + b.
The transposed convolution scatters instead: input pixel (r, c) adds K[a, b] X[r, c] to output
(r s - pad + a, c s - pad + b). For matching sizes it is exactly the transpose (the adjoint):
conv_transpose2d_matrix(K, conv output size) == conv2d_matrix(K, (H, W)).T.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor



def _pair(name: str, value) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def _kernel_shape(kernel) -> tuple[int, int]:
    shape = tuple(kernel.shape) if isinstance(kernel, Tensor) else tuple(kernel)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"the kernel must be 2-D (kh, kw) with positive sizes, got shape {shape}")
    return shape


def _check(kernel_shape, input_size, stride, padding) -> tuple[tuple[int, int], ...]:
    size, s, pad = _pair("input_size", input_size), _pair("stride", stride), _pair("padding", padding)
    if min(size) < 1:
        raise ValueError(f"input_size must be positive, got {size}")
    if min(s) < 1:
        raise ValueError(f"stride must be >= 1, got {s}")
    if min(pad) < 0:
        raise ValueError(f"padding must be >= 0, got {pad}")
    return size, s, pad


def conv2d_output_size(kernel_shape, input_size, stride=1, padding=0) -> tuple[int, int]:
    """floor((H + 2 pad - kh) / s) + 1 along each axis."""
    (h, w), (sh, sw), (ph, pw) = _check(kernel_shape, input_size, stride, padding)
    kh, kw = _kernel_shape(kernel_shape)
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(
            f"the kernel ({kh}, {kw}) is larger than the padded input ({h + 2 * ph}, {w + 2 * pw}) "
            f"= input {(h, w)} with padding {(ph, pw)}"
        )
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def conv_transpose2d_output_size(kernel_shape, input_size, stride=1, padding=0) -> tuple[int, int]:
    """(H - 1) s - 2 pad + kh along each axis (no output padding, no dilation)."""
    (h, w), (sh, sw), (ph, pw) = _check(kernel_shape, input_size, stride, padding)
    kh, kw = _kernel_shape(kernel_shape)
    out = ((h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw)
    if min(out) < 1:
        raise ValueError(
            f"padding {(ph, pw)} is too large for kernel {(kh, kw)}, input {(h, w)} and stride {(sh, sw)}: "
            f"the output would be {out}"
        )
    return out


def _conv_entries(kernel_shape, input_size, stride, padding) -> Iterator[tuple[int, int, int, int]]:
    """(row of A, column of A, a, b): A[row, col] = K[a, b] for the convolution."""
    (h, w), (sh, sw), (ph, pw) = _check(kernel_shape, input_size, stride, padding)
    kh, kw = _kernel_shape(kernel_shape)
    out_h, out_w = conv2d_output_size(kernel_shape, input_size, stride, padding)
    for p in range(out_h):
        for q in range(out_w):
            for a in range(kh):
                for b in range(kw):
                    r, c = p * sh - ph + a, q * sw - pw + b
                    if 0 <= r < h and 0 <= c < w:
                        yield p * out_w + q, r * w + c, a, b


def _transpose_entries(kernel_shape, input_size, stride, padding) -> Iterator[tuple[int, int, int, int]]:
    """(row of A, column of A, a, b): A[row, col] = K[a, b] for the transposed convolution."""
    (h, w), (sh, sw), (ph, pw) = _check(kernel_shape, input_size, stride, padding)
    kh, kw = _kernel_shape(kernel_shape)
    out_h, out_w = conv_transpose2d_output_size(kernel_shape, input_size, stride, padding)
    for r in range(h):
        for c in range(w):
            for a in range(kh):
                for b in range(kw):
                    p, q = r * sh - ph + a, c * sw - pw + b
                    if 0 <= p < out_h and 0 <= q < out_w:
                        yield p * out_w + q, r * w + c, a, b


def _fill(entries, shape, kernel: Tensor) -> Tensor:
    A = torch.zeros(shape, dtype=kernel.dtype)
    for row, col, a, b in entries:
        A[row, col] += kernel[a, b]
    return A


def conv2d_matrix(kernel: Tensor, input_size, stride=1, padding=0) -> Tensor:
    """A with A @ x.flatten() == F.conv2d(x, kernel, stride=stride, padding=padding).flatten().

    Args:
        kernel: (kh, kw), one input and one output channel.
        input_size: (H, W) of the input x.
        stride, padding: ints or pairs, as in torch.nn.functional.conv2d.
    Returns:
        A of shape (out_h * out_w, H * W).
    """
    kernel = torch.as_tensor(kernel)
    out_h, out_w = conv2d_output_size(kernel, input_size, stride, padding)
    h, w = _pair("input_size", input_size)
    return _fill(_conv_entries(kernel, input_size, stride, padding), (out_h * out_w, h * w), kernel)


def conv_transpose2d_matrix(kernel: Tensor, input_size, stride=1, padding=0) -> Tensor:
    """A with A @ x.flatten() == F.conv_transpose2d(x, kernel, stride=stride, padding=padding).flatten().

    Shape (out_h * out_w, H * W) with out = (H - 1) s - 2 pad + kh (no output padding).
    """
    kernel = torch.as_tensor(kernel)
    out_h, out_w = conv_transpose2d_output_size(kernel, input_size, stride, padding)
    h, w = _pair("input_size", input_size)
    return _fill(_transpose_entries(kernel, input_size, stride, padding), (out_h * out_w, h * w), kernel)


def _symbolic(entries, shape, name: str) -> list[list[str]]:
    rows = [["0"] * shape[1] for _ in range(shape[0])]
    for row, col, a, b in entries:
        rows[row][col] = f"{name}_{{({a},{b})}}"
    return rows


def conv2d_matrix_symbolic(kernel_size, input_size, stride=1, padding=0, name: str = "w") -> list[list[str]]:
    """conv2d_matrix with LaTeX names w_{(a,b)} for the kernel entries and "0" elsewhere."""
    kh, kw = _pair("kernel_size", kernel_size)
    out_h, out_w = conv2d_output_size((kh, kw), input_size, stride, padding)
    h, w = _pair("input_size", input_size)
    return _symbolic(_conv_entries((kh, kw), input_size, stride, padding), (out_h * out_w, h * w), name)


def conv_transpose2d_matrix_symbolic(kernel_size, input_size, stride=1, padding=0, name: str = "w") -> list[list[str]]:
    """conv_transpose2d_matrix with LaTeX names w_{(a,b)} for the kernel entries and "0" elsewhere."""
    kh, kw = _pair("kernel_size", kernel_size)
    out_h, out_w = conv_transpose2d_output_size((kh, kw), input_size, stride, padding)
    h, w = _pair("input_size", input_size)
    return _symbolic(_transpose_entries((kh, kw), input_size, stride, padding), (out_h * out_w, h * w), name)

