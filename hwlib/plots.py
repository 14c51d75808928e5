"""Small plotting helpers shared by the chapters (matplotlib only)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from . import _validate
from .networks import FeedForwardNetwork
from .record import TrainingRecord
from .regions import (
    _chain,
    breakpoints_1d,
    identified_boxes,
    identified_intervals_1d,
)


def plot_network_1d(
    net: FeedForwardNetwork,
    lo: float = -5.0,
    hi: float = 5.0,
    *,
    ax: plt.Axes | None = None,
    label: str | None = None,
    mark_breakpoints: bool = True,
    num: int = 801,
    **line_kwargs,
) -> plt.Axes:
    """Plot a network R -> R on [lo, hi], exact kinks sharp and dotted.

    The curve is sampled at `num` points of [lo, hi] plus the exact kinks
    (`breakpoints_1d`), so its corners are drawn sharp; with
    mark_breakpoints the kinks are also marked with dots. Draws on `ax`
    (default: the current axes) and returns it.
    """
    num = _validate.integer("num", num, minimum=2)
    mark_breakpoints = _validate.boolean("mark_breakpoints", mark_breakpoints)
    kinks = breakpoints_1d(net, lo, hi)
    ax = ax if ax is not None else plt.gca()
    xs = torch.cat(
        [
            torch.linspace(lo, hi, num, dtype=torch.float64),
            torch.tensor(kinks, dtype=torch.float64),
        ]
    )
    xs = xs.sort().values
    with torch.no_grad():
        (line,) = ax.plot(xs, net.f1d(xs), label=label, **line_kwargs)
        if mark_breakpoints and kinks:
            k = torch.tensor(kinks, dtype=torch.float64)
            ax.plot(k, net.f1d(k), "o", color=line.get_color(), ms=4)
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("$x$")
    return ax


def plot_sign_region(
    net: FeedForwardNetwork,
    *,
    ax: plt.Axes | None = None,
    lim: float = 2.0,
    num: int = 401,
    title: str | None = None,
) -> plt.Axes:
    """Shade where a network R^2 -> R is positive over [-lim, lim]^2."""
    lim = _validate.real("lim", lim, low=0, low_open=True)
    num = _validate.integer("num", num, minimum=2)
    if getattr(net, "in_features", 2) != 2:
        raise ValueError(
            f"net must map R^2 -> R, it takes {net.in_features} inputs"
        )
    ax = ax if ax is not None else plt.gca()
    ticks = torch.linspace(-lim, lim, num, dtype=torch.float64)
    grid = torch.cartesian_prod(
        ticks, ticks
    )  # rows: (x1, x2) with x2 varying fastest
    with torch.no_grad():
        positive = (
            (net(grid)[:, 0] > 0).reshape(num, num).T
        )  # [x2 index, x1 index]
    ax.imshow(
        positive.numpy(),
        origin="lower",
        extent=(-lim, lim, -lim, lim),
        cmap="Blues",
        vmin=0,
        vmax=1.6,
    )
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_fold_1d(
    chain,
    lo: float = 0.0,
    hi: float = 1.0,
    *,
    axes=None,
    num: int = 1001,
) -> list[plt.Axes]:
    """Draw x -> |w_l ... |w_1 x + b_1| ... + b_l| on [lo, hi], l = 1, 2, ...

    `chain` is a list of (w, b) pairs; panel l draws the stack of its first
    l layers and shades the intervals it maps onto (lo, hi)
    (`identified_intervals_1d`). `axes`: one Axes per panel (fewer than
    the layers draws only the first ones; a single Axes draws l = 1); by
    default a new row of len(chain) panels. Returns the panels' axes.
    """
    num = _validate.integer("num", num, minimum=2)
    lo, hi = _validate.real("lo", lo), _validate.real("hi", hi)
    pairs = _chain(chain)
    if not pairs:
        raise ValueError("chain must hold at least one pair (w, b), got []")
    if axes is None:
        _, axes = plt.subplots(
            1, len(pairs), figsize=(3 * len(pairs), 2.6), squeeze=False
        )
        axes = axes[0]
    axes = list(axes) if hasattr(axes, "__iter__") else [axes]
    if len(axes) > len(pairs):
        raise ValueError(
            f"axes: {len(axes)} panels but the chain has {len(pairs)} layers"
        )
    xs = torch.linspace(lo, hi, num, dtype=torch.float64)
    ys = xs.clone()
    colours = plt.get_cmap("tab20")
    for depth, ax in enumerate(axes, start=1):
        intervals = identified_intervals_1d(pairs[:depth], lo, hi)
        w, b = pairs[depth - 1]
        ys = (float(w) * ys + float(b)).abs()
        for i, (a, c) in enumerate(intervals):
            ax.axvspan(
                float(a), float(c), color=colours(i % 20), alpha=0.5, lw=0
            )
        ax.plot(xs, ys, color="k", lw=1)
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.set_title(
            f"{depth} layer{'s' if depth > 1 else ''}: "
            f"{len(intervals)} regions",
            fontsize=9,
        )
        ax.set_xlabel("$x$")
    return axes


def plot_fold_2d(
    layers,
    lo: float = 0.0,
    hi: float = 1.0,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Colour each identified region of the square (lo, hi)^2, a box each.

    layers: pairs (W, b) of a stack h -> |W h + b| on R^2, as in
    `identified_boxes`. Draws on `ax` (default: the current axes) and
    returns it.
    """
    from matplotlib.patches import Rectangle

    boxes = identified_boxes(layers, lo, hi)
    ax = ax if ax is not None else plt.gca()
    if boxes and len(boxes[0]) != 2:
        raise ValueError(
            f"layers must act on R^2 for a square, got d = {len(boxes[0])}"
        )
    colours = plt.get_cmap("tab20")
    for i, ((x0, x1), (y0, y1)) in enumerate(boxes):
        ax.add_patch(
            Rectangle(
                (float(x0), float(y0)),
                float(x1 - x0),
                float(y1 - y0),
                color=colours(i % 20),
            )
        )
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_title(title or f"{len(boxes)} regions", fontsize=9)
    return ax


