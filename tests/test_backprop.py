import pytest
import torch

from hwlib.backprop import (
    heaviside,
    residual_relu_forward,
    residual_relu_grad,
    residual_relu_grad_hoisted,
    residual_relu_grad_loop,
    residual_relu_loss,
)


def random_problem(d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, d, generator=g, dtype=torch.float64), torch.randn(
        d, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 16])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_matches_autograd(d, seed):
    W, x = random_problem(d, seed)
    W.requires_grad_(True)
    (expected,) = torch.autograd.grad(residual_relu_loss(W, x), W)
    torch.testing.assert_close(residual_relu_grad(W.detach(), x), expected)


def autograd_of_the_loss(W, x):
    """dL/dW by autograd, L written out here: 1/2 ||relu(Wx) + W relu(Wx)||^2."""
    W = W.detach().clone().requires_grad_(True)
    u = torch.relu(W @ x)
    (grad,) = torch.autograd.grad(0.5 * (u + W @ u).square().sum(), W)
    return grad


@pytest.mark.parametrize("d", [1, 3, 6])
@pytest.mark.parametrize("seed", [0, 7])
def test_index_loop_matches_autograd(d, seed):
    W, x = random_problem(d, seed)
    assert (W @ x != 0).all()  # off the kinks: Θ(0) plays no part
    torch.testing.assert_close(
        residual_relu_grad_loop(W, x), autograd_of_the_loss(W, x)
    )
    torch.testing.assert_close(
        residual_relu_grad_hoisted(W, x), autograd_of_the_loss(W, x)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_gradient_stays_on_the_device_and_dtype_of_w(device, dtype):
    W, x = (t.to(device, dtype) for t in random_problem(3, 5))
    expected = autograd_of_the_loss(W, x)
    for grad in (
        residual_relu_grad(W, x),
        residual_relu_grad_loop(W, x),
        residual_relu_grad_hoisted(W, x),
    ):
        assert grad.device == W.device and grad.dtype == dtype
        torch.testing.assert_close(grad, expected)


def test_gradcheck_of_the_loss():
    W, x = random_problem(4, 3)
    assert torch.autograd.gradcheck(
        lambda w: residual_relu_loss(w, x), (W.requires_grad_(True),)
    )


def test_forward_intermediates():
    W = torch.tensor([[1.0, -2.0], [0.5, 1.0]], dtype=torch.float64)
    x = torch.tensor([1.0, 1.0], dtype=torch.float64)
    y, u, v, loss = residual_relu_forward(W, x)
    torch.testing.assert_close(
        y, torch.tensor([-1.0, 1.5], dtype=torch.float64)
    )
    torch.testing.assert_close(
        u, torch.tensor([0.0, 1.5], dtype=torch.float64)
    )
    torch.testing.assert_close(
        v, torch.tensor([-3.0, 3.0], dtype=torch.float64)
    )  # u + W u
    assert loss.item() == 9.0


def test_heaviside_convention_at_zero():
    assert heaviside(torch.tensor([-1.0, 0.0, 2.0])).tolist() == [
        0.0,
        1.0,
        1.0,
    ]
    # at y = 0 the seed's Θ(0) = 1 keeps the x-term; autograd's relu'(0) = 0 drops it
    W = torch.tensor([[1.0, -1.0], [0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([1.0, 1.0], dtype=torch.float64)  # y_1 = 0 exactly
    y, u, v, _ = residual_relu_forward(W, x)
    assert y[0] == 0
    expected = torch.outer(v, u) + torch.outer(heaviside(y) * (v + W.T @ v), x)
    torch.testing.assert_close(residual_relu_grad(W, x), expected)
    # the same by autograd, with a ReLU whose derivative at 0 is 1: the
    # branch y of where(y >= 0, y, 0) is taken at y = 0
    Wg = W.clone().requires_grad_(True)
    yg = Wg @ x
    ug = torch.where(yg >= 0, yg, torch.zeros_like(yg))
    (theta_one,) = torch.autograd.grad(0.5 * (ug + Wg @ ug).square().sum(), Wg)
    for grad in (
        residual_relu_grad(W, x),
        residual_relu_grad_loop(W, x),
        residual_relu_grad_hoisted(W, x),
    ):
        torch.testing.assert_close(grad, theta_one)
        assert not torch.allclose(grad, autograd_of_the_loss(W, x))


W2, X2 = torch.ones(2, 2), torch.ones(2)
# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("W not square", lambda: residual_relu_grad(torch.ones(2, 3), torch.ones(3)),
        ValueError, "W must be a square matrix (d, d), got shape (2, 3)"),
    ("x too long", lambda: residual_relu_grad(W2, torch.ones(3)),
        ValueError, "x must be a vector of shape (2,) to match W (2, 2), got (3,)"),
    ("x a column", lambda: residual_relu_loss(W2, torch.ones(2, 1)),
        ValueError, "x must be a vector of shape (2,)"),
    ("empty W", lambda: residual_relu_grad(torch.ones(0, 0), torch.ones(0)),
        ValueError, "W must be a square matrix (d, d), got shape (0, 0)"),
    ("dtypes differ", lambda: residual_relu_grad(W2.double(), X2),
        TypeError, "x (torch.float32 on cpu) must match W (torch.float64 on cpu); convert with x.to('cpu', torch.float64)"),
    ("integer W", lambda: residual_relu_forward(W2.long(), X2),
        TypeError, "W must be a floating torch.Tensor, got torch.int64"),
    ("list x", lambda: residual_relu_grad_loop(W2, [1.0, 1.0]),
        TypeError, "x must be a floating torch.Tensor, got list"),
    ("NaN in W", lambda: residual_relu_grad(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), X2),
        ValueError, "W must be finite"),
    ("inf in x", lambda: residual_relu_grad(W2, torch.tensor([1.0, float("inf")])),
        ValueError, "x must be finite"),
    ("heaviside of NaN", lambda: heaviside(torch.tensor([float("nan")])),
        ValueError, "y must not contain NaN"),
    ("heaviside of ints", lambda: heaviside(torch.tensor([1, -1])),
        TypeError, "y must be a floating torch.Tensor"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


def _one_sided(W, x, E, side, h=1e-7):
    """(L(W + side h E) - L(W)) / (side h): a one-sided derivative along E."""
    step = side * h
    return float(
        (residual_relu_loss(W + step * E, x) - residual_relu_loss(W, x)) / step
    )


def test_not_differentiable_where_y_k_is_zero():
    """At y_1 = 0 the one-sided derivatives along E = e_1 x^T (which moves
    y_1 by t ||x||^2) differ by ((I + W^T) v)_1 ||x||^2: no gradient exists.
    Θ(0) = 1 gives the side y_1 > 0, autograd the side y_1 < 0."""
    W, x = random_problem(4, 11)
    W[0] = 0.0
    E = torch.zeros_like(W)
    E[0] = x
    v = residual_relu_forward(W, x).v
    jump = float(((v + W.T @ v)[0]) * (x @ x))
    right, left = _one_sided(W, x, E, 1), _one_sided(W, x, E, -1)
    assert abs(right - left - jump) < 1e-4 and abs(jump) > 1e-2
    assert abs(float((residual_relu_grad(W, x) * E).sum()) - right) < 1e-4
    assert abs(float((autograd_of_the_loss(W, x) * E).sum()) - left) < 1e-4
