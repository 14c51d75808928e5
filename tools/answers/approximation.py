"""Approximation with ReLU networks (MIT Q1-Q6): the student's code cells."""

# %% setup
import matplotlib.pyplot as plt
import torch

from hwlib.check import check_kinks
from hwlib.networks import FeedForwardNetwork


def plot_network(net, lo=-5.0, hi=5.0, label=None):
    """Plot a network R -> R (FeedForwardNetwork) on [lo, hi]."""
    xs = torch.linspace(lo, hi, 1001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        plt.plot(xs[:, 0], net(xs)[:, 0], label=label)
    plt.xlabel("x")
    if label:
        plt.legend()


# %% approx-q5
def linear_net():
    """Your answer to (a): a width-2 network without biases whose output
    is linear on [-5, 5].

    Returns:
    - net: FeedForwardNetwork([W1, W2], [b1, b2]) with W1 of shape (2, 1),
      W2 of shape (1, 2), and zero biases b1 (2,) and b2 (1,)
    """
    ### BEGIN SOLUTION
    return FeedForwardNetwork(
        [[[1.0], [-1.0]], [[1.0, -1.0]]], [[0.0, 0.0], [0.0]]
    )
    ### END SOLUTION


def convex_net():
    """Your answer to (c): a width-2 network without biases whose output
    is convex but not linear on [-5, 5] (a FeedForwardNetwork, as for
    linear_net)."""
    ### BEGIN SOLUTION
    return FeedForwardNetwork(
        [[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]]
    )
    ### END SOLUTION


# %% approx-q5 check
try:
    net = convex_net()
except NotImplementedError:  # not answered yet
    net = None
report = check_kinks([0.0], net, -5, 5)  # without biases a kink sits at 0
print(report)


# %% approx-q5 mistake
def convex_net():  # relu(x) - relu(-x) = x: linear, no kink
    return FeedForwardNetwork(
        [[[1.0], [-1.0]], [[1.0, -1.0]]], [[0.0, 0.0], [0.0]]
    )


# %% approx-q5
try:
    plot_network(linear_net(), label="(a)")
    plot_network(convex_net(), label="(c)")
    plt.show()
except NotImplementedError:
    print("write linear_net and convex_net above first")
