"""The paper review (GT §5): word counts, and the label-noise experiment.

Words are runs of letters and digits of any script (Latin, Cyrillic,
Greek, ...) that may carry inner apostrophes, dots, hyphens and percent
signs, so "don't", "3.5", "state-of-the-art" and "95%" each count once,
while punctuation, LaTeX braces and markdown symbols count as nothing.
The counter lives with the checks (hwlib.check.review), which use it for
check_word_count; this module is its home for the book's prose.

The chapter's label-noise experiment reads its labels with `label_shares`
and draws its runs with `plot_noise_runs` (no training here: the runs come
from hwlib.train, which the student build does not ship).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from . import _validate
from .check.review import count_words

__all__ = ["count_words", "label_shares", "plot_noise_runs"]


def label_shares(true: Tensor, noisy: Tensor, num_classes: int) -> Tensor:
    """The (C, C) float64 matrix S of label shares, C = num_classes.

    S[c, k] = #{i : true[i] = c and noisy[i] = k} / #{i : true[i] = c},
    the share of the images of true class c that carry label k (each row
    sums to 1; a class with no image gets a row of NaN). true and noisy
    are (N,) integer labels in 0..C-1 on one device.
    """
    true = _validate.tensor("true", true, shape="(N,)", dtype="integer")
    noisy = _validate.tensor("noisy", noisy, shape="(N,)", dtype="integer")
    _validate.integer("num_classes", num_classes)
    if len(true) != len(noisy):
        raise ValueError(
            f"true and noisy must have the same length, got {len(true)} "
            f"and {len(noisy)}"
        )
    for name, t in (("true", true), ("noisy", noisy)):
        if len(t) and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(
                f"{name} must lie in 0..{num_classes - 1} (num_classes="
                f"{num_classes}), got values {int(t.min())}..{int(t.max())}"
            )
    pairs = (true.cpu() * num_classes + noisy.cpu()).long()
    counts = torch.bincount(pairs, minlength=num_classes**2).double()
    counts = counts.reshape(num_classes, num_classes)
    return counts / counts.sum(1, keepdim=True)


def plot_noise_runs(
    levels: Sequence[float],
    records: Sequence,
    chosen: Sequence[int],
    chance: float,
) -> Figure:
    """Two panels for runs trained with a share `levels[j]` of labels
    replaced (records[j]: test_acc and train_acc per epoch; chosen[j]: the
    0-based epoch picked on validation).

    Left: clean test accuracy against the share replaced, after the last
    epoch and at the chosen epoch, with a line at `chance`. Right: per
    epoch (from 1), test accuracy (solid) and the running training
    accuracy on the run's own noisy labels (dashed), a dot at the chosen
    epoch.
    """
    if not len(levels) == len(records) == len(chosen):
        raise ValueError(
            "levels, records and chosen must have the same length, got "
            f"{len(levels)}, {len(records)} and {len(chosen)}"
        )
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    percent = [100 * p for p in levels]
    final = [r.test_acc[-1] for r in records]
    stopped = [r.test_acc[e] for r, e in zip(records, chosen)]
    left.plot(percent, final, "o-", label="after the last epoch")
    left.plot(percent, stopped, "s--", label="epoch chosen on validation")
    left.axhline(chance, color="0.4", ls=":", label="chance")
    left.set(xlabel="training labels replaced (%)", ylabel="test accuracy")
    left.set_title("clean test accuracy")
    left.legend()
    for p, record, e in zip(levels, records, chosen):
        x = range(1, len(record.test_acc) + 1)
        (line,) = right.plot(x, record.test_acc, label=f"{p:.0%} replaced")
        colour = line.get_color()
        right.plot(x, record.train_acc, "--", color=colour, lw=1)
        right.plot(e + 1, record.test_acc[e], "o", color=colour)
    right.set(xlabel="epoch (dot: chosen on validation)", ylabel="accuracy")
    right.set_title("test (solid), running train on noisy labels (dashed)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
