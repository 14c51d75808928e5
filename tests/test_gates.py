import itertools
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from hwlib.gates import (
    GATE_RULES,
    SIGN_GATE_RULES,
    and_neuron,
    boolean_network,
    boolean_points,
    carried_inputs,
    evaluate_boolean,
    linearly_separable,
    nand_circuit_network,
    nand_circuit_values,
    nand_network,
    or_network,
    or_neuron,
    separating_hyperplane,
    sign_mistakes,
    sign_test_grid,
    threshold_unit,
    xor_network,
)


def grid_with_axes():
    """A grid that contains the axes and the origin exactly, plus tiny offsets from them."""
    ticks = torch.cat(
        [
            torch.linspace(-3, 3, 61),
            torch.tensor([0.0, -1e-9, 1e-9, -1e-300, 1e-300]),
        ]
    ).double()
    return torch.cartesian_prod(ticks, ticks)


def test_or_network_sign_on_grid_and_axes():
    net = or_network()
    assert net.num_layers == 2 and net.widths == [2]
    x = grid_with_axes()
    expected = (x[:, 0] > 0) | (x[:, 1] > 0)
    assert torch.equal(net(x)[:, 0] > 0, expected)


def test_xor_network_sign_on_grid_and_axes():
    net = xor_network()
    assert net.num_layers <= 3 and max(net.widths) <= 4
    x = grid_with_axes()
    x1, x2 = x[:, 0], x[:, 1]
    expected = ((x1 < 0) & (x2 > 0)) | ((x1 > 0) & (x2 < 0))
    assert torch.equal(net(x)[:, 0] > 0, expected)
    on_axes = (x1 == 0) | (x2 == 0)
    assert on_axes.sum() > 100
    assert (net(x[on_axes]) <= 0).all()  # the axes come out non-positive


def test_sign_gate_rules_are_the_seeds_rules_and_the_networks_follow():
    x = grid_with_axes()
    x1, x2 = x[:, 0], x[:, 1]
    rule = {g: SIGN_GATE_RULES[g](x1, x2) for g in SIGN_GATE_RULES}
    assert torch.equal(rule["and"], (x1 > 0) & (x2 > 0))
    assert torch.equal(rule["or"], (x1 > 0) | (x2 > 0))
    opposite = x1.sign() * x2.sign() < 0  # strictly opposite signs
    assert torch.equal(rule["xor"], opposite)
    for net, gate in ((or_network(), "or"), (xor_network(), "xor")):
        assert torch.equal(net(x)[:, 0] > 0, rule[gate])
    # on the axes the sign rule for xor is false, the bit rule of x_i > 0
    # is not: (0, 1) gives bits (0, 1)
    assert not SIGN_GATE_RULES["xor"](0.0, 1.0)
    assert GATE_RULES["xor"](0.0 > 0, 1.0 > 0)
    # off the axes, each sign rule is its gate's bit rule of x_i > 0
    off = (x1 != 0) & (x2 != 0)
    for gate in SIGN_GATE_RULES:
        bits = GATE_RULES[gate](x1 > 0, x2 > 0)
        assert torch.equal(rule[gate][off], bits[off])


def test_nand_network_truth_table():
    assert evaluate_boolean(nand_network(), 2) == [1, 1, 1, 0]
    out = nand_network()(boolean_points(2))[:, 0]
    assert torch.equal(
        out, torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    )  # exact 0/1 values


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_boolean_network_on_every_table_or_random_tables(n):
    rng = random.Random(n)
    tables = (
        [list(t) for t in itertools.product([0, 1], repeat=2**n)]
        if n <= 2
        else [[rng.randint(0, 1) for _ in range(2**n)] for _ in range(50)]
    )
    for table in tables + [[0] * 2**n, [1] * 2**n]:
        net = boolean_network(table, n)
        assert evaluate_boolean(net, n) == table
        out = net(boolean_points(n))[:, 0]
        assert torch.equal(out, out.round())  # exactly 0 or 1, not just close


