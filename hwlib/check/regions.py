"""Networks as exact piecewise-linear maps, kinks (MIT Q4-Q5) and
identified regions (GT §3): exact rational arithmetic, written here.

`layers_of` reads a network of the course's form, duck-typed: an object
with .weights, .biases and .activation ("relu" or "abs"; hwlib's
FeedForwardNetwork) or an nn.Sequential of Linear and ReLU layers. Its
float weights are read as exact fractions, so values are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import torch
from torch import nn

from .calling import FAILED, Topic, guarded
from .compare import as_tensor, fmt, fmt_array
from .report import Report, name_of

Layer = tuple[list[list[Fraction]], list[Fraction]]


def _exact(t) -> list:
    return [
        _exact(v) if isinstance(v, list) else Fraction(v)
        for v in torch.as_tensor(t).detach().double().tolist()
    ]


def layers_of(net) -> tuple[list[Layer], str] | None:
    """(layers [(W, b), ...] as fractions, activation), or None when net is
    not a network of the course's form."""
    try:
        if isinstance(net, nn.Sequential):
            mods = list(net)
            linear = mods[0::2]
            gaps = mods[1::2]
            if not (
                all(type(m) is nn.Linear for m in linear)
                and all(type(m) is nn.ReLU for m in gaps)
                and len(linear) == len(gaps) + 1
            ):
                return None
            pairs = [(m.weight, m.bias) for m in linear]
            activation = "relu"
        elif all(hasattr(net, a) for a in ("weights", "biases", "activation")):
            pairs = list(zip(net.weights, net.biases))
            activation = net.activation
            if activation not in ("relu", "abs", "tanh"):
                return None
        else:
            return None
        return [(_exact(w), _exact(b)) for w, b in pairs], activation
    except Exception:  # anything unreadable is not of the form
        return None


def evaluate(layers: list[Layer], activation: str, x: list[Fraction]) -> list:
    """The network's output at one point, exactly."""
    h = list(x)
    for i, (w, b) in enumerate(layers):
        h = [
            sum((wi * hi for wi, hi in zip(row, h)), bi)
            for row, bi in zip(w, b)
        ]
        if i < len(layers) - 1:
            h = [abs(v) if activation == "abs" else max(v, 0) for v in h]
    return h


def kinks_1d(layers: list[Layer], activation: str, lo, hi) -> list[Fraction]:
    """The points of (lo, hi) where a network R -> R is not differentiable:
    ends shared by consecutive affine pieces of different slopes."""
    pieces = [(Fraction(lo), Fraction(hi), [Fraction(1)], [Fraction(0)])]
    for i, (w, b) in enumerate(layers):
        last = i == len(layers) - 1
        step = []
        for left, right, s, c in pieces:  # h = s * x + c on (left, right)
            s2 = [
                sum((r * v for r, v in zip(row, s)), Fraction(0)) for row in w
            ]
            c2 = [
                sum((r * v for r, v in zip(row, c)), bi)
                for row, bi in zip(w, b)
            ]
            cuts = sorted(
                {
                    -cj / sj
                    for sj, cj in zip(s2, c2)
                    if sj and left < -cj / sj < right
                }
            )
            ends = [left, *cuts, right]
            for a, z in zip(ends, ends[1:]):
                mid = (a + z) / 2
                keep = [
                    last or activation == "abs" or sj * mid + cj > 0
                    for sj, cj in zip(s2, c2)
                ]
                sign = [
                    1
                    if last or activation != "abs" or sj * mid + cj >= 0
                    else -1
                    for sj, cj in zip(s2, c2)
                ]
                step.append(
                    (
                        a,
                        z,
                        [sj * k * g for sj, k, g in zip(s2, keep, sign)],
                        [cj * k * g for cj, k, g in zip(c2, keep, sign)],
                    )
                )
        pieces = step
    return [p[1] for p, q in zip(pieces, pieces[1:]) if p[2] != q[2]]