def plot_curves(
    records: dict[str, TrainingRecord], axes=None, *, held_out: str = "test"
):
    """Loss and accuracy per epoch, train (dashed) and held-out (solid), one
    colour per run; held_out names the split drawn solid: "test" or "val"
    (the validation split, for choices that must not see the test set)."""
    if held_out not in ("test", "val"):
        raise ValueError(f"held_out must be 'test' or 'val', got {held_out!r}")
    _check_records(records)
    for name, r in records.items():
        if not getattr(r, f"{held_out}_loss"):
            raise ValueError(f"held_out={held_out!r}: run {name!r} has none")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (name, r), colour in zip(records.items(), colours):
        loss, acc = (getattr(r, f"{held_out}_{k}") for k in ("loss", "acc"))
        epochs = range(1, len(loss) + 1)
        pairs = ((axes[0], r.train_loss, loss), (axes[1], r.train_acc, acc))
        for ax, train, test in pairs:
            if train:
                ax.plot(
                    epochs, train, "--", color=colour, label=f"{name}: train"
                )
            label = f"{name}: {'validation' if held_out == 'val' else 'test'}"
            ax.plot(epochs, test, "-", color=colour, label=label)
    axes[0].set_ylabel("cross-entropy loss")
    axes[1].set_ylabel("accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return axes


def _check_records(records) -> None:
    """records is a nonempty {name: TrainingRecord}."""
    if isinstance(records, TrainingRecord):
        raise TypeError(
            "records must be a dict {name: TrainingRecord}, got one "
            "TrainingRecord; use plot_curves({'run': record})"
        )
    if not isinstance(records, dict) or not records:
        raise TypeError(
            "records must be a nonempty dict {name: TrainingRecord}, got "
            f"{records!r:.80}"
        )
    for name, r in records.items():
        if not isinstance(r, TrainingRecord):
            raise TypeError(
                f"records[{name!r}] must be a TrainingRecord, got "
                f"{type(r).__name__}"
            )
