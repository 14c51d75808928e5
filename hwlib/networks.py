"""Feed-forward networks given by explicit weights.

Seed 000 Q1-Q7 and seed 004 §3.

A network with l layers (l weight matrices, the seeds' notation) computes

    f(x) = W_l σ( ... σ(W_2 σ(W_1 x + b_1) + b_2) ... ) + b_l

with σ applied after every layer but the last. Weights follow PyTorch's layout:
W_i has shape (out_i, in_i), b_i has shape (out_i,), and inputs are batches of
row vectors, x of shape (N, d_in) -> f(x) of shape (N, d_out).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from . import _validate

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "abs": torch.abs,
    "tanh": torch.tanh,
}


def _layer(name: str, value, dtype: torch.dtype) -> Tensor:
    return _validate.real_tensor(name, value, dtype=dtype).clone()


def _sequence(name: str, value) -> list:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"{name} must be a list with one entry per layer, got "
            f"{type(value).__name__}"
        )
    return list(value)


class FeedForwardNetwork(nn.Module):
    """f(x) = W_l σ(... σ(W_1 x + b_1) ...) + b_l, σ = relu, abs or tanh.

    Args:
        weights: l matrices, the i-th of shape (out_i, in_i); nested lists,
            arrays or tensors of finite real numbers.
        biases: l vectors, the i-th of shape (out_i,).
        activation: the nonlinearity σ applied after every layer but the last
            ("relu" by default: the ReLU networks of the seeds).
        dtype: the floating type the parameters are stored in (float64 by
            default, so that the analysis in `hwlib.regions` is as exact as
            floating point allows).

    The weights and biases are `nn.Parameter`s, so autograd can
    differentiate the output with respect to them (seed 000 Q6).
    """

    def __init__(
        self,
        weights: Sequence,
        biases: Sequence,
        *,
        activation: str = "relu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        activation = _activation(activation)
        dtype = _validate.floating_dtype("dtype", dtype)
        weights = _sequence("weights", weights)
        biases = _sequence("biases", biases)
        if len(weights) == 0:
            raise ValueError("weights: a network needs at least one matrix")
        if len(weights) != len(biases):
            raise ValueError(
                f"got {len(weights)} weight matrices but "
                f"{len(biases)} bias vectors"
            )
        ws = [_layer(_w(i), w, dtype) for i, w in enumerate(weights, 1)]
        bs = [_layer(_b(i), b, dtype) for i, b in enumerate(biases, 1)]
        for i in range(1, len(ws) + 1):
            _check_layer(i, ws, bs)
        self.activation = activation
        self.weights = nn.ParameterList(ws)
        self.biases = nn.ParameterList(bs)

    @property
    def num_layers(self) -> int:
        """l, the number of weight matrices."""
        return len(self.weights)

    @property
    def widths(self) -> list[int]:
        """The hidden widths (the output sizes of all layers but the last)."""
        return [w.shape[0] for w in self.weights[:-1]]

    @property
    def in_features(self) -> int:
        return self.weights[0].shape[1]

    @property
    def out_features(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def sigma(self) -> Callable[[Tensor], Tensor]:
        return ACTIVATIONS[self.activation]

    def forward(self, x: Tensor) -> Tensor:
        """(N, d_in) -> (N, d_out)."""
        x = _input(x, self.in_features)
        h = x.to(self.weights[0].dtype)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if i < self.num_layers - 1:
                h = self.sigma(h)
        return h

    def f1d(self, x: Tensor) -> Tensor:
        """Scalar in, scalar out, (N,) -> (N,): for plotting R -> R."""
        if self.in_features != 1 or self.out_features != 1:
            raise ValueError(
                "f1d needs a network R -> R, this one maps "
                f"R^{self.in_features} -> R^{self.out_features}"
            )
        x = _validate.real_tensor("x", x, dtype=self.weights[0].dtype)
        if x.ndim > 1:
            raise ValueError(
                f"x must be a number or a 1-D tensor (N,), got shape "
                f"{tuple(x.shape)}"
            )
        return self(x.reshape(-1, 1))[:, 0]

    def extra_repr(self) -> str:
        sizes = [self.in_features] + self.widths + [self.out_features]
        return f"sizes={sizes}, activation={self.activation!r}"

    @classmethod
    def random(
        cls,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> FeedForwardNetwork:
        """Layer sizes [d_in, k_1, ..., d_out], standard normal parameters."""
        sizes = _validate.integers("sizes", sizes, min_length=2)
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), 1):
            _validate.allocation(f"W_{i} ({n_out}, {n_in})", n_in * n_out)
        generator = _validate.generator(generator, "cpu")
        dtype = _validate.floating_dtype("dtype", dtype)
        pairs = itertools.pairwise(sizes)
        weights = [
            torch.randn(o, i, generator=generator, dtype=dtype)
            for i, o in pairs
        ]
        biases = [
            torch.randn(o, generator=generator, dtype=dtype) for o in sizes[1:]
        ]
        return cls(weights, biases, activation=activation, dtype=dtype)


def _activation(value) -> str:
    """One of the names in ACTIVATIONS."""
    if not isinstance(value, str):
        raise TypeError(
            f"activation must be a str, one of {sorted(ACTIVATIONS)}, got "
            f"{value!r}"
        )
    if value not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {value!r}"
        )
    return value


def _w(i: int) -> str:
    """How errors name layer i's matrix: weights[i-1] (W_i)."""
    return f"weights[{i - 1}] (W_{i})"


def _b(i: int) -> str:
    """How errors name layer i's bias: biases[i-1] (b_i)."""
    return f"biases[{i - 1}] (b_{i})"


