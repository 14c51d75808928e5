import pytest
import torch
import torch.nn.functional as F
from conftest import one_hot_conv_matrix
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import hwlib.conv as conv_module
from hwlib.conv import (
    conv2d_matrix,
    conv2d_matrix_symbolic,
    conv2d_output_size,
    conv_transpose2d_matrix,
    conv_transpose2d_matrix_symbolic,
    conv_transpose2d_output_size,
    entry_names,
    labelled_kernel,
    matrix_from_torch,
)


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 7))
    w = draw(st.integers(max(1, kw - 2 * pw), 7))
    return (kh, kw), (h, w), (sh, sw), (ph, pw)


BUILDERS = {
    "conv2d": (conv2d_matrix, F.conv2d, conv2d_output_size),
    "conv_transpose2d": (
        conv_transpose2d_matrix,
        F.conv_transpose2d,
        conv_transpose2d_output_size,
    ),
}


@pytest.mark.parametrize("op", BUILDERS)
@settings(max_examples=150, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**31 - 1))
def test_matrix_times_input_matches_torch(op, case, seed):
    """A @ x.flatten() equals torch's convolution of x, for both builders."""
    build, torch_op, output_size = BUILDERS[op]
    (kh, kw), (h, w), stride, padding = case
    if op == "conv_transpose2d":  # smaller outputs: the bad-input table
        out_h = (h - 1) * stride[0] - 2 * padding[0] + kh
        out_w = (w - 1) * stride[1] - 2 * padding[1] + kw
        assume(min(out_h, out_w) >= 1)
    g = torch.Generator().manual_seed(seed)
    kernel = torch.randn(kh, kw, generator=g, dtype=torch.float64)
    x = torch.randn(h, w, generator=g, dtype=torch.float64)
    expected = torch_op(
        x[None, None], kernel[None, None], stride=stride, padding=padding
    )
    A = build(kernel, (h, w), stride, padding)
    assert A.shape == (expected.numel(), h * w)
    assert output_size((kh, kw), (h, w), stride, padding) == tuple(
        expected.shape[2:]
    )
    torch.testing.assert_close(A @ x.flatten(), expected.flatten())


def test_output_size_examples_in_the_docstrings_hold():
    import doctest

    import hwlib.conv

    result = doctest.testmod(hwlib.conv)
    assert result.attempted >= 2 and result.failed == 0


