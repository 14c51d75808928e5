import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hwlib.plots import plot_network_1d  # noqa: E402
from hwlib.regions import sawtooth_network  # noqa: E402


def test_plot_network_1d_draws_the_function_and_its_kinks():
    fig, ax = plt.subplots()
    plot_network_1d(sawtooth_network(2), 0, 1, ax=ax)
    curve, dots = ax.lines[0], ax.lines[1]
    assert list(dots.get_xdata()) == [0.25, 0.5, 0.75]  # the exact kinks are marked
    assert list(dots.get_ydata()) == [1.0, 0.0, 1.0]
    assert 0.5 in list(curve.get_xdata())  # and sampled exactly, so the corners are sharp
    plt.close(fig)


def test_plot_sign_region_shades_the_positive_set():
    from hwlib.gates import or_network
    from hwlib.plots import plot_sign_region

    fig, ax = plt.subplots()
    plot_sign_region(or_network(), ax=ax, lim=1.0, num=5)  # ticks -1, -0.5, 0, 0.5, 1
    shown = ax.images[0].get_array()
    assert shown[0, 0] == 0 and shown[4, 4] == 1 and shown[0, 4] == 1  # (x1, x2) = (-1,-1), (1,1), (1,-1)
    assert shown[2, 2] == 0  # the origin is not positive
    plt.close(fig)


def test_fold_plots_shade_one_patch_per_region():
    from hwlib.plots import plot_fold_1d, plot_fold_2d
    from hwlib.regions import abs_fold_layer

    fig, axes = plt.subplots(1, 3)
    plot_fold_1d([(2.0, -1.0)] * 3, axes)
    assert [len(ax.patches) for ax in axes] == [2, 4, 8]
    fig2, ax = plt.subplots()
    plot_fold_2d([abs_fold_layer(2)] * 2, ax)
    assert len(ax.patches) == 16
    plt.close("all")
