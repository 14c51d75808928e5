import torch

from hwlib.display import latex_matrix


def test_latex_matrix_numbers_strings_and_vectors():
    assert latex_matrix([[1.0, -0.5], [0.25, 2.0]]) == r"\begin{bmatrix} 1 & -1/2 \\ 1/4 & 2 \end{bmatrix}"
    assert latex_matrix([["w_{(0,0)}", "0"]], name="A") == r"A = \begin{bmatrix} w_{(0,0)} & 0 \end{bmatrix}"
    assert latex_matrix(torch.tensor([1.0, 0.0])) == r"\begin{bmatrix} 1 \\ 0 \end{bmatrix}"
    assert latex_matrix([[0.1234567]]) == r"\begin{bmatrix} 0.1235 \end{bmatrix}"
