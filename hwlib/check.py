"""Self-checks a student runs on their own answers; each returns a short, readable report.

Every check compares the student's code with an independent reference (torch.autograd,
torch.nn.functional, exact enumeration) on random inputs and on edge cases, and says what matched
and what did not:

    >>> report = check_relu(MyReLU)
    >>> print(report)          # one line per case, ✓ or ✗, with the largest difference
    >>> report.passed          # True when every case matched
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .conv import conv2d_output_size, conv_transpose2d_output_size
from .regions import abs_fold_layer, count_identified_regions

TOL = 1e-6


@dataclass
class Report:
    """What a check compared: (case, passed, detail) per line."""

    title: str
    lines: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, case: str, passed: bool, detail: str = "") -> bool:
        self.lines.append((case, bool(passed), detail))
        return bool(passed)

    def compare(self, case: str, ours, reference: Tensor, tol: float = TOL) -> bool:
        """Record whether `ours` equals `reference` (shape and values, to tol)."""
        try:
            ours = torch.as_tensor(ours, dtype=reference.dtype)
        except Exception as err:  # noqa: BLE001 - any failure is reported, not raised
            return self.add(case, False, f"could not read the result as a tensor ({type(err).__name__}: {err})")
        if ours.shape != reference.shape:
            return self.add(case, False, f"shape {tuple(ours.shape)}, expected {tuple(reference.shape)}")
        if not torch.isfinite(ours).all():
            return self.add(case, False, "contains inf or nan")
        diff = (ours - reference).abs().max().item() if ours.numel() else 0.0
        scale = 1 + reference.abs().max().item() if reference.numel() else 1
        return self.add(case, diff <= tol * scale, f"largest difference {diff:.1e}")

    def run(self, case: str, fn: Callable, *args):
        """Call fn(*args); an exception becomes a failed line instead of a traceback."""
        try:
            return fn(*args)
        except Exception as err:  # noqa: BLE001
            self.add(case, False, f"raised {type(err).__name__}: {err}")
            return None

    @property
    def passed(self) -> bool:
        return bool(self.lines) and all(ok for _, ok, _ in self.lines)

    def __str__(self) -> str:
        failed = sum(not ok for _, ok, _ in self.lines)
        verdict = "all checks passed" if self.passed else f"{failed} of {len(self.lines)} checks failed"
        body = "\n".join(f"  {'✓' if ok else '✗'} {case}" + (f": {detail}" if detail else "") for case, ok, detail in self.lines)
        return f"{self.title}: {verdict}\n{body}"

    __repr__ = __str__


# --------------------------------------------------------------------------------------------
# Modules (seed 000 Q10)
# --------------------------------------------------------------------------------------------


def _make(cls, *args):
    return cls(*args) if args else cls()


def check_linear(cls, in_features: int = 5, out_features: int = 3) -> Report:
    """A Linear class with .weight (out, in), .bias (out,), forward(x), backward(g) -> dL/dx,
    and .grad_weight, .grad_bias after backward. Its weights are set to known float64 values."""
    report = Report(f"check_linear({getattr(cls, '__name__', cls)})")
    g = torch.Generator().manual_seed(0)
    cases = {"random batch": torch.randn(4, in_features, generator=g, dtype=torch.float64),
             "zero input": torch.zeros(4, in_features, dtype=torch.float64),
             "batch of one": torch.randn(1, in_features, generator=g, dtype=torch.float64)}
    for name, x in cases.items():
        layer = report.run(f"{name}: constructor", _make, cls, in_features, out_features)
        if layer is None:
            return report
        w = torch.randn(out_features, in_features, generator=g, dtype=torch.float64, requires_grad=True)
        b = torch.randn(out_features, generator=g, dtype=torch.float64, requires_grad=True)
        layer.weight, layer.bias = w.detach().clone(), b.detach().clone()
        xr = x.clone().requires_grad_(True)
        out = F.linear(xr, w, b)
        upstream = torch.randn(out.shape, generator=g, dtype=torch.float64)
        out.backward(upstream)
        y = report.run(f"{name}: forward", layer.forward, x.clone())
        if y is not None:
            report.compare(f"{name}: forward", y, out.detach())
            dx = report.run(f"{name}: backward", layer.backward, upstream.clone())
            if dx is not None:
                report.compare(f"{name}: dL/dx", dx, xr.grad)
                report.compare(f"{name}: grad_weight", getattr(layer, "grad_weight", None), w.grad)
                report.compare(f"{name}: grad_bias", getattr(layer, "grad_bias", None), b.grad)
    return report


def check_relu(cls) -> Report:
    """A ReLU class with forward(x) and backward(g) -> dL/dx (PyTorch's convention: 0 at x = 0)."""
    report = Report(f"check_relu({getattr(cls, '__name__', cls)})")
    g = torch.Generator().manual_seed(0)
    cases = {"random values": torch.randn(6, 4, generator=g, dtype=torch.float64),
             "exact zeros (gradient 0 there, as in PyTorch)": torch.tensor([[0.0, -0.0, 1.0, -1.0]], dtype=torch.float64),
             "large values": 1e6 * torch.randn(3, 4, generator=g, dtype=torch.float64)}
    for name, x in cases.items():
        relu = report.run(f"{name}: constructor", _make, cls)
        if relu is None:
            return report
        xr = x.clone().requires_grad_(True)
        upstream = torch.randn(x.shape, generator=g, dtype=torch.float64)
        torch.relu(xr).backward(upstream)
        y = report.run(f"{name}: forward", relu.forward, x.clone())
        if y is not None:
            report.compare(f"{name}: forward", y, torch.relu(x))
            dx = report.run(f"{name}: backward", relu.backward, upstream.clone())
            if dx is not None:
                report.compare(f"{name}: backward", dx, xr.grad)
    return report


def check_cross_entropy(cls) -> Report:
    """A loss class with forward(logits, target) -> mean loss and backward() -> dL/dlogits."""
    report = Report(f"check_cross_entropy({getattr(cls, '__name__', cls)})")
    g = torch.Generator().manual_seed(0)
    cases = {"random logits": torch.randn(8, 10, generator=g, dtype=torch.float64),
             "zero logits (loss = log 10)": torch.zeros(4, 10, dtype=torch.float64),
             "large logits (±1e4)": 1e4 * torch.randn(4, 10, generator=g, dtype=torch.float64).sign()}
    for name, logits in cases.items():
        loss_fn = report.run(f"{name}: constructor", _make, cls)
        if loss_fn is None:
            return report
        target = torch.randint(0, 10, (len(logits),), generator=g)
        zr = logits.clone().requires_grad_(True)
        reference = F.cross_entropy(zr, target)
        reference.backward()
        loss = report.run(f"{name}: forward", loss_fn.forward, logits.clone(), target)
        if loss is not None:
            report.compare(f"{name}: loss", loss, reference.detach())
            grad = report.run(f"{name}: backward", loss_fn.backward)
            if grad is not None:
                report.compare(f"{name}: dL/dlogits", grad, zr.grad)
    return report


# --------------------------------------------------------------------------------------------
# Gates (seed 000 Q7)
# --------------------------------------------------------------------------------------------

GATE_RULES = {
    "or": lambda x1, x2: (x1 > 0) | (x2 > 0),
    "xor": lambda x1, x2: ((x1 < 0) & (x2 > 0)) | ((x1 > 0) & (x2 < 0)),
}


def _outputs(net_or_fn, x: Tensor) -> Tensor:
    out = torch.as_tensor(net_or_fn(x)).detach().to(torch.float64)
    return out.reshape(len(x), -1)[:, 0]


def check_gate(net_or_fn, gate: str) -> Report:
    """A network or function R^2 -> R, given batches (N, 2) in float64.

    "or" and "xor": the sign must match the gate on a grid that contains the axes and points
    1e-9 away from them. "nand": the value on {0, 1}^2 must be NAND exactly (1, 1, 1, 0).
    """
    report = Report(f"check_gate(..., {gate!r})")
    if gate == "nand":
        x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
        out = report.run("evaluate on {0,1}^2", _outputs, net_or_fn, x)
        if out is not None:
            for (a, b), value, want in zip(x.int().tolist(), out.tolist(), (1, 1, 1, 0)):
                report.add(f"NAND({a}, {b}) = {want}", abs(value - want) < 1e-9, f"got {value:g}")
        return report
    if gate not in GATE_RULES:
        raise ValueError(f"gate must be 'or', 'xor' or 'nand', got {gate!r}")
    ticks = torch.cat([torch.linspace(-2, 2, 41), torch.tensor([0.0, 1e-9, -1e-9])]).double()
    x = torch.cartesian_prod(ticks, ticks)
    out = report.run("evaluate on the grid", _outputs, net_or_fn, x)
    if out is None:
        return report
    want = GATE_RULES[gate](x[:, 0], x[:, 1])
    on_axes = (x == 0).any(1)
    for name, mask in (("off the axes", ~on_axes), ("on the axes (boundary points)", on_axes)):
        wrong = ((out[mask] > 0) != want[mask]).nonzero()[:, 0]
        example = "" if not len(wrong) else f"; e.g. f{tuple(x[mask][wrong[0]].tolist())} = {out[mask][wrong[0]].item():g}"
        report.add(f"sign of f {name}", len(wrong) == 0, f"{len(wrong)} of {int(mask.sum())} points wrong{example}")
    return report


# --------------------------------------------------------------------------------------------
# Convolution matrices (seed 004 §1)
# --------------------------------------------------------------------------------------------


def _check_conv_like(A, kernel, input_size, stride, padding, transposed: bool) -> Report:
    name = "check_conv_transpose_matrix" if transposed else "check_conv_matrix"
    report = Report(f"{name}(kernel {tuple(torch.as_tensor(kernel).shape)}, input {tuple(input_size)}, stride {stride}, padding {padding})")
    kernel = torch.as_tensor(kernel, dtype=torch.float64)
    size_fn = conv_transpose2d_output_size if transposed else conv2d_output_size
    out_h, out_w = size_fn(kernel.shape, input_size, stride, padding)
    A = torch.as_tensor(A, dtype=torch.float64)
    expected_shape = (out_h * out_w, input_size[0] * input_size[1])
    if not report.add("shape", tuple(A.shape) == expected_shape, f"{tuple(A.shape)}, expected {expected_shape}"):
        return report
    op = F.conv_transpose2d if transposed else F.conv2d
    g = torch.Generator().manual_seed(0)
    basis = torch.eye(expected_shape[1], dtype=torch.float64).reshape(-1, 1, *input_size)
    reference = op(basis, kernel[None, None], stride=stride, padding=padding).reshape(expected_shape[1], -1).T
    wrong_rows = ((A - reference).abs() > TOL).any(1).nonzero()[:, 0].tolist()
    report.add("every entry", not wrong_rows,
               "" if not wrong_rows else f"rows {wrong_rows[:5]} differ (row {wrong_rows[0]} = output pixel "
               f"{divmod(wrong_rows[0], out_w)}); expected that row to be {reference[wrong_rows[0]].tolist()}")
    x = torch.randn(*input_size, generator=g, dtype=torch.float64)
    report.compare("A @ x on a random image", A @ x.flatten(), op(x[None, None], kernel[None, None], stride=stride, padding=padding).flatten())
    return report


def check_conv_matrix(A, kernel, input_size, stride=1, padding=0) -> Report:
    """A matrix (out_h*out_w, H*W) meant to equal conv2d(kernel, stride, padding) on (H, W) inputs."""
    return _check_conv_like(A, kernel, input_size, stride, padding, transposed=False)


def check_conv_transpose_matrix(A, kernel, input_size, stride=1, padding=0) -> Report:
    """A matrix meant to equal conv_transpose2d(kernel, stride, padding) on (H, W) inputs."""
    return _check_conv_like(A, kernel, input_size, stride, padding, transposed=True)


# --------------------------------------------------------------------------------------------
# Identified regions (seed 004 §3) and the residual block's gradient (seed 000 Q8)
# --------------------------------------------------------------------------------------------


def check_identified_regions(fn: Callable) -> Report:
    """fn(layers) -> the number of regions identified onto (0, 1)^d, for layers [(W, b), ...]."""
    report = Report(f"check_identified_regions({getattr(fn, '__name__', fn)})")
    cases = {f"fold layer, L={L}, d={d}": [abs_fold_layer(d)] * L for L in (1, 2, 3) for d in (1, 2)}
    cases |= {"|3x - 1| (d=1)": [(torch.tensor([[3.0]]), torch.tensor([-1.0]))],
              "|3x - 1| twice (d=1)": [(torch.tensor([[3.0]]), torch.tensor([-1.0]))] * 2,
              "|x / 2| (d=1)": [(torch.tensor([[0.5]]), torch.tensor([0.0]))]}
    for name, layers in cases.items():
        got = report.run(name, fn, layers)
        if got is not None:
            want = count_identified_regions(layers)
            report.add(name, got == want, f"got {got}, expected {want}")
    return report


def check_gradient_formula(fn: Callable) -> Report:
    """fn(W, x) -> dL/dW for y = Wx, u = ReLU(y), v = u + Wu, L = ||v||^2 / 2, against autograd."""
    from .backprop import residual_relu_loss

    report = Report(f"check_gradient_formula({getattr(fn, '__name__', fn)})")
    for d in (1, 3, 8):
        for seed in (0, 1):
            g = torch.Generator().manual_seed(seed)
            W = torch.randn(d, d, generator=g, dtype=torch.float64, requires_grad=True)
            x = torch.randn(d, generator=g, dtype=torch.float64)
            (reference,) = torch.autograd.grad(residual_relu_loss(W, x), W)
            got = report.run(f"d = {d}, seed {seed}", fn, W.detach().clone(), x.clone())
            if got is not None:
                report.compare(f"d = {d}, seed {seed}", got, reference)
    return report


def check_saliency(fn: Callable) -> Report:
    """fn(model, x, target) -> (N, H, W) saliency maps (max over channels of |d score / d x|)."""
    report = Report(f"check_saliency({getattr(fn, '__name__', fn)})")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 8 * 8, 5)).double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    for target in (1, [0, 4]):
        xr = x.clone().requires_grad_(True)
        model(xr).gather(1, torch.as_tensor(target).expand(2)[:, None]).sum().backward()
        got = report.run(f"target {target}", fn, model, x.clone(), target)
        if got is not None:
            report.compare(f"target {target}", got, xr.grad.abs().amax(1))
    return report