def test_boolean_network_from_callables():
    majority = boolean_network(lambda a, b, c: a + b + c >= 2, 3)
    parity = boolean_network(lambda a, b, c: (a + b + c) % 2, 3)
    rows = list(itertools.product([0, 1], repeat=3))
    assert evaluate_boolean(majority, 3) == [int(sum(r) >= 2) for r in rows]
    assert evaluate_boolean(parity, 3) == [sum(r) % 2 for r in rows]
    assert parity.widths == [4, 1]  # one first-layer NAND block per true row


def test_gate_rules_match_their_truth_tables():
    tables = {
        "and": [0, 0, 0, 1],
        "or": [0, 1, 1, 1],
        "nand": [1, 1, 1, 0],
        "nor": [1, 0, 0, 0],
        "xor": [0, 1, 1, 0],
        "iff": [1, 0, 0, 1],
    }
    assert set(GATE_RULES) == set(tables)
    rows = list(itertools.product([0, 1], repeat=2))
    bits = boolean_points(2).bool()
    for name, table in tables.items():
        assert [int(GATE_RULES[name](a, b)) for a, b in rows] == table
        on_tensors = GATE_RULES[name](bits[:, 0], bits[:, 1])
        assert (
            on_tensors.dtype == torch.bool
            and on_tensors.int().tolist() == table
        )
        net = boolean_network(name, 2)  # a gate name compiles too
        assert evaluate_boolean(net, 2) == table


def test_threshold_and_or():
    x = boolean_points(2)
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert threshold_unit(*and_neuron(), x).tolist() == [0, 0, 0, 1]
    assert threshold_unit(*or_neuron(), x).tolist() == [0, 1, 1, 1]


def test_threshold_unit_fires_on_the_boundary():
    """f = 1 where w.x + b >= 0: on the line x1 + x2 = 1 itself it fires."""
    x = boolean_points(2)  # (0,0), (0,1), (1,0), (1,1)
    assert threshold_unit([1, 1], -1, x).tolist() == [0, 1, 1, 1]
    assert threshold_unit([1, 1], -2, x).tolist() == [0, 0, 0, 1]
    assert threshold_unit([-1, 0], 0, x).tolist() == [1, 1, 0, 0]
    assert threshold_unit([0, 0], 0, x).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("seed", range(3))