def _check_layer(i: int, ws: list[Tensor], bs: list[Tensor]) -> None:
    """W_i (out, in), b_i (out,), and W_i takes what W_{i-1} gives."""
    w, b = ws[i - 1], bs[i - 1]
    if w.ndim != 2 or w.numel() == 0:
        raise ValueError(
            f"{_w(i)} must be a nonempty matrix (out, in), "
            f"got shape {tuple(w.shape)}"
        )
    if b.shape != (w.shape[0],):
        raise ValueError(
            f"{_b(i)} has shape {tuple(b.shape)} but {_w(i)} has "
            f"shape {tuple(w.shape)}, so b_{i} must have shape "
            f"({w.shape[0]},)"
        )
    if i > 1 and w.shape[1] != ws[i - 2].shape[0]:
        prev = ws[i - 2]
        raise ValueError(
            f"{_w(i)} has shape {tuple(w.shape)}, so it takes "
            f"{w.shape[1]} inputs, but {_w(i - 1)} has shape "
            f"{tuple(prev.shape)} and gives {prev.shape[0]}"
        )


def _input(x, in_features: int) -> Tensor:
    """A batch (N, in_features) of real numbers (bools refused)."""
    what = f"a torch.Tensor of shape (N, {in_features})"
    x = _validate.tensor("x", x, what=what)
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"x must hold real numbers, got {x.dtype}")
    if x.ndim != 2 or x.shape[1] != in_features:
        hint = (
            " (for scalar inputs use net.f1d(x) or x[:, None])"
            if in_features == 1
            else ""
        )
        raise ValueError(
            f"x must have shape (N, {in_features}), got {tuple(x.shape)}"
            + hint
        )
    return x


def __getattr__(name: str):
    if name == "ReLUNetwork":  # the old name, kept for old notebooks
        warnings.warn(
            "hwlib.networks.ReLUNetwork is now FeedForwardNetwork "
            "(activation='relu' is the default)",
            DeprecationWarning,
            stacklevel=2,
        )
        return FeedForwardNetwork
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def interpolate_networks(
    a: FeedForwardNetwork, b: FeedForwardNetwork, t: float
) -> FeedForwardNetwork:
    """The network with parameters (1 - t) θ_a + t θ_b.

    A point on the line through θ_a and θ_b in parameter space (t = 0 gives
    a, t = 1 gives b; any finite t is allowed). Both networks must have the
    same sizes and activation (seed 000 Q6).
    """
    for name, net in (("a", a), ("b", b)):
        if not isinstance(net, FeedForwardNetwork):
            raise TypeError(
                f"{name} must be a FeedForwardNetwork, got "
                f"{type(net).__name__}"
            )
    t = _validate.real("t", t)
    shapes_a = [tuple(w.shape) for w in a.weights]
    shapes_b = [tuple(w.shape) for w in b.weights]
    if shapes_a != shapes_b or a.activation != b.activation:
        raise ValueError(
            f"networks differ: shapes {shapes_a} ({a.activation}) vs "
            f"{shapes_b} ({b.activation})"
        )
    with torch.no_grad():
        pairs_w = zip(a.weights, b.weights)
        pairs_b = zip(a.biases, b.biases)
        weights = [(1 - t) * wa + t * wb for wa, wb in pairs_w]
        biases = [(1 - t) * ba + t * bb for ba, bb in pairs_b]
    return FeedForwardNetwork(
        weights, biases, activation=a.activation, dtype=a.weights[0].dtype
    )


def no_bias_network(
    w11: float, w12: float, w21: float, w22: float
) -> FeedForwardNetwork:
    """x -> w21 ReLU(w11 x) + w22 ReLU(w12 x): Q5's width-2 net, no biases.

    W_1 = (w11, w12)^T (shape (2, 1)), W_2 = (w21, w22) (shape (1, 2)),
    b_1 = 0, b_2 = 0 (seed 000 Q5). Each neuron bends only at x = 0, so the
    network is a x for x > 0 and b x for x < 0, with
    a = sum_{i: w1i > 0} w2i w1i and b = sum_{i: w1i < 0} w2i w1i.
    """
    w = {"w11": w11, "w12": w12, "w21": w21, "w22": w22}
    w = {name: _validate.real(name, value) for name, value in w.items()}
    return FeedForwardNetwork(
        [[[w["w11"]], [w["w12"]]], [[w["w21"], w["w22"]]]],
        [[0.0, 0.0], [0.0]],
    )


def second_differences(values: Tensor) -> Tensor:
    """f(x_{i-1}) - 2 f(x_i) + f(x_{i+1}) for samples on a uniform grid.

    On a uniform grid a convex function has all second differences >= 0 and
    a concave one all <= 0; one negative and one positive value prove a
    function is neither.
    """
    values = _validate.real_tensor("values", values)
    if values.ndim != 1 or values.numel() < 3:
        raise ValueError(
            "values must be a 1-D tensor of at least 3 samples, got shape "
            f"{tuple(values.shape)}"
        )
    return values[:-2] - 2 * values[1:-1] + values[2:]


def convexity_report(values: Tensor, tol: float = 1e-9) -> dict[str, bool]:
    """Whether uniform-grid samples fit a convex, a concave, a linear function.

    A second difference counts as >= 0 when it is >= -tol (1 + max |f|).
    """
    tol = _validate.real("tol", tol, low=0)
    d2 = second_differences(values)
    scale = tol * (1 + torch.as_tensor(values).abs().max().item())
    convex = bool((d2 >= -scale).all())
    concave = bool((d2 <= scale).all())
    return {"convex": convex, "concave": concave, "linear": convex and concave}
