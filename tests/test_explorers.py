"""The explorers' precomputed frames against independent computations.

Each frame of a slider is what the HTML reader sees at that slider position,
so each is checked: the Q5 network against its closed form, the convolution
matrix and windows against torch's conv2d (one-hot inputs and autograd), the
folded map against direct iteration of |2x - 1|.
"""

import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from conftest import one_hot_conv_matrix

from hwlib import explorers
from hwlib.explorers import (
    WEIGHT_KEYFRAMES,
    conv_explorer,
    fold_explorer,
    show,
    weight_explorer,
)


def check_slider(fig: go.Figure) -> None:
    """One slider step per frame, each animating to its own frame."""
    (slider,) = fig.layout.sliders
    assert [list(s.args[0]) for s in slider.steps] == [
        [f.name] for f in fig.frames
    ]
    assert len({f.name for f in fig.frames}) == len(fig.frames)
    # the figure starts on the first frame
    for shown, first in zip(fig.data, fig.frames[0].data):
        assert shown.to_plotly_json() == first.to_plotly_json()


# ---------------------------------------------------------------- Q5 weights


def test_weight_explorer_frames_follow_the_loop_and_the_closed_form():
    steps = 4
    fig = weight_explorer(steps_per_leg=steps)
    check_slider(fig)
    keys = np.array(WEIGHT_KEYFRAMES)
    expected = [
        (1 - s / steps) * a + s / steps * b
        for a, b in zip(keys, np.roll(keys, -1, axis=0))
        for s in range(steps)
    ]
    assert len(fig.frames) == len(expected) == 4 * steps
    for frame, w in zip(fig.frames, expected):
        graph, kinks = frame.data
        np.testing.assert_allclose(graph.customdata[0], w, atol=1e-12)
        w11, w12, w21, w22 = w
        x = np.array(graph.x)
        y = w21 * np.maximum(w11 * x, 0) + w22 * np.maximum(w12 * x, 0)
        np.testing.assert_allclose(graph.y, y, atol=1e-12)
        # slopes right and left of 0: a kink exactly when they differ
        right = w21 * w11 * (w11 > 0) + w22 * w12 * (w12 > 0)
        left = w21 * w11 * (w11 < 0) + w22 * w12 * (w12 < 0)
        has_kink = abs(right - left) > 1e-12
        assert list(kinks.x) == ([0.0] if has_kink else [])
        title = frame.layout.title.text
        shape = (
            "linear"
            if not has_kink
            else "convex"
            if right > left
            else "concave"
        )
        assert title.endswith(shape), (w, title)
        assert "neither" not in title