def test_threshold_unit_is_the_step_of_the_affine_map(seed):
    """Against the definition in plain torch, with many exact ties."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2, 3, (200, 3), generator=g).double()
    w = torch.randint(-2, 3, (3,), generator=g).double()
    b = float(torch.randint(-2, 3, (), generator=g))
    expected = (x @ w + b >= 0).to(torch.int64)
    assert ((x @ w + b) == 0).sum() > 10  # the boundary is exercised
    out = threshold_unit(w, b, x)
    assert out.dtype == torch.int64 and torch.equal(out, expected)


def all_labelings_separability_by_brute_force(points):
    """Reference: try every threshold unit with small integer weights
    (enough for {0,1}^2), the unit written out in plain torch."""
    found = set()
    vals = range(-3, 4)
    for w1, w2, b2 in itertools.product(vals, vals, range(-7, 8)):
        w = torch.tensor([w1, w2], dtype=torch.float64)
        out = (points @ w + b2 / 2 >= 0).to(torch.int64)
        found.add(tuple(out.tolist()))
    return found


def test_linearly_separable_matches_brute_force_on_all_16_functions():
    points = boolean_points(2)
    realizable = all_labelings_separability_by_brute_force(points)
    for labels in itertools.product([0, 1], repeat=4):
        sep = linearly_separable(points, torch.tensor(labels))
        assert sep == (labels in realizable), labels
        if sep:  # the returned unit is a certificate
            w, b = separating_hyperplane(points, torch.tensor(labels))
            assert threshold_unit(w, b, points).tolist() == list(labels)
    assert (
        sum(
            linearly_separable(points, torch.tensor(l))
            for l in itertools.product([0, 1], repeat=4)
        )
        == 14
    )


def test_parity_3_is_not_separable_and_majority_is():
    p = boolean_points(3)
    assert not linearly_separable(
        p, torch.tensor([int(sum(r)) % 2 for r in p.tolist()])
    )
    assert linearly_separable(
        p, torch.tensor([int(sum(r) >= 2) for r in p.tolist()])
    )


AND = torch.tensor([0, 0, 0, 1])
IFF = torch.tensor([1, 0, 0, 1])


@pytest.mark.parametrize(
    "scale, shift",
    [
        (1e-9, 0.0),
        (1e-9, -1e3),
        (1e-3, 1e9),
        (1.0, 1e9),
        (1e6, 0.0),
        (1e9, 1e9),
        (1e9, -1e3),
        (1.0, 0.0),
    ],
)
def test_separability_ignores_units_and_offsets(scale, shift):
    points = boolean_points(2) * scale + shift
    assert len(set(map(tuple, points.tolist()))) == 4  # distinct in float64
    assert linearly_separable(points, AND)
    assert not linearly_separable(points, IFF)
    w, b = separating_hyperplane(points, AND)
    # the certificate, evaluated about the points' centre to avoid the
    # cancellation in w.x + b when the offset is large
    c = points.mean(0)
    on_centred = threshold_unit(w, b + float(w @ c), points - c)
    assert on_centred.tolist() == AND.tolist()


def test_points_merged_by_rounding_are_one_point():
    points = boolean_points(2) * 1e-9 + 1e9  # all four round to 1e9
    assert len(set(map(tuple, points.tolist()))) == 1
    assert not linearly_separable(points, AND)  # one point, two labels


def test_separability_of_separated_clouds_in_any_units():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 3, generator=g, dtype=torch.float64)
    points = torch.cat([a, a + 10.0])
    labels = torch.tensor([0] * 50 + [1] * 50)
    for scale, shift in [(1.0, 0.0), (1e-8, 0.0), (1e8, -3e9), (1e-6, 1e3)]:
        assert linearly_separable(points * scale + shift, labels)
    # one point of the first cloud relabelled 1. The answer is known by
    # construction: (a) the cloud's extreme point along (1, 1, 1), the
    # direction towards the second cloud, is cut off by a plane normal to
    # (1, 1, 1) (every projection of the second cloud is 30 larger); (b) a
    # point inside the convex hull of the rest of its cloud cannot be cut
    # off (a convex combination, found by scipy's linprog, certifies it).
    proj = a.sum(1)
    extreme = int(proj.argmax())
    assert proj[extreme] < proj.min() + 30  # below the whole second cloud
    inner = int((a - a.mean(0)).norm(dim=1).argmin())
    rest = torch.cat([a[:inner], a[inner + 1 :]]).numpy()
    hull = linprog(  # lambda >= 0, sum lambda = 1, rest^T lambda = a[inner]
        np.zeros(len(rest)),
        A_eq=np.vstack([rest.T, np.ones(len(rest))]),
        b_eq=np.append(a[inner].numpy(), 1.0),
        bounds=(0, None),
        method="highs",
    )
    assert hull.status == 0  # feasible: a[inner] is inside the hull
    for i, separable in ((extreme, True), (inner, False)):
        relabelled = labels.clone()
        relabelled[i] = 1
        for scale, shift in [(1.0, 0.0), (1e-7, 5.0), (1e6, -3e7)]:
            moved = points * scale + shift
            assert linearly_separable(moved, relabelled) == separable


P2 = boolean_points(2)
NAN = float("nan")
# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("table too short", lambda: boolean_network([0, 1, 1], 2),
        ValueError, "fn: a truth table for 2 inputs needs 4 entries, got 3"),
    ("table entry 2", lambda: boolean_network([0, 2, 1, 1], 2),
        ValueError, "fn (truth table entry 1) must be 0/1 or a bool, got 2"),
    ("table entry NaN", lambda: boolean_network([0, NAN, 1, 1], 2),
        ValueError, "fn (truth table entry 1) must be 0/1 or a bool, got nan"),
    ("fn returns 2", lambda: boolean_network(lambda a, b: a + b, 2),
        ValueError, "fn(1, 1) must be 0/1 or a bool, got 2"),
    ("fn not usable", lambda: boolean_network(3, 2),
        TypeError, "fn must be a callable, a gate name or a truth table, got int"),
    ("unknown gate", lambda: boolean_network("implies", 2),
        ValueError, "fn: a gate name needs n_inputs=2 and one of ['and', 'iff',"),
    ("gate with 3 inputs", lambda: boolean_network("and", 3),
        ValueError, "got 'and' with n_inputs=3"),
    ("0 inputs", lambda: boolean_network([1], 0),
        ValueError, "n_inputs must be an int >= 1, got 0"),
    ("2.0 inputs", lambda: boolean_network([0, 1, 1, 0], 2.0),
        TypeError, "n_inputs must be an int >= 1, got 2.0 (float)"),
    ("True inputs", lambda: boolean_points(True),
        TypeError, "n_inputs must be an int >= 1, got True (bool)"),
    ("too many inputs", lambda: boolean_points(40),
        ValueError, "n_inputs must be <= MAX_BOOLEAN_INPUTS = 16"),
    ("evaluate with wrong n", lambda: evaluate_boolean(nand_network(), 3),
        ValueError, "n_inputs=3 but the network takes 2 inputs"),
    ("evaluate non-integer output", lambda: evaluate_boolean(lambda x: x.sum(1) / 3, 2),
        ValueError, "net: output 0.333"),
    ("threshold w too long", lambda: threshold_unit([1.0, 1.0, 1.0], 0.0, P2),
        ValueError, "w must have shape (2,) to match x (4, 2), got (3,)"),
    ("threshold NaN b", lambda: threshold_unit([1.0, 1.0], NAN, P2),
        ValueError, "b must be a finite number in (-inf, inf), got nan"),
    ("threshold bool x", lambda: threshold_unit([1.0, 1.0], 0.0, P2.bool()),
        TypeError, "x must hold real numbers, got torch.bool"),
    ("threshold x a vector", lambda: threshold_unit([1.0], 0.0, [0.0, 1.0]),
        ValueError, "x must be points of shape (N, d), got (2,)"),
    ("label 2", lambda: linearly_separable(P2, torch.tensor([0, 1, 2, 1])),
        ValueError, "labels must be 0 or 1, got [0, 1, 2, 1]"),
    ("too few labels", lambda: linearly_separable(P2, torch.tensor([0, 1])),
        ValueError, "labels must have shape (4,), one per point, got (2,)"),
    ("str labels", lambda: linearly_separable(P2, ["a", "b", "c", "d"]),
        TypeError, "labels must be 0/1 numbers or bools"),
    ("NaN point", lambda: linearly_separable(torch.tensor([[0.0, NAN], [1.0, 1.0]]), [0, 1]),
        ValueError, "x must be finite, got 1 NaN/inf entries"),
    ("no points", lambda: separating_hyperplane(torch.zeros(0, 2), []),
        ValueError, "x must hold at least one point"),
    ("circuit reads a later wire", lambda: nand_circuit_network([(0, 2)], 2),
        ValueError, "circuit[0] must be a pair of wire numbers in [0, 1]"),
    ("circuit of no gates", lambda: nand_circuit_values([], 2),
        ValueError, "circuit must hold at least one gate, got none"),
    ("circuit gate of 3 wires", lambda: nand_circuit_network([(0, 1, 1)], 2),
        ValueError, "circuit[0] must be a pair of wire numbers"),
    ("circuit bool wire", lambda: nand_circuit_network([(True, 0)], 2),
        ValueError, "got (True, 0)"),
    ("circuit not a list", lambda: nand_circuit_network("nand", 2),
        TypeError, "circuit must be a list of pairs (a, b) of wire numbers, got str"),
    ("sign gate unknown", lambda: sign_mistakes(or_network(), "nand"),
        ValueError, "gate must be one of ['and', 'or', 'xor'], got 'nand'"),
    ("sign grid num 1", lambda: sign_test_grid(num=1),
        ValueError, "num must be an int >= 2, got 1"),
    ("sign grid lim 0", lambda: sign_test_grid(lim=0.0),
        ValueError, "lim must be"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


# --- the sign-test grid ---------------------------------------------------


def test_sign_test_grid_holds_the_axes_and_no_rounding_residue():
    x = sign_test_grid(lim=3.0, num=121)
    ticks = x[:, 0].unique()
    assert len(x) == (121 + 2) ** 2 and len(sign_test_grid(num=4)) == 7**2
    assert {0.0, 1e-9, -1e-9, -3.0, 3.0} <= set(ticks.tolist())
    assert (ticks.abs() >= 1e-9).sum() == len(ticks) - 1  # only 0 is smaller
    assert ((x == 0).all(1)).sum() == 1  # the origin, once
    assert (x[:, 0] == 0).sum() == len(ticks)  # the whole x2-axis


def test_sign_mistakes_counts_what_the_rule_says():
    x = grid_with_axes()  # this file's own grid
    for gate, net in (("or", or_network()), ("xor", xor_network())):
        assert sign_mistakes(net, gate) == 0
        assert sign_mistakes(net, gate, x) == 0
    # mutations: each broken network is caught
    leaky = xor_network()
    with torch.no_grad():
        leaky.biases[-1] += 1e-12  # positive on the axes
    assert sign_mistakes(leaky, "xor") >= 2 * 123 - 1  # the two axes
    flipped = or_network()
    with torch.no_grad():
        flipped.weights[0][1, 1] = -1.0  # x2 < 0 instead of x2 > 0
    assert sign_mistakes(flipped, "or") > 0
    by_hand = int(((or_network()(x)[:, 0] > 0) != (x > 0).any(1)).sum())
    assert by_hand == sign_mistakes(or_network(), "or", x) == 0


# --- NAND circuits as layered networks --------------------------------------


def _run_circuit(gates, bits):
    """The test's own evaluator: NAND of two earlier wires, gate by gate."""
    wires = list(bits)
    for a, b in gates:
        wires.append(int(not (wires[a] and wires[b])))
    return wires[-1]