@guarded
def check_kinks(points, net, lo: float, hi: float) -> Report:
    """Your list of the points of (lo, hi) where `net` (R -> R) is not
    differentiable, against the exact ones (1e-9 apart counts as equal)."""
    report = Report(f"check_kinks(points on ({fmt(lo)}, {fmt(hi)}))")
    read = layers_of(net)
    if read is None or len(read[0][0][0][0]) != 1:
        report.add(
            "reading the network",
            False,
            "expected a network R -> R of the course's form, got "
            f"{name_of(net)}",
        )
        return report
    exact = (
        [float(p) for p in kinks_1d(*read, lo, hi)]
        if read[1] != "tanh"
        else []
    )
    try:
        yours = sorted(float(p) for p in as_tensor(points).reshape(-1))
    except Exception as err:  # reported
        report.add(
            "reading the points",
            False,
            f"expected a list of numbers, got {type(points).__name__} ({err})",
        )
        return report
    missing = [t for t in exact if not any(abs(t - p) < 1e-9 for p in yours)]
    extra = [p for p in yours if not any(abs(t - p) < 1e-9 for t in exact)]
    report.add(
        "number of kinks",
        len(yours) == len(exact),
        f"you listed {len(yours)}, the network has {len(exact)}",
    )
    report.add(
        "no kink missing",
        not missing,
        f"missing {fmt_array(missing)}" if missing else "",
    )
    report.add(
        "no extra points",
        not extra,
        f"not kinks: {fmt_array(extra)}" if extra else "",
    )
    return report


def _fold_pieces(chain: list[tuple[Fraction, Fraction]]):
    """The affine pieces (a, z, s, c) of x -> |w_L ... |w_1 x + b_1| ... +
    b_L| on (0, 1), value s x + c on the open interval (a, z), enumerated
    one by one (brute force), and the cut points between them."""
    pieces = [(Fraction(0), Fraction(1), Fraction(1), Fraction(0))]
    for w, b in chain:
        step = []
        for left, right, s, c in pieces:
            s, c = w * s, w * c + b
            ends = [left, right]
            if s and left < -c / s < right:
                ends = [left, -c / s, right]
            for a, z in zip(ends, ends[1:]):
                g = 1 if s * (a + z) / 2 + c >= 0 else -1
                step.append((a, z, g * s, g * c))
        pieces = step
    cuts = sorted({a for a, *_ in pieces} - {Fraction(0)})
    return pieces, cuts


def _preimages(pieces, cuts, y: Fraction) -> int | None:
    """#{x in (0, 1) : F(x) = y}, counted root by root; None if infinite
    (a constant piece takes the value y)."""
    count = 0
    for a, z, s, c in pieces:
        if s == 0 and c == y:
            return None
        count += s != 0 and a < (y - c) / s < z
    for x in cuts:
        a, z, s, c = next(p for p in pieces if p[1] == x)
        count += s * x + c == y
    return count


def _fewest_preimages_1d(chain: list[tuple[Fraction, Fraction]]) -> int:
    """min over y in (0, 1) of the number of preimages of y in (0, 1).

    The count can change only at the values the stack takes at its cut
    points and at the ends of its pieces, so it is evaluated at each such
    value inside (0, 1) and at one point of every gap between them."""
    pieces, cuts = _fold_pieces(chain)
    values = {s * x + c for a, z, s, c in pieces for x in (a, z)}
    keys = sorted(
        {v for v in values if 0 < v < 1} | {Fraction(0), Fraction(1)}
    )
    ys = keys[1:-1] + [(u + v) / 2 for u, v in zip(keys, keys[1:])]
    counts = [
        n for n in (_preimages(pieces, cuts, y) for y in ys) if n is not None
    ]
    return min(counts)


def _covering_pieces_1d(chain) -> int:
    """The affine pieces whose image covers (0, 1): a narrower count."""
    count = 0
    for a, z, s, c in _fold_pieces(chain)[0]:
        lo, hi = sorted([s * a + c, s * z + c])
        count += s != 0 and lo <= 0 and hi >= 1
    return count


