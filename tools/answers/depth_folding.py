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
    alone: the check also tries layers such as |3x - 1| and |x / 2|.
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
    """Intervals of (0, 1) that t -> |a_L(...|a_1 t + c_1|...) + c_L| maps
    one-to-one onto (0, 1): one in each linear piece whose image covers
    (0, 1)."""
    pieces = [(Fraction(0), Fraction(1), Fraction(1), Fraction(0))]
    for a, c in chain:  # pieces: (lo, hi, slope, offset) of the map so far
        split = []
        for lo, hi, s, o in pieces:
            s, o = a * s, a * o + c
            zero = -o / s if s else None
            cuts = [lo] + ([zero] if zero and lo < zero < hi else []) + [hi]
            for left, right in zip(cuts, cuts[1:]):
                mid = (left + right) / 2
                sign = 1 if s * mid + o >= 0 else -1
                split.append((left, right, sign * s, sign * o))
        pieces = split
    found = 0
    for lo, hi, s, o in pieces:
        ends = sorted((s * lo + o, s * hi + o))
        found += s != 0 and ends[0] <= 0 and ends[1] >= 1
    return found
    ### END SOLUTION


# %% fold-3-3 check points=2
report = check_identified_regions(count_regions)
print(report)


# %% fold-3-3 mistake
def count_regions(layers):  # the closed form of the fold layer alone
    return 2 ** (len(layers) * layers[0][0].shape[0])
