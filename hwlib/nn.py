"""Neural network modules with hand-written backward passes, no autograd.

Seed 000 Q10. Every module caches what its backward pass needs during
`forward` and returns the gradient with respect to its input from
`backward(grad_output)`. Shapes: a batch of N row vectors, x (N, in).

    Linear        y = x W^T + b     dL/dx = g W,  dL/dW = g^T x,
                                    dL/db = sum_n g_n
    ReLU          y = max(x, 0)     dL/dx = g * [x > 0]
    CrossEntropy  L = mean_n -log softmax(z_n)[t_n]
                                    dL/dz = (softmax(z) - onehot(t)) / N

where g = dL/dy is the gradient arriving from above. The "at most 5 lines" of
the homework hold for every forward and backward below.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from . import _validate


def _batch(name: str, x, width: int, like: Tensor) -> Tensor:
    """x as a batch (N, width) with the dtype and device of `like`."""
    x = _validate.tensor(name, x, what=f"a torch.Tensor of shape (N, {width})")
    if x.ndim == 1 and x.shape[0] == width:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}: the batch dimension is "
            f"missing, expected (N, {width}); use {name}[None] for one sample"
        )
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(
            f"{name} must have shape (N, {width}), got {tuple(x.shape)}: "
            f"width {x.shape[-1] if x.ndim else None} vs expected {width}"
        )
    _validate.same_dtype_and_device(name, x, "the parameters", like)
    return x


def _cached(module: Module, attribute: str):
    value = getattr(module, attribute, None)
    if value is None:
        raise RuntimeError(
            f"{type(module).__name__}.backward: call forward first (nothing "
            "is cached from a forward pass)"
        )
    return value


def _same_shape(grad_output, expected: tuple, module: str) -> Tensor:
    grad_output = _validate.tensor(
        "grad_output", grad_output, what="a torch.Tensor"
    )
    if tuple(grad_output.shape) != expected:
        raise ValueError(
            f"{module}.backward: grad_output must have the shape of the last "
            f"forward output {expected}, got {tuple(grad_output.shape)}"
        )
    return grad_output


class Module:
    """Base class: parameters and their gradients, in matching order."""

    def parameters(self) -> list[Tensor]:
        return []

    def gradients(self) -> list[Tensor]:
        return []

    def __call__(self, *args):
        return self.forward(*args)


class Linear(Module):
    """y = x W^T + b, weight (out, in), bias (out,), initialised like torch.

    Both drawn from U(-1/sqrt(in), 1/sqrt(in)) with `generator` (which must
    live on `device`). With input_grad=False the backward pass skips dL/dx
    and returns None (for a first layer, whose input is data).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        input_grad: bool = True,
    ) -> None:
        n_in = _validate.integer("in_features", in_features)
        n_out = _validate.integer("out_features", out_features)
        dtype = _validate.floating_dtype("dtype", dtype)
        device = _validate.device(device)
        generator = _validate.generator(generator, device)
        input_grad = _validate.boolean("input_grad", input_grad)
        _validate.allocation(f"Linear({n_in}, {n_out}).weight", n_in * n_out)
        bound = 1 / math.sqrt(n_in)
        kw = {"generator": generator, "device": device, "dtype": dtype}
        self.weight = (torch.rand(n_out, n_in, **kw) * 2 - 1) * bound
        self.bias = (torch.rand(n_out, **kw) * 2 - 1) * bound
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input_grad = input_grad
        self.input: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self.input = _batch("x", x, self.weight.shape[1], self.weight)
        return torch.addmm(self.bias, x, self.weight.T)

    def backward(self, grad_output: Tensor) -> Tensor | None:
        x = _cached(self, "input")
        g = _same_shape(grad_output, (len(x), len(self.bias)), "Linear")
        self.grad_weight = g.T @ x
        self.grad_bias = g.sum(0)
        return g @ self.weight if self.input_grad else None

    def parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def gradients(self) -> list[Tensor]:
        return [self.grad_weight, self.grad_bias]

    def __repr__(self) -> str:
        return f"Linear({self.weight.shape[1]}, {self.weight.shape[0]})"


class ReLU(Module):
    """y = max(x, 0); the gradient passes where x > 0 (not at 0, as torch)."""

    def __init__(self) -> None:
        self.mask: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        x = _validate.tensor("x", x, dtype="floating")
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad_output: Tensor) -> Tensor:
        mask = _cached(self, "mask")
        return _same_shape(grad_output, tuple(mask.shape), "ReLU") * mask

    def __repr__(self) -> str:
        return "ReLU()"