def _chains(layers) -> list[list[tuple[Fraction, Fraction]]]:
    """One 1-D chain (w_ii, b_i) per coordinate of a diagonal stack."""
    d = len(_exact(layers[0][1]))
    chains = [[] for _ in range(d)]
    for w, b in layers:
        w, b = _exact(torch.as_tensor(w).reshape(d, d)), _exact(b)
        for i in range(d):
            chains[i].append((w[i][i], b[i]))
    return chains


def piece_count(layers) -> int:
    """How many affine pieces of the stack map onto a set covering
    (0, 1)^d: a common wrong reading of the question (it can be smaller
    than `identified_count`)."""
    return math.prod(_covering_pieces_1d(chain) for chain in _chains(layers))


def identified_count(layers) -> int:
    """The largest number of disjoint regions of (0, 1)^d that the stack
    h -> |W h + b| of diagonal layers maps bijectively onto (0, 1)^d (GT
    §3's definition: any disjoint sets, not only affine pieces).

    That number is the fewest preimages any y in (0, 1)^d has: each region
    holds one preimage of every y, and conversely k preimages of every y
    can be sorted into k regions. For diagonal W the preimages of y are the
    products of its coordinates' preimages, so the count is the product
    over coordinates of the 1-D minima."""
    return math.prod(_fewest_preimages_1d(chain) for chain in _chains(layers))


def _as_count(value) -> int | None:
    """A whole number given as int, numpy or torch scalar; else None."""
    try:
        number = float(as_tensor(value).reshape(()))
    except Exception:  # not a count
        return None
    return int(number) if number.is_integer() else None


def _region_cases() -> dict:
    def fold(d):
        return (
            2 * torch.eye(d, dtype=torch.float64),
            -torch.ones(d, dtype=torch.float64),
        )

    cases = {
        f"fold layer, L={n}, d={d}": [fold(d)] * n
        for n in (1, 2, 3)
        for d in (1, 2)
    }
    w, b = torch.tensor([[3.0]]), torch.tensor([-1.0])
    return cases | {
        "pieces differ from regions (d=1)": [
            (torch.tensor([[2.25]]), torch.tensor([-1.5])),
            (torch.tensor([[-1.25]]), torch.tensor([1.0])),
        ],
        "the fewest preimages at a cut's value (d=1)": [
            (torch.tensor([[1.5]]), torch.tensor([-1.0])),
            (torch.tensor([[-1.5]]), torch.tensor([0.625])),
            (torch.tensor([[-1.5]]), torch.tensor([1.125])),
        ],
        "|3x - 1| (d=1)": [(w, b)],
        "|3x - 1| twice (d=1)": [(w, b)] * 2,
        "|x / 2| (d=1)": [(torch.tensor([[0.5]]), torch.tensor([0.0]))],
    }


@guarded
def check_identified_regions(fn: Callable) -> Report:
    """fn(layers) -> the number of regions identified onto (0, 1)^d.

    layers: [(W, b), ...] for h -> |W h + b|, W diagonal. The count asked
    for is the largest number of disjoint regions mapped bijectively onto
    (0, 1)^d, i.e. the fewest preimages of a point; it is compared with an
    exact count of preimages, root by root, on one layer and on stacks
    (including a stack where it differs from the number of affine pieces
    whose image covers the cube).
    """
    report = Report(f"check_identified_regions({name_of(fn)})")
    for name, layers in _region_cases().items():
        got = report.run(name, fn, layers)
        if got is FAILED:
            continue
        want, detail = identified_count(layers), f"got {got!r}, expected "
        if _as_count(got) != want and _as_count(got) == piece_count(layers):
            detail += (
                f"{want}: {got!r} counts the affine pieces whose image covers "
                "the cube, but a region may be any set (GT §3): count the "
                "fewest preimages a point of (0, 1)^d has"
            )
        else:
            detail += str(want)
        report.add(name, _as_count(got) == want, detail)
    return report


TOPICS = {
    "identified_regions": Topic(
        check_identified_regions,
        ("count",),
        "count(layers) -> int, layers [(W, b), ...] (GT §3)",
    ),
}
