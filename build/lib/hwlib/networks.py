"""Feed-forward networks given by explicit weights (seed 000 Q1-Q7, seed 004 §3).

A network with l layers (l weight matrices, the seeds' notation) computes

    f(x) = W_l σ( ... σ(W_2 σ(W_1 x + b_1) + b_2) ... ) + b_l

with σ applied after every layer but the last. Weights follow PyTorch's layout:
W_i has shape (out_i, in_i), b_i has shape (out_i,), and inputs are batches of
row vectors, x of shape (N, d_in) -> f(x) of shape (N, d_out).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "abs": torch.abs,
    "tanh": torch.tanh,
}


def _as_tensor(value, dtype: torch.dtype) -> Tensor:
    return torch.as_tensor(value, dtype=dtype).clone()


class ReLUNetwork(nn.Module):
    """f(x) = W_l σ(... σ(W_1 x + b_1) ...) + b_l with σ in {"relu", "abs", "tanh"}.

    Args:
        weights: l matrices, the i-th of shape (out_i, in_i); nested lists, arrays or tensors.
        biases: l vectors, the i-th of shape (out_i,).
        activation: the nonlinearity σ applied after every layer but the last.
        dtype: the floating type the parameters are stored in (float64 by default, so that
            the analysis in `hwlib.regions` is as exact as floating point allows).

    The weights and biases are `nn.Parameter`s, so autograd can differentiate the output
    with respect to them (seed 000 Q6).
    """

    def __init__(
        self,
        weights: Sequence,
        biases: Sequence,
        activation: str = "relu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if len(weights) == 0:
            raise ValueError("a network needs at least one weight matrix, got none")
        if len(weights) != len(biases):
            raise ValueError(f"got {len(weights)} weight matrices but {len(biases)} bias vectors")
        ws = [_as_tensor(w, dtype) for w in weights]
        bs = [_as_tensor(b, dtype) for b in biases]
        for i, (w, b) in enumerate(zip(ws, bs), start=1):
            if w.ndim != 2:
                raise ValueError(f"layer {i}: W_{i} must be a matrix (out, in), got shape {tuple(w.shape)}")
            if b.shape != (w.shape[0],):
                raise ValueError(
                    f"layer {i}: b_{i} has shape {tuple(b.shape)} but W_{i} has shape "
                    f"{tuple(w.shape)}, so b_{i} must have shape ({w.shape[0]},)"
                )
            if i > 1 and w.shape[1] != ws[i - 2].shape[0]:
                raise ValueError(
                    f"layer {i}: W_{i} has shape {tuple(w.shape)}, so it takes {w.shape[1]} inputs, "
                    f"but W_{i - 1} has shape {tuple(ws[i - 2].shape)} and gives {ws[i - 2].shape[0]}"
                )
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
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"input must have shape (N, {self.in_features}), got {tuple(x.shape)}"
                + (" (for scalar inputs use net.f1d(x) or x[:, None])" if self.in_features == 1 else "")
            )
        h = x.to(self.weights[0].dtype)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if i < self.num_layers - 1:
                h = self.sigma(h)
        return h

    def f1d(self, x: Tensor) -> Tensor:
        """Scalar in, scalar out: (N,) -> (N,), for plotting one-dimensional networks."""
        if self.in_features != 1 or self.out_features != 1:
            raise ValueError(
                f"f1d needs a network R -> R, this one maps R^{self.in_features} -> R^{self.out_features}"
            )
        return self(torch.as_tensor(x, dtype=self.weights[0].dtype).reshape(-1, 1))[:, 0]

    def extra_repr(self) -> str:
        sizes = [self.in_features] + self.widths + [self.out_features]
        return f"sizes={sizes}, activation={self.activation!r}"

    @classmethod
    def random(
        cls,
        sizes: Sequence[int],
        activation: str = "relu",
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> "ReLUNetwork":
        """A network with layer sizes [d_in, k_1, ..., d_out] and standard normal weights and biases."""
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive sizes [d_in, ..., d_out], got {list(sizes)}")
        weights = [torch.randn(o, i, generator=generator, dtype=dtype) for i, o in zip(sizes[:-1], sizes[1:])]
        biases = [torch.randn(o, generator=generator, dtype=dtype) for o in sizes[1:]]
        return cls(weights, biases, activation, dtype)


def interpolate_networks(a: ReLUNetwork, b: ReLUNetwork, t: float) -> ReLUNetwork:
    """The network with parameters (1 - t) θ_a + t θ_b: a point on the line through θ_a and θ_b.

    Both networks must have the same sizes and activation (seed 000 Q6).
    """
    sizes_a = [w.shape for w in a.weights]
    sizes_b = [w.shape for w in b.weights]
    if sizes_a != sizes_b or a.activation != b.activation:
        raise ValueError(
            f"networks differ: shapes {[tuple(s) for s in sizes_a]} ({a.activation}) vs "
            f"{[tuple(s) for s in sizes_b]} ({b.activation})"
        )
    with torch.no_grad():
        weights = [(1 - t) * wa + t * wb for wa, wb in zip(a.weights, b.weights)]
        biases = [(1 - t) * ba + t * bb for ba, bb in zip(a.biases, b.biases)]
    return ReLUNetwork(weights, biases, a.activation, a.weights[0].dtype)


def second_differences(values: Tensor) -> Tensor:
    """f(x_{i-1}) - 2 f(x_i) + f(x_{i+1}) for samples on a uniform grid.

    On a uniform grid a convex function has all second differences >= 0 and a concave
    one all <= 0; one negative and one positive value prove a function is neither.
    """
    values = torch.as_tensor(values)
    if values.ndim != 1 or values.numel() < 3:
        raise ValueError(f"need a 1-D tensor of at least 3 samples, got shape {tuple(values.shape)}")
    return values[:-2] - 2 * values[1:-1] + values[2:]


def convexity_report(values: Tensor, tol: float = 1e-9) -> dict[str, bool]:
    """Whether uniform-grid samples are consistent with a convex, a concave, a linear function."""
    d2 = second_differences(values)
    scale = tol * (1 + values.abs().max().item())
    convex = bool((d2 >= -scale).all())
    concave = bool((d2 <= scale).all())
    return {"convex": convex, "concave": concave, "linear": convex and concave}
