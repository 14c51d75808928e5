"""Small plotting helpers shared by the chapters (matplotlib only)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .networks import ReLUNetwork
from .regions import breakpoints_1d


def plot_network_1d(
    net: ReLUNetwork,
    lo: float = -5.0,
    hi: float = 5.0,
    ax: plt.Axes | None = None,
    label: str | None = None,
    mark_breakpoints: bool = True,
    num: int = 801,
    **line_kwargs,
) -> plt.Axes:
    """Plot a network R -> R on [lo, hi], its exact kinks drawn sharp and marked with dots."""
    ax = ax if ax is not None else plt.gca()
    kinks = breakpoints_1d(net, lo, hi)
    xs = torch.cat([torch.linspace(lo, hi, num, dtype=torch.float64), torch.tensor(kinks, dtype=torch.float64)])
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
    net: ReLUNetwork, ax: plt.Axes | None = None, lim: float = 2.0, num: int = 401, title: str | None = None
) -> plt.Axes:
    """Shade where a network R^2 -> R is positive, over [-lim, lim]^2, with the axes drawn."""
    ax = ax if ax is not None else plt.gca()
    ticks = torch.linspace(-lim, lim, num, dtype=torch.float64)
    grid = torch.cartesian_prod(ticks, ticks)  # rows: (x1, x2) with x2 varying fastest
    with torch.no_grad():
        positive = (net(grid)[:, 0] > 0).reshape(num, num).T  # [x2 index, x1 index]
    ax.imshow(positive.numpy(), origin="lower", extent=(-lim, lim, -lim, lim), cmap="Blues", vmin=0, vmax=1.6)
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
