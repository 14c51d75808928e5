"""Logic with neurons (MIT Q7, GT §2): the student's code cells."""

# %% setup

from hwlib.check import check_gate, check_threshold_neuron
from hwlib.networks import FeedForwardNetwork


# %% logic-2-1
def and_unit():
    """Weights and bias of a threshold neuron that computes AND.

    The neuron outputs 1 when w^T x + b >= 0 and 0 otherwise, on the four
    inputs x in {0, 1}^2.

    Returns:
    - w: a sequence (or tensor) of 2 numbers
    - b: a number
    """
    ### BEGIN SOLUTION
    return [1.0, 1.0], -1.5
    ### END SOLUTION


def or_unit():
    """Weights and bias of a threshold neuron that computes OR (as
    and_unit: returns w, a sequence of 2 numbers, and b, a number)."""
    ### BEGIN SOLUTION
    return [1.0, 1.0], -0.5
    ### END SOLUTION


# %% logic-2-1 check
try:
    w, b = and_unit()
except NotImplementedError:  # not answered yet
    w, b = None, None
report = check_threshold_neuron(w, b, "and")
print(report)

# %% logic-2-1 check
try:
    w, b = or_unit()
except NotImplementedError:  # not answered yet
    w, b = None, None
report = check_threshold_neuron(w, b, "or")
print(report)


# %% logic-2-1 mistake
def and_unit():  # the bias of OR: (0, 1) and (1, 0) pass too
    return [1.0, 1.0], -0.5


# %% logic-q7a
def or_net():
    """Your OR network on real inputs.

    Returns:
    - net: FeedForwardNetwork(weights, biases) (hwlib.networks, ReLU
      activations) with weights [W1 (2, 2), W2 (1, 2)] and biases
      [b1 (2,), b2 (1,)], whose output on a batch x of shape (N, 2) is
      positive exactly where x1 > 0 or x2 > 0. (Any function of a float64
      batch (N, 2) returning (N,) or (N, 1) values is accepted too.)
    """
    ### BEGIN SOLUTION
    return FeedForwardNetwork(
        [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]]
    )
    ### END SOLUTION


# %% logic-q7a check
try:
    net = or_net()
except NotImplementedError:  # not answered yet
    net = None
report = check_gate(net, "or")
print(report)


# %% logic-q7b
def xor_net():
    """Your XOR network on real inputs.

    Returns:
    - net: a FeedForwardNetwork with at most three layers of width at most
      4 (or a function, as for or_net) whose output on x of shape (N, 2)
      is positive exactly where x1 and x2 have strictly opposite signs
      (never on the axes).
    """
    ### BEGIN SOLUTION
    # min(a, b) = a - relu(a - b) for a, b >= 0:
    # f = min(relu(x1), relu(-x2)) + min(relu(-x1), relu(x2))
    w1 = [[1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [0.0, 1.0]]
    w2 = [
        [1.0, 0.0, 0.0, 0.0],
        [1.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0, -1.0],
    ]
    w3 = [[1.0, -1.0, 1.0, -1.0]]
    return FeedForwardNetwork([w1, w2, w3], [[0.0] * 4, [0.0] * 4, [0.0]])
    ### END SOLUTION


# %% logic-q7b check
try:
    net = xor_net()
except NotImplementedError:  # not answered yet
    net = None
report = check_gate(net, "xor")
print(report)


# %% logic-q7c
def nand_net():
    """Your NAND network on bits.

    Returns:
    - net: a FeedForwardNetwork (or a function, as for or_net) whose
      output on the four inputs (0, 0), (0, 1), (1, 0), (1, 1) is exactly
      1, 1, 1, 0.
    """
    ### BEGIN SOLUTION
    return FeedForwardNetwork([[[1.0, 1.0]], [[-1.0]]], [[-1.0], [1.0]])
    ### END SOLUTION


# %% logic-q7c check
try:
    net = nand_net()
except NotImplementedError:  # not answered yet
    net = None
report = check_gate(net, "nand")
print(report)