def test_weight_explorer_visits_every_keyframe():
    fig = weight_explorer(steps_per_leg=3)
    starts = [f.data[0].customdata[0] for f in fig.frames[::3]]
    np.testing.assert_allclose(starts, WEIGHT_KEYFRAMES)


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("weights: an empty leg", lambda: weight_explorer(steps_per_leg=0),
        ValueError, "steps_per_leg must be an int >= 1, got 0"),
    ("weights: half a step per leg", lambda: weight_explorer(steps_per_leg=0.5),
        TypeError, "steps_per_leg must be an int >= 1, got 0.5 (float)"),
    ("weights: one grid point", lambda: weight_explorer(num=1),
        ValueError, "num must be an int >= 2, got 1"),
    ("weights: 400,000 frames", lambda: weight_explorer(steps_per_leg=10**5),
        ValueError, "steps_per_leg must be at most 32 (more frames than render in a few seconds), got 100000"),
    ("weights: a million grid points", lambda: weight_explorer(num=10**6),
        ValueError, "num must be at most 1001"),
    ("conv: a 28x28 input (cost grows like size^6)", lambda: conv_explorer(input_size=28),
        ValueError, "conv_explorer would draw A (784 x 784) in each of its 784 frames"),
    ("conv: a tall input", lambda: conv_explorer(input_size=(40, 3), padding=0, kernel_size=1),
        ValueError, "more than MAX_CONV_NUMBERS = 100000"),
    ("weights: lo > hi", lambda: weight_explorer(lo=1, hi=-1),
        ValueError, "need lo < hi, got lo=1.0, hi=-1.0"),
    ("weights: lo a str", lambda: weight_explorer(lo="-5"),
        TypeError, "lo must be a real number, got '-5' (str)"),
    ("conv: kernel larger than the input", lambda: conv_explorer(kernel_size=5, input_size=2, padding=0),
        ValueError, "larger than the padded input"),
    ("conv: float kernel size", lambda: conv_explorer(kernel_size=2.5),
        TypeError, "kernel_size must be an int or a pair of ints, got 2.5"),
    ("conv: three strides", lambda: conv_explorer(stride=(1, 1, 1)),
        TypeError, "stride must be an int or a pair of ints, got (1, 1, 1)"),
    ("conv: negative padding", lambda: conv_explorer(padding=-1),
        ValueError, "padding must be >= 0 (an int or a pair), got -1"),
    ("fold: no layers", lambda: fold_explorer(0),
        ValueError, "max_layers must be an int in [1, 6], got 0"),
    ("fold: too deep", lambda: fold_explorer(7),
        ValueError, "max_layers must be an int in [1, 6], got 7"),
    ("fold: a str", lambda: fold_explorer("3"),
        TypeError, "max_layers must be an int in [1, 6], got '3' (str)"),
    ("show: not a figure", lambda: show({"data": []}),
        TypeError, "fig must be a plotly Figure"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


# ---------------------------------------------------------- conv matrix


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def one_hot_matrix(kernel, size, stride, padding):
    """conftest.one_hot_conv_matrix for an (h, w) input.

    Built for the square n = max(h, w) input, then restricted to the output
    positions and input pixels that the (h, w) input has: where a window
    sits depends on the output position, stride and padding alone, and the
    pixels an (h, w) input lacks are its padding zeros (their columns are
    dropped). For a square input it is one_hot_conv_matrix itself.
    """
    (h, w), (kh, kw) = size, kernel.shape
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n = max(h, w)
    A = one_hot_conv_matrix(kernel, n, stride, padding)
    out_h, out_w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    square_w = (n + 2 * pw - kw) // sw + 1
    rows = [p * square_w + q for p in range(out_h) for q in range(out_w)]
    cols = [r * n + c for r in range(h) for c in range(w)]
    return A[rows][:, cols]


@pytest.mark.parametrize(
    "k, size, stride, padding",
    [
        (3, 5, 1, 1),
        (3, 5, 2, 1),
        (2, 4, 2, 0),
        (3, 3, 2, 1),
        ((2, 3), (4, 5), (1, 2), (0, 1)),  # pairs (height, width)
    ],
)
def test_conv_explorer_rows_and_windows_match_torch(k, size, stride, padding):
    fig = conv_explorer(k, size, stride=stride, padding=padding)
    check_slider(fig)
    (kh, kw), (h, w) = pair(k), pair(size)
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    kernel = torch.arange(1, kh * kw + 1, dtype=torch.float64)
    kernel = kernel.reshape(kh, kw)
    A = one_hot_matrix(kernel, (h, w), stride, padding)
    out_w = (w + 2 * pw - kw) // sw + 1
    assert len(fig.frames) == A.shape[0]
    for row, frame in enumerate(fig.frames):
        matrix, frame_box, window, kernel_box = frame.data
        np.testing.assert_array_equal(np.array(matrix.z), A.numpy())
        assert frame_box.y[:2] == (row - 0.5, row - 0.5)
        # the window: which kernel weight multiplies each input pixel
        x = torch.zeros(1, 1, h, w, dtype=torch.float64, requires_grad=True)
        y = F.conv2d(x, kernel[None, None], stride=stride, padding=padding)
        (grad,) = torch.autograd.grad(y.flatten()[row], x)
        np.testing.assert_array_equal(np.array(window.z), grad[0, 0].numpy())
        p, q = divmod(row, out_w)
        top, left = p * sh - ph, q * sw - pw
        assert kernel_box.x[0] == left - 0.5 and kernel_box.y[0] == top - 0.5
        assert kernel_box.x[1] == left + kw - 0.5
        assert kernel_box.y[2] == top + kh - 0.5
        assert window.xaxis == "x2" and kernel_box.yaxis == "y2"


def test_conv_explorer_title_names_the_sizes():
    square = conv_explorer(3, 5, stride=1, padding=1).layout.title.text
    assert square == "kernel 3x3, stride 1, padding 1: output 5x5"
    pairs = conv_explorer((2, 3), (4, 5), stride=(1, 2), padding=(0, 1))
    assert pairs.layout.title.text == (
        "kernel 2x3, stride (1, 2), padding (0, 1): output 3x3"
    )


# ---------------------------------------------------------------- folding


@pytest.mark.parametrize("max_layers", [1, 3, 5])
def test_fold_explorer_frames_match_direct_iteration(max_layers):
    fig = fold_explorer(max_layers)
    check_slider(fig)
    assert [f.name for f in fig.frames] == [
        str(L) for L in range(1, max_layers + 1)
    ]
    rng = np.random.default_rng(0)
    for L, frame in enumerate(fig.frames, start=1):
        line, kept, flipped, square = frame.data
        xs, ys = np.array(line.x), np.array(line.y)
        assert len(xs) == 2**L + 1  # 2^L pieces, exact vertices

        def fold(x, L=L):
            for _ in range(L):
                x = np.abs(2 * x - 1)
            return x

        np.testing.assert_allclose(ys, fold(xs), atol=1e-12)
        probe = rng.uniform(0, 1, 1000)  # the polyline is the map itself
        np.testing.assert_allclose(
            np.interp(probe, xs, ys), fold(probe), atol=1e-12
        )
        # 2^L shaded intervals of width 2^-L (5 corners and a gap each),
        # shaded by whether the map runs down (reversed) on them
        edges = np.arange(2**L + 1) / 2**L
        reversed_ = fold(edges[:-1]) > fold(edges[1:])
        for trace, expect in ((kept, ~reversed_), (flipped, reversed_)):
            lefts = sorted({v for v in trace.x[::6]})
            np.testing.assert_allclose(lefts, edges[:-1][expect])
        assert len(kept.x) + len(flipped.x) == 6 * 2**L
        # the square: 4^L boxes on the 2^L grid; colour = which coordinates
        # are reversed (x1: 2, x2: 1), hover = each region's own number
        z = np.array(square.z)
        np.testing.assert_array_equal(
            z, 2 * reversed_[None, :] + reversed_[:, None]
        )
        assert sorted(np.array(square.customdata).flatten()) == list(
            range(4**L)
        )
        np.testing.assert_allclose(square.x, edges)
        assert frame.layout.title.text.startswith(
            f"L = {L}: {2**L} regions of the line, {4**L} of the square"
        )


# ---------------------------------------------------------------- show


def test_show_sends_plotly_json_and_html_that_loads_the_books_plotly(
    monkeypatch,
):
    import IPython.display

    shown = []
    monkeypatch.setattr(
        IPython.display, "display", lambda obj, raw: shown.append(obj)
    )
    fig = fold_explorer(2)
    show(fig)
    show(fig)
    (first, second) = shown
    spec = first["application/vnd.plotly.v1+json"]
    assert spec["data"] == json.loads(fig.to_json())["data"]
    assert len(spec["frames"]) == 2
    html = first["text/html"]
    assert "_static/plotly/plotly.min.js" in html  # in the book
    assert explorers._cdn() in html  # elsewhere
    assert json.dumps(spec) in html
    # two displays of one figure on one page get two element ids
    ids = [s["text/html"].split('id="')[1].split('"')[0] for s in shown]
    assert ids[0] != ids[1]
    with pytest.raises(TypeError, match="plotly Figure"):
        show({"data": []})
