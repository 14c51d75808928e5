import pytest
import torch

from hwlib.networks import (
    FeedForwardNetwork,
    convexity_report,
    interpolate_networks,
    no_bias_network,
    second_differences,
)


def manual_forward(weights, biases, x, sigma):
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = h @ torch.as_tensor(w, dtype=torch.float64).T + torch.as_tensor(
            b, dtype=torch.float64
        )
        if i < len(weights) - 1:
            h = sigma(h)
    return h


@pytest.mark.parametrize(
    "activation, sigma",
    [("relu", torch.relu), ("abs", torch.abs), ("tanh", torch.tanh)],
)
def test_forward_matches_formula(activation, sigma):
    g = torch.Generator().manual_seed(1)
    sizes = [3, 5, 4, 2]
    ws = [
        torch.randn(o, i, generator=g, dtype=torch.float64)
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    bs = [torch.randn(o, generator=g, dtype=torch.float64) for o in sizes[1:]]
    net = FeedForwardNetwork(ws, bs, activation=activation)
    x = torch.randn(10, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(net(x), manual_forward(ws, bs, x, sigma))
    assert net.num_layers == 3 and net.widths == [5, 4]
    assert net.in_features == 3 and net.out_features == 2


def test_matches_torch_nn_sequential():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)
    ).double()
    net = FeedForwardNetwork(
        [seq[0].weight, seq[2].weight], [seq[0].bias, seq[2].bias]
    )
    x = torch.randn(7, 2, dtype=torch.float64)
    torch.testing.assert_close(net(x), seq(x))


def test_accepts_nested_lists_and_f1d():
    net = FeedForwardNetwork(
        [[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]]
    )  # |x|
    xs = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(net.f1d(xs), xs.abs().double())


def test_old_name_still_imports_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="now FeedForwardNetwork"):
        from hwlib.networks import ReLUNetwork
    assert ReLUNetwork is FeedForwardNetwork


def test_parameters_keep_float64_precision_from_lists():
    net = FeedForwardNetwork([[[0.1]]], [[1 / 3]])
    assert net.weights[0].item() == 0.1 and net.biases[0].item() == 1 / 3


ONE = ([torch.ones(1, 1)], [torch.zeros(1)])
G = torch.Generator().manual_seed(0)
NET = FeedForwardNetwork.random([2, 3, 1], generator=G)
NET1 = FeedForwardNetwork.random([1, 3, 1], generator=G)
NAN = float("nan")


