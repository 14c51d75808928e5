"""Depth: folding space (GT §3-§4): the student's code cells."""

# %% setup
from fractions import Fraction

import torch

from hwlib.check import check_identified_regions


# %% fold-3-3
def count_regions(layers):
    """How many disjoint regions of (0, 1)^d the stack of layers
    h -> |W h + b| maps one-to-one onto (0, 1)^d.

    Inputs:
    - layers: list of pairs (W, b), W a tensor of shape (d, d) with at most
      one nonzero entry in each row and each column, b a tensor of shape
      (d,)

    Returns:
    - count: int

    Count from the layers themselves, not from a formula for the fold layer
    alone: the check also tries layers such as |3x - 1| and |x / 2|. A
    region may be any set, not only one affine piece of the map, and the
    check tries a stack where the two counts differ.
    """
    ### BEGIN SOLUTION
    # each coordinate is folded independently: follow the intervals of
    # (0, 1) that the whole stack maps onto (0, 1), coordinate by coordinate
    d = layers[0][0].shape[0]
    total = 1
    for out in range(d):
        # the chain of (input coordinate, a, c): h_out <- |a h_in + c|
        chain, k = [], out
        for W, b in reversed(layers):
            (cols,) = torch.nonzero(torch.as_tensor(W)[k], as_tuple=True)
            if len(cols) == 0:
                return 0  # a constant coordinate identifies nothing
            j = int(cols[0])
            chain.append((Fraction(float(W[k, j])), Fraction(float(b[k]))))
            k = j
        total *= _count_1d(list(reversed(chain)))
    return total


def _count_1d(chain):
    """The fewest preimages in (0, 1) that a y in (0, 1) has under
    t -> |a_L(...|a_1 t + c_1|...) + c_L|: that many disjoint regions map
    one-to-one onto (0, 1), and no more. The number changes only at the
    values the map takes at 0, 1 and its kinks, so try those and the
    points between them."""
    if any(a == 0 for a, _ in chain):
        return 0  # a constant map identifies nothing
    kinks = {Fraction(0), Fraction(1)}
    for k, (a, c) in enumerate(chain):
        kinks |= set(_preimages(chain[:k], -c / a))  # layer k's kinks
    values = {_apply(chain, t) for t in kinks} | {Fraction(0), Fraction(1)}
    ys = sorted(y for y in values if 0 <= y <= 1)
    ys = ys[1:-1] + [(u + v) / 2 for u, v in zip(ys, ys[1:])]
    return min(len(_preimages(chain, y)) for y in ys)


def _apply(chain, t):
    for a, c in chain:
        t = abs(a * t + c)
    return t


def _preimages(chain, y):
    """Every t in (0, 1) with chain(t) = y: undo |a t + c| = v backwards,
    t = (v - c) / a or (-v - c) / a."""
    ts = [y]
    for a, c in reversed(chain):
        ts = [
            (s * v - c) / a for v in ts if v >= 0 for s in {1, -1 if v else 1}
        ]
    return [t for t in ts if 0 < t < 1]
    ### END SOLUTION


# %% fold-3-3 check points=2
report = check_identified_regions(count_regions)
print(report)


# %% fold-3-3 mistake
def count_regions(layers):  # the closed form of the fold layer alone
    return 2 ** (len(layers) * layers[0][0].shape[0])
