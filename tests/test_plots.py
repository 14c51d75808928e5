import matplotlib
import matplotlib.pyplot as plt

from hwlib.gates import or_network
from hwlib.plots import (
    plot_curves,
    plot_fold_1d,
    plot_fold_2d,
    plot_network_1d,
    plot_sign_region,
)
from hwlib.record import TrainingRecord
from hwlib.regions import abs_fold_layer, sawtooth_network

matplotlib.use("Agg")  # works after pyplot's import: no figure is open yet


def test_plot_network_1d_draws_the_function_and_its_kinks():
    fig, ax = plt.subplots()
    plot_network_1d(sawtooth_network(2), 0, 1, ax=ax)
    curve, dots = ax.lines[0], ax.lines[1]
    assert list(dots.get_xdata()) == [
        0.25,
        0.5,
        0.75,
    ]  # the exact kinks are marked
    assert list(dots.get_ydata()) == [1.0, 0.0, 1.0]
    assert 0.5 in list(
        curve.get_xdata()
    )  # and sampled exactly, so the corners are sharp
    plt.close(fig)


def test_plot_sign_region_shades_the_positive_set():
    fig, ax = plt.subplots()
    plot_sign_region(
        or_network(), ax=ax, lim=1.0, num=5
    )  # ticks -1, -0.5, 0, 0.5, 1
    shown = ax.images[0].get_array()
    assert (
        shown[0, 0] == 0 and shown[4, 4] == 1 and shown[0, 4] == 1
    )  # (x1, x2) = (-1,-1), (1,1), (1,-1)
    assert shown[2, 2] == 0  # the origin is not positive
    plt.close(fig)


def test_fold_plots_shade_one_patch_per_region():
    fig, axes = plt.subplots(1, 3)
    drawn = plot_fold_1d([(2.0, -1.0)] * 3, axes=axes)
    assert drawn == list(axes)
    assert [len(ax.patches) for ax in axes] == [2, 4, 8]
    fig2, ax = plt.subplots()
    assert plot_fold_2d([abs_fold_layer(2)] * 2, ax=ax) is ax
    assert len(ax.patches) == 16
    plt.close("all")


def test_plots_draw_on_new_or_current_axes_and_return_them():
    panels = plot_fold_1d([(2.0, -1.0)] * 2, 0, 1)  # a new row of panels
    assert len(panels) == 2 and panels[0].figure is panels[1].figure
    assert [len(ax.patches) for ax in panels] == [2, 4]
    fig, ax = plt.subplots()
    assert plot_fold_2d([abs_fold_layer(2)]) is ax  # the current axes
    assert plot_sign_region(or_network()) is ax
    assert plot_network_1d(sawtooth_network(1)) is ax
    plt.close("all")


def _ax():
    return plt.subplots()[1]


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("plot_curves: one record instead of a dict", lambda: plot_curves(TrainingRecord(settings={}, device="cpu")),
        TypeError, "records must be a dict {name: TrainingRecord}, got one TrainingRecord; use plot_curves({'run': record})"),
    ("plot_curves: an empty dict", lambda: plot_curves({}),
        TypeError, "records must be a nonempty dict {name: TrainingRecord}, got {}"),
    ("plot_curves: a dict of numbers", lambda: plot_curves({"a": 0.5}),
        TypeError, "records['a'] must be a TrainingRecord, got float"),
    ("lo > hi", lambda: plot_network_1d(sawtooth_network(1), 1, 0, ax=_ax()),
        ValueError, "need lo < hi, got lo=1, hi=0"),
    ("num 1", lambda: plot_network_1d(sawtooth_network(1), num=1, ax=_ax()),
        ValueError, "num must be an int >= 2, got 1"),
    ("ax positional", lambda: plot_network_1d(sawtooth_network(1), 0, 1, _ax()),
        TypeError, "positional argument"),
    ("sign region of R -> R", lambda: plot_sign_region(sawtooth_network(1)),
        ValueError, "net must map R^2 -> R, it takes 1 inputs"),
    ("lim 0", lambda: plot_sign_region(or_network(), lim=0, ax=_ax()),
        ValueError, "lim must be a finite number in (0, inf), got 0.0"),
    ("more panels than layers", lambda: plot_fold_1d([(2.0, -1.0)], axes=plt.subplots(1, 2)[1]),
        ValueError, "axes: 2 panels but the chain has 1 layers"),
    ("axes by position (the old signature)", lambda: plot_fold_1d([(2.0, -1.0)], plt.subplots(1, 2)[1]),
        TypeError, "lo must be a real number"),
    ("chain not pairs", lambda: plot_fold_1d([2.0], axes=_ax()),
        ValueError, "chain[0] must be a pair (w, b), got 2.0"),
    ("empty chain", lambda: plot_fold_1d([]),
        ValueError, "chain must hold at least one pair (w, b), got []"),
    ("lo > hi", lambda: plot_fold_1d([(2.0, -1.0)], 1, 0, axes=_ax()),
        ValueError, "need lo < hi, got lo=1.0, hi=0.0"),
    ("mark_breakpoints not a bool", lambda: plot_network_1d(sawtooth_network(1), ax=_ax(), mark_breakpoints="yes"),
        TypeError, "mark_breakpoints must be True or False, got 'yes'"),
    ("3-D fold in a square", lambda: plot_fold_2d([abs_fold_layer(3)], ax=_ax()),
        ValueError, "layers must act on R^2 for a square, got d = 3"),
    ("fold square: ax by position", lambda: plot_fold_2d([abs_fold_layer(2)], 0, 1, _ax()),
        TypeError, "positional argument"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)
    plt.close("all")