def of_shapes(weight_shapes, bias_lengths):
    """A network of all-one weights and zero biases of the given shapes."""
    return FeedForwardNetwork(
        [torch.ones(shape) for shape in weight_shapes],
        [torch.zeros(n) for n in bias_lengths],
    )


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("W_2 does not take W_1's output", lambda: of_shapes([(5, 1), (1, 6)], [5, 1]),
        ValueError, "weights[1] (W_2) has shape (1, 6), so it takes 6 inputs, but weights[0] (W_1) has shape (5, 1) and gives 5"),
    ("bias of the wrong length", lambda: of_shapes([(5, 1), (1, 5)], [4, 1]),
        ValueError, "biases[0] (b_1) has shape (4,) but weights[0] (W_1) has shape (5, 1), so b_1 must have shape (5,)"),
    ("a bias missing", lambda: of_shapes([(5, 1), (1, 5)], [5]),
        ValueError, "got 2 weight matrices but 1 bias vectors"),
    ("W a vector", lambda: of_shapes([(5,)], [5]),
        ValueError, "weights[0] (W_1) must be a nonempty matrix (out, in), got shape (5,)"),
    ("empty W", lambda: of_shapes([(0, 1)], [0]),
        ValueError, "weights[0] (W_1) must be a nonempty matrix"),
    ("unknown activation", lambda: FeedForwardNetwork(*ONE, activation="sigmoid"),
        ValueError, "activation must be one of ['abs', 'relu', 'tanh'], got 'sigmoid'"),
    ("activation not a str", lambda: FeedForwardNetwork(*ONE, activation=["relu"]),
        TypeError, "activation must be a str, one of ['abs', 'relu', 'tanh'], got ['relu']"),
    ("activation by position", lambda: FeedForwardNetwork(*ONE, "abs"),
        TypeError, "positional argument"),
    ("random: unknown activation", lambda: FeedForwardNetwork.random([1, 1], activation="gelu"),
        ValueError, "activation must be one of ['abs', 'relu', 'tanh'], got 'gelu'"),
    ("no layers", lambda: FeedForwardNetwork([], []),
        ValueError, "weights: a network needs at least one matrix"),
    ("weights not a list", lambda: FeedForwardNetwork(3, [1]),
        TypeError, "weights must be a list with one entry per layer, got int"),
    ("NaN weight", lambda: FeedForwardNetwork([[[NAN]]], [[0.0]]),
        ValueError, "weights[0] (W_1) must be finite, got 1 NaN/inf entries"),
    ("inf bias", lambda: FeedForwardNetwork([[[1.0]]], [[float("inf")]]),
        ValueError, "biases[0] (b_1) must be finite"),
    ("bool weights", lambda: FeedForwardNetwork([[[True]]], [[0.0]]),
        TypeError, "weights[0] (W_1) must hold real numbers, got torch.bool"),
    ("str weights", lambda: FeedForwardNetwork([[["1"]]], [[0.0]]),
        TypeError, "weights[0] (W_1) must be a tensor of numbers, got list"),
    ("integer dtype", lambda: FeedForwardNetwork(*ONE, dtype=torch.int64),
        TypeError, "dtype must be a floating torch.dtype"),
    ("input of the wrong width", lambda: NET(torch.zeros(4, 3)),
        ValueError, "x must have shape (N, 2), got (4, 3)"),
    ("input without batch", lambda: NET1(torch.zeros(3)),
        ValueError, "x must have shape (N, 1), got (3,) (for scalar inputs use net.f1d(x)"),
    ("input a list", lambda: NET([[1.0, 2.0]]),
        TypeError, "x must be a torch.Tensor of shape (N, 2), got list"),
    ("bool input", lambda: NET(torch.ones(2, 2).bool()),
        TypeError, "x must hold real numbers, got torch.bool"),
    ("f1d on R^2", lambda: NET.f1d(torch.zeros(3)),
        ValueError, "f1d needs a network R -> R, this one maps R^2 -> R^1"),
    ("f1d of a matrix", lambda: NET1.f1d(torch.zeros(2, 3)),
        ValueError, "x must be a number or a 1-D tensor (N,), got shape (2, 3)"),
    ("huge layer", lambda: FeedForwardNetwork.random([1, 10**9, 1]),
        ValueError, "W_1 (1000000000, 1) would have 1000000000 entries, more than hwlib's limit MAX_ELEMENTS"),
    ("one size", lambda: FeedForwardNetwork.random([3]),
        ValueError, "sizes must hold at least 2 ints, got [3]"),
    ("zero width", lambda: FeedForwardNetwork.random([1, 0, 1]),
        ValueError, "sizes[1] must be an int >= 1, got 0"),
    ("float width", lambda: FeedForwardNetwork.random([1, 2.5, 1]),
        TypeError, "sizes[1] must be an int >= 1, got 2.5 (float)"),
    ("bool width", lambda: FeedForwardNetwork.random([1, True, 1]),
        TypeError, "sizes[1] must be an int >= 1, got True (bool)"),
    ("generator not a Generator", lambda: FeedForwardNetwork.random([1, 1], generator=0),
        TypeError, "generator must be a torch.Generator or None, got int"),
    ("interpolate at NaN", lambda: interpolate_networks(NET, NET, NAN),
        ValueError, "t must be a finite number in (-inf, inf), got nan"),
    ("interpolate at a bool", lambda: interpolate_networks(NET, NET, True),
        TypeError, "t must be a real number, got True (bool)"),
    ("interpolate a non-network", lambda: interpolate_networks(NET, 3, 0.5),
        TypeError, "b must be a FeedForwardNetwork, got int"),
    ("interpolate different sizes", lambda: interpolate_networks(NET, NET1, 0),
        ValueError, "networks differ: shapes [(3, 2), (1, 3)] (relu) vs"),
    ("two samples", lambda: second_differences(torch.ones(2)),
        ValueError, "values must be a 1-D tensor of at least 3 samples, got shape (2,)"),
    ("bool samples", lambda: second_differences(torch.ones(4).bool()),
        TypeError, "values must hold real numbers, got torch.bool"),
    ("NaN sample", lambda: convexity_report(torch.tensor([0.0, NAN, 1.0])),
        ValueError, "values must be finite, got 1 NaN/inf entries"),
    ("no-bias network: a weight not a number", lambda: no_bias_network(1.0, "a", 1.0, 1.0),
        TypeError, "w12 must be a real number, got 'a' (str)"),
    ("no-bias network: infinite weight", lambda: no_bias_network(1.0, 1.0, float("inf"), 1.0),
        ValueError, "w21 must be a finite number in (-inf, inf), got inf"),
    ("negative tol", lambda: convexity_report(torch.ones(4), tol=-1),
        ValueError, "tol must be a finite number in [0, inf), got -1.0"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


def test_no_bias_network_is_two_rays_meeting_at_zero():
    """w21 relu(w11 x) + w22 relu(w12 x) = a x (x > 0), b x (x < 0)."""
    g = torch.Generator().manual_seed(4)
    xs = torch.linspace(-3, 3, 61, dtype=torch.float64)
    for w in torch.randn(20, 4, generator=g, dtype=torch.float64).tolist():
        w11, w12, w21, w22 = w
        net = no_bias_network(*w)
        assert [tuple(p.shape) for p in net.parameters()] == [
            (2, 1),
            (1, 2),
            (2,),
            (1,),
        ]
        assert all(not b.any() for b in net.biases)
        expected = w21 * torch.relu(w11 * xs) + w22 * torch.relu(w12 * xs)
        torch.testing.assert_close(net.f1d(xs), expected)
        a = sum(v * u for u, v in ((w11, w21), (w12, w22)) if u > 0)
        b = sum(v * u for u, v in ((w11, w21), (w12, w22)) if u < 0)
        torch.testing.assert_close(
            net.f1d(xs), torch.where(xs > 0, a * xs, b * xs)
        )
    assert no_bias_network(1, -1, 1, 1).f1d(xs).equal(xs.abs())


def test_random_is_seeded():
    a = FeedForwardNetwork.random(
        [1, 4, 1], generator=torch.Generator().manual_seed(3)
    )
    b = FeedForwardNetwork.random(
        [1, 4, 1], generator=torch.Generator().manual_seed(3)
    )
    assert all(
        torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())
    )