@st.composite
def circuits(draw):
    n = draw(st.integers(1, 4))
    gates = []
    for g in range(draw(st.integers(1, 9))):
        wire = st.integers(0, n + g - 1)
        gates.append((draw(wire), draw(wire)))
    return gates, n


@settings(max_examples=150, deadline=None)
@given(circuits())
def test_nand_circuit_network_computes_the_circuit(circuit_and_n):
    gates, n = circuit_and_n
    rows = itertools.product([0, 1], repeat=n)
    truth = [_run_circuit(gates, r) for r in rows]
    net = nand_circuit_network(gates, n)
    assert nand_circuit_values(gates, n) == truth
    assert evaluate_boolean(net, n) == truth
    depth = [0] * n
    for a, b in gates:
        depth.append(1 + max(depth[a], depth[b]))
    assert net.num_layers == max(depth) + 1  # one hidden layer per level


def test_nand_circuit_network_xor_needs_carries():
    """XOR from four NANDs reads its inputs at levels 1 and 2: the inputs
    are carried through layer 1. Mutation: drop a carry, the table breaks."""
    gates = [(0, 1), (0, 2), (1, 2), (3, 4)]
    net = nand_circuit_network(gates, 2)
    assert net.widths == [3, 2, 1]
    assert evaluate_boolean(net, 2) == [0, 1, 1, 0]
    with torch.no_grad():
        net.weights[0][1] = 0.0  # the carry of x1 now outputs 0
    assert evaluate_boolean(net, 2) != [0, 1, 1, 0]


def test_carried_inputs_finds_the_carry_neurons_and_fires_when_broken():
    xor = nand_circuit_network([(0, 1), (0, 2), (1, 2), (3, 4)], 2)
    assert carried_inputs(xor) == [0, 1]
    assert xor.widths[0] == 3  # the first gate beside the two carries
    # mutation: scale the carry of x2, and it no longer passes x2 on
    broken = nand_circuit_network([(0, 1), (0, 2), (1, 2), (3, 4)], 2)
    with torch.no_grad():
        row = int(broken.weights[0][:, 1].nonzero()[-1, 0])
        broken.weights[0][row, 1] = 0.5
    assert carried_inputs(broken) == [0]
    # a circuit whose later gates never read the inputs carries none
    assert carried_inputs(nand_circuit_network([(0, 1), (2, 2)], 2)) == []
    with pytest.raises(TypeError, match="hidden layer"):
        carried_inputs(_one_layer())


def _one_layer():
    from hwlib.networks import FeedForwardNetwork

    return FeedForwardNetwork([[[1.0, 1.0]]], [[0.0]])