# --------------------------------------------------------------------------------------------
# Kinks of a network R -> R (seed 000 Q4-Q5) and the review's length (seed 004 §5)
# --------------------------------------------------------------------------------------------


def check_kinks(points, net, lo: float, hi: float) -> Report:
    """Your list of the points in (lo, hi) where `net` (R -> R) is not differentiable, against the exact ones."""
    from .regions import breakpoints_1d

    report = Report(f"check_kinks({len(points)} points on ({lo}, {hi}))")
    exact = breakpoints_1d(net, lo, hi)
    yours = sorted(float(p) for p in points)
    missing = [t for t in exact if not any(abs(t - p) < 1e-9 for p in yours)]
    extra = [p for p in yours if not any(abs(t - p) < 1e-9 for t in exact)]
    report.add("number of kinks", len(yours) == len(exact), f"you listed {len(yours)}, the network has {len(exact)}")
    report.add("no kink missing", not missing, f"missing {missing}" if missing else "")
    report.add("no extra points", not extra, f"not kinks: {extra}" if extra else "")
    return report


def count_words(text: str) -> int:
    """Words: runs of letters and digits, with inner apostrophes, dots, hyphens and percent signs."""
    import re

    return len(re.findall(r"[A-Za-z0-9][\w'.%-]*", text))


def check_word_count(text: str, limit: int = 350) -> Report:
    """Whether an answer fits the word limit (words as counted by `count_words`)."""
    words = count_words(text)
    report = Report(f"check_word_count(limit {limit})")
    report.add(f"at most {limit} words", words <= limit, f"{words} words")
    return report