def test_parameters_are_differentiable():
    net = FeedForwardNetwork.random(
        [1, 3, 1], generator=torch.Generator().manual_seed(0)
    )
    x = torch.ones(2, 1, dtype=torch.float64)
    net(x).sum().backward()
    # f = W_2 relu(W_1 x + b_1) + b_2 summed over 2 equal samples
    h = torch.relu(net.weights[0] @ x[0] + net.biases[0]).detach()
    torch.testing.assert_close(
        net.biases[1].grad, torch.tensor([2.0]).double()
    )
    torch.testing.assert_close(net.weights[1].grad, 2 * h[None, :])


def test_interpolate_networks_is_affine_in_t():
    g = torch.Generator().manual_seed(2)
    a, b = (
        FeedForwardNetwork.random([1, 3, 1], generator=g),
        FeedForwardNetwork.random([1, 3, 1], generator=g),
    )
    mid = interpolate_networks(a, b, 0.25)
    for pm, pa, pb in zip(mid.parameters(), a.parameters(), b.parameters()):
        torch.testing.assert_close(pm, 0.75 * pa + 0.25 * pb)
    torch.testing.assert_close(
        interpolate_networks(a, b, 2.0).weights[0],
        2 * b.weights[0] - a.weights[0],
    )  # any finite t: the whole line, not only the segment


def test_convexity_report_on_known_functions():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)
    assert convexity_report(x.abs()) == {
        "convex": True,
        "concave": False,
        "linear": False,
    }
    assert convexity_report(-x.abs()) == {
        "convex": False,
        "concave": True,
        "linear": False,
    }
    assert convexity_report(3 * x + 1)["linear"]
    assert convexity_report(torch.sin(3 * x)) == {
        "convex": False,
        "concave": False,
        "linear": False,
    }
    torch.testing.assert_close(
        second_differences(x**2),
        torch.full((39,), 2 * 0.1**2, dtype=torch.float64),
    )
    assert convexity_report([0.0, 1.0, 4.0])["convex"]  # lists work too
