"""Convolution as a matrix (GT §1): the student's code cells."""

# %% setup
import sympy

from hwlib.check import check_conv_matrix, check_conv_transpose_matrix

# %% conv-1-1
W = sympy.Matrix(3, 3, lambda a, b: sympy.Symbol(f"w_{a}{b}"))


def conv_matrix():
    """The matrix A of the question's convolution, y = A x.

    The kernel is W above (3 x 3 sympy symbols, W[a, b] = w_ab), the input
    X is 3 x 3, stride 2, one ring of zero padding; x and y are X and the
    output flattened row by row.

    Returns:
    - A: a sympy Matrix (or nested lists) of shape (number of outputs, 9)
      whose entries are 0 or entries of W
    """
    ### BEGIN SOLUTION
    size, stride, pad = 3, 2, 1
    out = (size + 2 * pad - 3) // stride + 1
    A = sympy.zeros(out * out, size * size)
    for p in range(out):
        for q in range(out):
            for a in range(3):
                for b in range(3):
                    r, c = p * stride - pad + a, q * stride - pad + b
                    if 0 <= r < size and 0 <= c < size:
                        A[p * out + q, r * size + c] = W[a, b]
    return A
    ### END SOLUTION


# %% conv-1-1 check
try:
    answer = conv_matrix()
except NotImplementedError:  # not answered yet
    answer = None
report = check_conv_matrix(answer, W, (3, 3), stride=2, padding=1)
print(report)


# %% conv-1-1 mistake
def conv_matrix():  # the kernel flipped (a true convolution)
    A = sympy.zeros(4, 9)
    for p in range(2):
        for q in range(2):
            for a in range(3):
                for b in range(3):
                    r, c = 2 * p - 1 + a, 2 * q - 1 + b
                    if 0 <= r < 3 and 0 <= c < 3:
                        A[p * 2 + q, r * 3 + c] = W[2 - a, 2 - b]
    return A


# %% conv-1-2
K = sympy.Matrix(2, 2, lambda a, b: sympy.Symbol(f"w_{a}{b}"))


def transposed_conv_matrix():
    """The matrix A of the question's transposed convolution, y = A x.

    The kernel is K above (2 x 2 sympy symbols), the input X is 2 x 2,
    stride 2, no padding; x and y are X and the output flattened row by
    row.

    Returns:
    - A: a sympy Matrix (or nested lists) of shape (number of outputs, 4)
      whose entries are 0 or entries of K
    """
    ### BEGIN SOLUTION
    size, stride = 2, 2
    out = (size - 1) * stride + 2
    A = sympy.zeros(out * out, size * size)
    for r in range(size):
        for c in range(size):
            for a in range(2):
                for b in range(2):
                    row = (r * stride + a) * out + c * stride + b
                    A[row, r * size + c] += K[a, b]
    return A
    ### END SOLUTION


# %% conv-1-2 check
try:
    answer = transposed_conv_matrix()
except NotImplementedError:  # not answered yet
    answer = None
report = check_conv_transpose_matrix(answer, K, (2, 2), stride=2)
print(report)
