import torch

from hwlib.display import latex_matrix


def test_latex_matrix_numbers_strings_and_vectors():
    assert (
        latex_matrix([[1.0, -0.5], [0.25, 2.0]])
        == r"\begin{bmatrix} 1 & -1/2 \\ 1/4 & 2 \end{bmatrix}"
    )
    assert (
        latex_matrix([["w_{(0,0)}", "0"]], name="A")
        == r"A = \begin{bmatrix} w_{(0,0)} & 0 \end{bmatrix}"
    )
    assert (
        latex_matrix(torch.tensor([1.0, 0.0]))
        == r"\begin{bmatrix} 1 \\ 0 \end{bmatrix}"
    )
    assert (
        latex_matrix([[0.1234567]]) == r"\begin{bmatrix} 0.1235 \end{bmatrix}"
    )


def test_non_finite_entries_are_shown_not_refused():
    got = latex_matrix([[float("nan"), float("inf"), -float("inf")]])
    assert (
        got == r"\begin{bmatrix} \mathrm{NaN} & \infty & -\infty \end{bmatrix}"
    )


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("a dict (its keys would be shown)", lambda: latex_matrix({"a": 1}),
        TypeError, "rows must be a matrix or a vector, got {'a': 1}"),
    ("3-D tensor", lambda: latex_matrix(torch.ones(2, 2, 2)),
        ValueError, "rows must be 1-D or 2-D, got shape (2, 2, 2)"),
    ("a number", lambda: latex_matrix(3.0),
        TypeError, "rows must be a matrix or a vector, got 3.0"),
    ("no rows", lambda: latex_matrix([]),
        ValueError, "rows must hold at least one row, got none"),
    ("ragged rows", lambda: latex_matrix([[1, 2], [3]]),
        ValueError, "rows must all have the same nonzero length, got lengths [2, 1]"),
    ("empty rows", lambda: latex_matrix([[], []]),
        ValueError, "rows must all have the same nonzero length, got lengths [0, 0]"),
    ("bool entry", lambda: latex_matrix([[True, 0.0]]),
        TypeError, "rows: entries must be strings or real numbers, got True"),
    ("complex entry", lambda: latex_matrix([[1j]]),
        TypeError, "rows: entries must be strings or real numbers, got 1j"),
    ("name not a str", lambda: latex_matrix([[1.0]], name=3),
        TypeError, "name must be a str or None, got 3"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)