@st.composite
def fitting_axis(draw):
    """(k, n, s, p, o) along one axis with the stride dividing n + 2p - k:
    the output size o is drawn and the input n = (o - 1) s - 2p + k
    derived, so no draw is rejected."""
    k, s, o = (
        draw(st.integers(1, 4)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 5)),
    )
    p = draw(st.integers(0, min(2, ((o - 1) * s + k - 1) // 2)))
    n = (o - 1) * s - 2 * p + k
    return k, n, s, p, o


@st.composite
def fitting_cases(draw):
    rows, cols = draw(fitting_axis()), draw(fitting_axis())
    return tuple(zip(rows, cols))  # (kernel, size, stride, padding, out)


@settings(max_examples=100, deadline=None)
@given(fitting_cases())
def test_transposed_matrix_is_the_transpose(case):
    """conv_transpose2d from the conv's output size gives back (H, W)
    exactly when the stride divides (H + 2 pad - kh): then the two
    matrices are each other's transpose."""
    kernel_size, size, stride, padding, out = case
    assert min(size) >= 1
    kernel = torch.arange(1.0, kernel_size[0] * kernel_size[1] + 1).reshape(
        kernel_size
    )
    A = conv2d_matrix(kernel, size, stride, padding)
    assert conv2d_output_size(kernel_size, size, stride, padding) == out
    assert conv_transpose2d_output_size(
        kernel_size, out, stride, padding
    ) == tuple(size)
    torch.testing.assert_close(
        conv_transpose2d_matrix(kernel, out, stride, padding), A.T
    )


@settings(max_examples=100, deadline=None)
@given(conv_cases())
def test_transposed_matrix_is_the_transpose_on_its_output_size(case):
    """For every input size (h, w), not only fitting ones: the transposed
    convolution's matrix is the transpose of the convolution's on the
    transposed output size (the module docstring's claim); the converse
    fails when the stride does not divide H + 2 pad - kh."""
    kernel_size, size, stride, padding = case
    out = tuple(
        (n - 1) * s - 2 * p + k
        for n, s, p, k in zip(size, stride, padding, kernel_size)
    )
    assume(min(out) >= 1)
    kernel = torch.arange(1.0, kernel_size[0] * kernel_size[1] + 1)
    kernel = kernel.reshape(kernel_size)
    A_t = conv_transpose2d_matrix(kernel, size, stride, padding)
    A = conv2d_matrix(kernel, out, stride, padding)
    torch.testing.assert_close(A_t, A.T)


def test_the_converse_needs_the_stride_to_divide():
    """H = 5, k = 2, s = 2: conv2d gives 2, conv_transpose2d of 2 gives 4."""
    kernel = torch.ones(2, 2)
    assert conv2d_output_size(2, (5, 5), stride=2) == (2, 2)
    assert conv_transpose2d_output_size(2, (2, 2), stride=2) == (4, 4)
    A_t = conv_transpose2d_matrix(kernel, (2, 2), stride=2)
    assert A_t.shape != conv2d_matrix(kernel, (5, 5), stride=2).T.shape


@settings(max_examples=60, deadline=None)
@given(fitting_axis(), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_matrices_equal_the_one_hot_reference(axis, kw, seed):
    """Square inputs: both matrices entry by entry against conv2d of one-hot
    images (conftest.one_hot_conv_matrix, torch alone), exactly."""
    k, n, stride, padding, out = axis
    g = torch.Generator().manual_seed(seed)
    kernel = torch.randint(-9, 10, (k, k), generator=g).double()
    reference = one_hot_conv_matrix(kernel, n, stride, padding)
    assert torch.equal(conv2d_matrix(kernel, n, stride, padding), reference)
    transposed = conv_transpose2d_matrix(kernel, out, stride, padding)
    assert torch.equal(transposed, reference.T)
    # a kernel of another width on the same input
    wide = torch.randint(-9, 10, (k, min(kw, n + 2 * padding)), generator=g)
    reference = one_hot_conv_matrix(wide.double(), n, stride, padding)
    A = conv2d_matrix(wide.double(), n, stride, padding)
    assert torch.equal(A, reference)


def test_seed_answer_1_stride_2_padding_1():
    """The 3x3 kernel on a 3x3 input with stride 2 and padding 1 (GT PS2 §1.1), by hand."""
    rows = conv2d_matrix_symbolic(3, (3, 3), stride=2, padding=1)

    def w(a, b):
        return f"w_{{({a},{b})}}"

    assert rows == [
        [w(1, 1), w(1, 2), "0", w(2, 1), w(2, 2), "0", "0", "0", "0"],
        ["0", w(1, 0), w(1, 1), "0", w(2, 0), w(2, 1), "0", "0", "0"],
        ["0", "0", "0", w(0, 1), w(0, 2), "0", w(1, 1), w(1, 2), "0"],
        ["0", "0", "0", "0", w(0, 0), w(0, 1), "0", w(1, 0), w(1, 1)],
    ]


def test_seed_answer_2_transposed_stride_2():
    """The 2x2 kernel on a 2x2 input, stride 2, no padding (GT PS2 §1.2): each pixel stamps K."""
    rows = conv_transpose2d_matrix_symbolic(2, (2, 2), stride=2)
    assert len(rows) == 16 and len(rows[0]) == 4
    for r in range(2):
        for c in range(2):
            for a in range(2):
                for b in range(2):
                    out = (2 * r + a) * 4 + (2 * c + b)
                    assert rows[out][r * 2 + c] == f"w_{{({a},{b})}}"
                    assert (
                        sum(v != "0" for v in rows[out]) == 1
                    )  # no overlap at stride 2


def test_symbolic_matches_numeric_pattern():
    kernel = torch.arange(1.0, 10.0).reshape(3, 3)
    A = conv2d_matrix(kernel, (5, 4), stride=(2, 1), padding=(1, 0))
    S = conv2d_matrix_symbolic((3, 3), (5, 4), stride=(2, 1), padding=(1, 0))
    for i, row in enumerate(S):
        for j, name in enumerate(row):
            expected = (
                0.0
                if name == "0"
                else kernel[int(name[4]), int(name[6])].item()
            )
            assert A[i, j].item() == expected


def test_kernel_size_as_int_or_pair_and_int_kernels():
    assert (
        conv2d_output_size(3, (5, 5))
        == (3, 3)
        == conv2d_output_size((3, 3), [5, 5])
    )
    assert conv_transpose2d_output_size(2, 2, stride=2) == (4, 4)
    k = torch.tensor([[1, 2], [3, 4]])  # integer kernels stay exact
    x = torch.arange(9.0).reshape(3, 3)
    expected = F.conv2d(x[None, None], k[None, None].float()).flatten()
    A = conv2d_matrix(k, (3, 3))
    assert A.dtype == torch.int64
    torch.testing.assert_close(A.float() @ x.flatten(), expected)


K = torch.ones(3, 3)
# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    # (what, call, error, fragment of the message)
    ("kernel larger than input", lambda: conv2d_output_size(5, (3, 3)),
        ValueError, "kernel (5, 5) is larger than the padded input (3, 3)"),
    ("kernel larger than padded", lambda: conv2d_matrix(K, (2, 2)),
        ValueError, "kernel (3, 3) is larger than the padded input (2, 2)"),
    ("stride 0", lambda: conv2d_matrix(K, (5, 5), stride=0),
        ValueError, "stride must be >= 1 (an int or a pair), got 0"),
    ("negative stride", lambda: conv2d_output_size(3, 5, stride=(1, -2)),
        ValueError, "stride must be >= 1 (an int or a pair), got (1, -2)"),
    ("negative padding", lambda: conv2d_matrix(K, (5, 5), padding=-1),
        ValueError, "padding must be >= 0 (an int or a pair), got -1"),
    ("float stride", lambda: conv2d_matrix(K, (5, 5), stride=1.5),
        TypeError, "stride must be an int or a pair of ints, got 1.5"),
    ("bool stride", lambda: conv2d_output_size(3, 5, stride=True),
        TypeError, "stride must be an int or a pair of ints, got True"),
    ("three strides", lambda: conv2d_matrix(K, (5, 5), stride=(1, 2, 3)),
        TypeError, "stride must be an int or a pair of ints, got (1, 2, 3)"),
    ("kernel_size 0", lambda: conv2d_output_size(0, (5, 5)),
        ValueError, "kernel_size must be >= 1 (an int or a pair), got 0"),
    ("kernel_size of 1 axis", lambda: conv2d_output_size((3,), (5, 5)),
        TypeError, "kernel_size must be an int or a pair of ints, got (3,)"),
    ("kernel_size a tensor", lambda: conv2d_output_size(K, (5, 5)),
        TypeError, "kernel_size must be an int or a pair of ints"),
    ("empty input", lambda: conv2d_matrix(K, (0, 5)),
        ValueError, "input_size must be >= 1 (an int or a pair), got (0, 5)"),
    ("float input size", lambda: conv2d_output_size(3, (5.0, 5)),
        TypeError, "input_size must be an int or a pair of ints, got (5.0, 5)"),
    ("str input size", lambda: conv2d_output_size(3, "55"),
        TypeError, "input_size must be an int or a pair of ints, got '55'"),
    ("transposed padding", lambda: conv_transpose2d_matrix(torch.ones(2, 2), (1, 1), padding=1),
        ValueError, "padding (1, 1) is too large for kernel (2, 2)"),
    ("4-D kernel", lambda: conv2d_matrix(torch.ones(1, 1, 3, 3), (5, 5)),
        ValueError, "kernel must be 2-D (kh, kw) with positive sizes"),
    ("empty kernel", lambda: conv2d_matrix(torch.ones(0, 3), (5, 5)),
        ValueError, "got shape (0, 3)"),
    ("NaN kernel", lambda: conv2d_matrix(torch.tensor([[float("nan")]]), 3),
        ValueError, "kernel must be finite, got 1 NaN/inf entries (shape (1, 1))"),
    ("bool kernel", lambda: conv2d_matrix(torch.ones(2, 2).bool(), 3),
        TypeError, "kernel must hold real numbers, got torch.bool"),
    ("str kernel", lambda: conv2d_matrix("abc", (5, 5)),
        TypeError, "kernel must be a tensor of numbers, got str"),
    ("name not str", lambda: conv2d_matrix_symbolic(3, (3, 3), name=5),
        TypeError, "name must be a str, got 5"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


@pytest.mark.parametrize(
    "build",
    [
        conv2d_matrix,
        conv_transpose2d_matrix,
        conv2d_matrix_symbolic,
        conv_transpose2d_matrix_symbolic,
    ],
)
def test_matrices_beyond_the_limit_are_refused_before_allocating(build):
    """300 x 300 inputs: a (90000 x ~90000) matrix, refused with the limit."""
    kernel = K if "symbolic" not in build.__name__ else 3
    with pytest.raises(ValueError, match="more than MAX_MATRIX_ENTRIES"):
        build(kernel, (300, 300))


# --- the torch reference the chapter checks against, and its mutations ---


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), transpose=st.booleans())
def test_symbolic_matrices_equal_the_names_read_off_torch(case, transpose):
    """Symbolic builders against matrix_from_torch (F.conv2d or
    F.conv_transpose2d of one-hot images) with the labelled kernel."""
    kernel_size, size, stride, padding = case
    symbolic = (
        conv_transpose2d_matrix_symbolic
        if transpose
        else conv2d_matrix_symbolic
    )
    try:
        rows = symbolic(kernel_size, size, stride, padding)
    except ValueError:
        assume(False)  # a padding too large for the transposed output
    kernel = labelled_kernel(kernel_size)
    A = matrix_from_torch(kernel, size, stride, padding, transpose=transpose)
    assert entry_names(A, kernel_size) == rows
    build = conv_transpose2d_matrix if transpose else conv2d_matrix
    assert torch.equal(build(kernel, size, stride, padding), A)


ENTRIES = conv_module._entries  # the builders' one formula


def _shifted_entries(g, *, transpose):
    """A classic slip: each weight lands one column late."""
    for row, col, a, b in ENTRIES(g, transpose=transpose):
        yield row, (col + 1) % (g.size[0] * g.size[1]), a, b


def _flipped_entries(g, *, transpose):
    """Another: a true convolution, the kernel flipped."""
    kh, kw = g.kernel
    for row, col, a, b in ENTRIES(g, transpose=transpose):
        yield row, col, kh - 1 - a, kw - 1 - b


@pytest.mark.parametrize("mutant", [_shifted_entries, _flipped_entries])
def test_the_chapter_checks_fail_when_the_builders_are_wrong(
    monkeypatch, mutant
):
    """The conv_matrix chapter's checks compare with torch, not with a
    retyped formula: a broken builder makes each of them fire."""
    from hwlib.book import ClaimFailed, checked

    monkeypatch.setattr(conv_module, "_entries", mutant)
    symbolic = conv2d_matrix_symbolic(3, (3, 3), stride=2, padding=1)
    A = matrix_from_torch(labelled_kernel(3), (3, 3), stride=2, padding=1)
    with pytest.raises(ClaimFailed):
        checked(symbolic == entry_names(A, 3), "the symbolic A is torch's")
    kernel = labelled_kernel(2)
    symbolic_t = conv_transpose2d_matrix_symbolic(2, (2, 2), stride=2)
    A_t = matrix_from_torch(kernel, (2, 2), stride=2, transpose=True)
    with pytest.raises(ClaimFailed):
        checked(symbolic_t == entry_names(A_t, 2), "A_t is torch's")
    with pytest.raises(ClaimFailed):
        built = conv_transpose2d_matrix(kernel, (2, 2), stride=2)
        checked(torch.equal(built, A_t), "the numeric A_t is torch's")
    # §1.1's true-convolution cell: the flipped kernel's matrix against
    # SciPy's convolve2d (which flips) on the padded input, every 2nd window
    from scipy.signal import convolve2d

    g = torch.Generator().manual_seed(0)
    kernel, x = torch.randn(3, 3, generator=g), torch.randn(3, 3, generator=g)
    padded = F.pad(x, (1, 1, 1, 1)).numpy()
    true_conv = convolve2d(padded, kernel.numpy(), mode="valid")[::2, ::2]
    A_flip = conv2d_matrix(kernel.flip(0, 1), (3, 3), stride=2, padding=1)
    with pytest.raises(ClaimFailed):
        reference = torch.tensor(true_conv).flatten()
        checked(torch.allclose(A_flip @ x.flatten(), reference), "true conv")


def test_entry_names_refuses_a_matrix_not_built_from_the_labels():
    assert entry_names(torch.tensor([[0.0, 2.0]]), (1, 2)) == [
        ["0", "w_{(0,1)}"]
    ]
    with pytest.raises(ValueError, match="not an entry of labelled_kernel"):
        entry_names(torch.tensor([[0.5]]), 2)
    with pytest.raises(ValueError, match="not an entry of labelled_kernel"):
        entry_names(torch.tensor([[5.0]]), 2)
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        matrix_from_torch(torch.ones(3), 3)