class CrossEntropyLoss(Module):
    """Mean softmax cross-entropy of logits (N, C) against targets (N,).

    Targets are integer class indices in [0, C). Stable for large logits:
    log softmax(z) = z - logsumexp(z). NaN or infinite logits are refused
    (NonFiniteLogitsError): they would make the loss NaN silently.
    """

    def __init__(self) -> None:
        self.probs: Tensor | None = None

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        _logits_and_target(logits, target)
        log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        self.probs, self.target = log_probs.exp(), target
        return -log_probs.gather(1, target[:, None]).mean()

    def backward(self) -> Tensor:
        grad = _cached(self, "probs").clone()
        rows = torch.arange(len(self.target), device=grad.device)
        grad[rows, self.target] -= 1
        return grad / len(self.target)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()"


class NonFiniteLogitsError(ValueError):
    """CrossEntropyLoss got NaN or infinite logits (training diverged)."""


def _logits_and_target(logits, target) -> None:
    """logits (N, C) floating and finite with N, C >= 1; target (N,) int64
    in [0, C)."""
    for name, t in (("logits", logits), ("target", target)):
        _validate.tensor(name, t, what="a torch.Tensor")
    if logits.ndim != 2 or target.shape != (logits.shape[0],):
        raise ValueError(
            f"need logits (N, C) and target (N,), got logits "
            f"{tuple(logits.shape)} and target {tuple(target.shape)}"
        )
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must be nonempty, got {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating, got {logits.dtype}")
    if target.dtype != torch.int64:
        raise TypeError(
            f"target must be int64 class indices (torch.long), got "
            f"{target.dtype}"
        )
    if target.is_cuda and torch.cuda.is_current_stream_capturing():
        return  # reading values back is impossible inside a CUDA graph;
        # the graph path (hwlib.train.fit) checks all labels once instead
    lo, hi = (int(v) for v in torch.aminmax(target))
    if lo < 0 or hi >= logits.shape[1]:
        raise ValueError(
            f"target must be class indices in [0, {logits.shape[1]}), "
            f"got values from {lo} to {hi}"
        )
    bad = int((~logits.isfinite()).sum())
    if bad:
        raise NonFiniteLogitsError(
            f"logits must be finite, got {bad} NaN/inf entries (shape "
            f"{tuple(logits.shape)}); a diverged run? try a smaller lr"
        )


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse."""

    def __init__(self, *modules: Module) -> None:
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"modules[{i}] must be an hwlib.nn Module, got "
                    f"{type(m).__name__}"
                )
        self.modules = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        for module in self.modules:
            x = module.forward(x)
        return x

    def backward(self, grad_output: Tensor) -> Tensor | None:
        for module in reversed(self.modules):
            grad_output = module.backward(grad_output)
        return grad_output

    def parameters(self) -> list[Tensor]:
        return [p for m in self.modules for p in m.parameters()]

    def gradients(self) -> list[Tensor]:
        return [g for m in self.modules for g in m.gradients()]

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.modules)) + ")"


def mlp(
    sizes: list[int] | tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Sequential:
    """Linear-ReLU-...-Linear with the given layer sizes, e.g. [3072, 512, 10].

    The first layer skips its input gradient: the network's input is data,
    not a parameter.
    """
    sizes = _validate.integers("sizes", sizes, min_length=2)
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(
            Linear(
                n_in,
                n_out,
                generator=generator,
                device=device,
                dtype=dtype,
                input_grad=i > 0,
            )
        )
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


class SGD:
    """Stochastic gradient descent with momentum and weight decay, as torch.

        d = grad + weight_decay * p
        buf = momentum * buf + d       (buf = d at the first step)
        p -= lr * buf

    Args: lr > 0, 0 <= momentum < 1, weight_decay >= 0 (all finite).
    """

    def __init__(
        self,
        model: Module,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        if not isinstance(model, Module):
            raise TypeError(
                f"model must be an hwlib.nn Module, got {type(model).__name__}"
            )
        self.model = model
        self.lr = _validate.real("lr", lr, low=0, low_open=True)
        self.momentum = _validate.real(
            "momentum", momentum, low=0, high=1, high_open=True
        )
        self.weight_decay = _validate.real("weight_decay", weight_decay, low=0)
        self.buffers: list[Tensor | None] = [None] * len(model.parameters())

    def step(self) -> None:
        pairs = zip(self.model.parameters(), self.model.gradients())
        for i, (p, g) in enumerate(pairs):
            d = g.add(p, alpha=self.weight_decay) if self.weight_decay else g
            if self.momentum:
                buf = self.buffers[i]
                d = (
                    d.clone()
                    if buf is None
                    else buf.mul_(self.momentum).add_(d)
                )
                self.buffers[i] = d
            p.sub_(d, alpha=self.lr)
