"""Backpropagation by hand (MIT Q8): the student's code cells."""

# %% setup
import torch

from hwlib.check import check_gradient_formula


# %% backprop-q8b
def grad_W(W, x):
    """The gradient of L with respect to W, from your matrix formula.

    Inputs:
    - W: tensor of shape (d, d), the weight matrix (used twice: y = W x and
      the residual branch W u)
    - x: tensor of shape (d,), the input

    Returns:
    - dW: tensor of shape (d, d), dW[i, j] = dL/dW_ij, with Θ(0) = 1 as in
      the question

    Use tensor operations (no loops over entries, no autograd).
    """
    ### BEGIN SOLUTION
    y = W @ x
    u = y.clamp(min=0)
    v = u + W @ u
    step = (y >= 0).to(W.dtype)
    return torch.outer(v, u) + torch.outer(step * (v + W.T @ v), x)
    ### END SOLUTION


# %% backprop-q8b check points=2
report = check_gradient_formula(grad_W)
print(report)


# %% backprop-q8b mistake
def grad_W(W, x):  # the residual branch only: the first use of W is missed
    y = W @ x
    u = y.clamp(min=0)
    return torch.outer(u + W @ u, u)
