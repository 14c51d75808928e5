"""Explorers that work in the static HTML book: plotly figures with sliders.

Each function computes every slider position in Python, with hwlib, and
returns a `plotly.graph_objects.Figure` whose frames hold the precomputed
pictures; moving the slider only switches frames, so the figure needs
plotly.js but no kernel. `show(fig)` displays a figure in the HTML book
(plotly.js served by the book itself, no network), in JupyterLab and in
Colab.

* `weight_explorer`: a width-2 ReLU network without biases (seed 000 Q5)
  while its four weights move along a loop through the chapter's examples.
* `conv_explorer`: the matrix A of a convolution (seed 004 §1); the slider
  picks an output pixel, highlighting its row of A and the input window
  that row reads.
* `fold_explorer`: L layers h -> |2h - 1| (seed 004 §3); the slider sets L
  and shows the folded map of (0, 1) and the identified regions of the line
  and of the square.
"""

from __future__ import annotations

import hashlib
import itertools
import json

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from . import _validate
from .conv import conv2d_matrix, conv2d_output_size
from .networks import (
    convexity_report,
    interpolate_networks,
    no_bias_network,
)
from .regions import (
    abs_fold_layer,
    box_orientations,
    breakpoints_1d,
    fold_pieces_1d,
    identified_boxes,
    identified_intervals_1d,
)

__all__ = [
    "ORIENTATIONS",
    "WEIGHT_KEYFRAMES",
    "conv_explorer",
    "fold_explorer",
    "show",
    "weight_explorer",
]

# Q5's examples, visited in a loop: (w11, w12, w21, w22).
WEIGHT_KEYFRAMES = (
    (1.0, -1.0, 1.0, -1.0),  # (a) linear: relu(x) - relu(-x) = x
    (1.0, -1.0, 1.0, 1.0),  # (c) convex: |x|
    (1.0, -1.0, 0.5, -2.0),  # concave: slopes 2 then 0.5
    (2.0, 1.0, -1.0, 0.5),  # concave: flat, then slope -1.5
)

_ANIMATE = {
    "mode": "immediate",
    "frame": {"duration": 0, "redraw": True},
    "transition": {"duration": 0},
}


MAX_STEPS_PER_LEG = 32
"""weight_explorer's largest steps_per_leg (4 legs: 128 frames)."""
MAX_GRID_POINTS = 1001
"""weight_explorer's largest num (points of each frame's curve)."""
MAX_CONV_NUMBERS = 100_000
"""conv_explorer's largest frames x entries of A (input 6 x 6: 46,656)."""


def _at_most(name: str, value: int, limit: int, what: str) -> None:
    """Refuse at once a size that would take long to build and render."""
    if value > limit:
        raise ValueError(
            f"{name} must be at most {limit} (more {what} than render in "
            f"a few seconds), got {value}"
        )


def _slider_figure(
    fig: go.Figure, frames: list[go.Frame], labels: list[str], prefix: str
) -> go.Figure:
    """Start `fig` at the first frame and add one slider step per frame."""
    fig.add_traces(frames[0].data)
    fig.update_layout(frames[0].layout)
    fig.frames = frames
    steps = [
        {"method": "animate", "label": label, "args": [[frame.name], _ANIMATE]}
        for frame, label in zip(frames, labels)
    ]
    fig.update_layout(
        sliders=[
            {
                "steps": steps,
                "active": 0,
                "pad": {"t": 40},
                "currentvalue": {"prefix": prefix},
            }
        ],
        margin={"l": 50, "r": 20, "t": 60, "b": 20},
    )
    return fig


def weight_explorer(
    steps_per_leg: int = 8, lo: float = -5.0, hi: float = 5.0, num: int = 201
) -> go.Figure:
    """Q5's network while its weights move along a loop of straight lines.

    The network is `hwlib.networks.no_bias_network(w11, w12, w21, w22)`,
    x -> w21 ReLU(w11 x) + w22 ReLU(w12 x). The loop runs through
    `WEIGHT_KEYFRAMES` and back to the first; each leg is `steps_per_leg`
    points of `interpolate_networks`, (1 - s) θ_start + s θ_end for
    s = 0, 1/steps_per_leg, ... Each frame draws the
    network on `num` grid points of [lo, hi], marks its exact kinks
    (`breakpoints_1d`) and says whether it is convex or concave
    (`convexity_report`): whatever the weights, at most one kink (at 0) and
    never neither.

    Frame i holds trace 0 (the graph, x and y) and trace 1 (the kinks);
    frame i's name is str(i) and its `customdata` on trace 0 is the weights.
    """
    steps_per_leg = _validate.integer("steps_per_leg", steps_per_leg)
    num = _validate.integer("num", num, minimum=2)
    _at_most("steps_per_leg", steps_per_leg, MAX_STEPS_PER_LEG, "frames")
    _at_most("num", num, MAX_GRID_POINTS, "grid points per frame")
    lo, hi = _validate.real("lo", lo), _validate.real("hi", hi)
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    grid = torch.linspace(lo, hi, num, dtype=torch.float64)
    keys = [no_bias_network(*w) for w in WEIGHT_KEYFRAMES]
    frames, labels = [], []
    for start, end in zip(keys, keys[1:] + keys[:1]):
        for s in range(steps_per_leg):
            net = interpolate_networks(start, end, s / steps_per_leg)
            w1 = net.weights[0].flatten().tolist()
            w2 = net.weights[1].flatten().tolist()
            weights = [*w1, *w2]
            y = net.f1d(grid).detach()
            kinks = [float(k) for k in breakpoints_1d(net, lo, hi)]
            report = convexity_report(y)
            shape = (
                "linear"
                if report["linear"]
                else "convex"
                if report["convex"]
                else "concave"
                if report["concave"]
                else "neither"
            )
            title = (
                "W1 = ({:.2f}, {:.2f}), W2 = ({:.2f}, {:.2f}): ".format(
                    *weights
                )
                + f"{len(kinks)} kink{'s' * (len(kinks) != 1)}, "
                + shape
            )
            kink_y = net.f1d(torch.tensor(kinks, dtype=torch.float64))
            frames.append(
                go.Frame(
                    name=str(len(frames)),
                    data=[
                        go.Scatter(
                            x=grid.tolist(),
                            y=y.tolist(),
                            mode="lines",
                            name="f(x)",
                            customdata=[weights],
                            line={"color": "#1f77b4"},
                        ),
                        go.Scatter(
                            x=kinks,
                            y=kink_y.detach().tolist(),
                            mode="markers",
                            name="kink",
                            marker={"size": 10, "color": "#d62728"},
                        ),
                    ],
                    layout={"title": {"text": title, "font": {"size": 13}}},
                )
            )
            labels.append(str(len(labels)))
    fig = go.Figure(
        layout={
            "xaxis": {"title": {"text": "x"}, "range": [lo, hi]},
            "yaxis": {"title": {"text": "f(x)"}, "range": [-6, 11]},
            "showlegend": False,
            "height": 420,
        }
    )
    return _slider_figure(fig, frames, labels, "step along the loop: ")


def _box(x0: float, x1: float, y0: float, y1: float) -> dict[str, list]:
    """A closed rectangle as x and y lists (None separates rectangles)."""
    return {"x": [x0, x1, x1, x0, x0, None], "y": [y0, y0, y1, y1, y0, None]}


def _weight_heatmap(
    values: torch.Tensor, names: list[str], gap: int, hover: str, **extra
) -> go.Heatmap:
    """values (entry numbers 1..len(names), 0 for none) in blues, each
    cell labelled with its weight's name (blank where 0)."""
    rows = values.tolist()
    return go.Heatmap(
        z=rows,
        text=[["" if v == 0 else names[int(v) - 1] for v in r] for r in rows],
        zmin=0,
        zmax=len(names),
        colorscale="Blues",
        showscale=False,
        xgap=gap,
        ygap=gap,
        hovertemplate=hover,
        **extra,
    )


def _size_text(pair: tuple[int, int]) -> str:
    """A stride or padding for a title: 3 for (3, 3), else (2, 3)."""
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


def conv_explorer(
    kernel_size: int | tuple[int, int] = 3,
    input_size: int | tuple[int, int] = 5,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 1,
) -> go.Figure:
    """The convolution matrix A, one output pixel at a time.

    Arguments as in `hwlib.conv.conv2d_matrix`: ints or pairs (height,
    width). The kernel's kh x kw entries are numbered 1..kh kw row by row
    (entry w_(a,b) is a kw + b + 1), so A shows which weight sits where.
    Left: A (rows: output pixels, columns: input pixels, both flattened
    row by row) with the selected row framed. Right: the input, each pixel
    coloured by the weight that row of A puts on it, with the kernel's
    window framed (it may hang over the zero padding, outside the image):
    output pixel (p, q) reads rows p s_h - pad_h .. + kh - 1 and columns
    q s_w - pad_w .. + kw - 1.

    Frame r (name str(r)) is output pixel r: trace 0 is A, trace 1 frames
    row r, trace 2 is row r of A reshaped to the input's (H, W), trace 3
    frames the window.
    """
    kh, kw = _validate.int_pair("kernel_size", kernel_size)
    size = _validate.int_pair("input_size", input_size)
    sh, sw = _validate.int_pair("stride", stride)
    ph, pw = _validate.int_pair("padding", padding, minimum=0)
    kernel = torch.arange(1, kh * kw + 1, dtype=torch.float64)
    kernel = kernel.reshape(kh, kw)
    out_h, out_w = conv2d_output_size(kernel.shape, size, stride, padding)
    rows, cols = out_h * out_w, size[0] * size[1]
    if rows * rows * cols > MAX_CONV_NUMBERS:  # A is drawn in every frame
        raise ValueError(
            f"conv_explorer would draw A ({rows} x {cols}) in each of its "
            f"{rows} frames: {rows * rows * cols} numbers, more than "
            f"MAX_CONV_NUMBERS = {MAX_CONV_NUMBERS} (what renders in a few "
            f"seconds); use a smaller input_size (at most about 6 x 6)"
        )
    A = conv2d_matrix(kernel, size, stride, padding)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.62, 0.38],
        horizontal_spacing=0.1,
        subplot_titles=(
            f"A ({A.shape[0]} x {A.shape[1]})",
            f"input ({size[0]} x {size[1]})",
        ),
    )
    names = [f"w{a}{b}" for a in range(kh) for b in range(kw)]
    matrix = _weight_heatmap(
        A, names, 1, "row %{y}, col %{x}: %{text}<extra></extra>"
    )
    frames, labels = [], []
    for row in range(A.shape[0]):
        p, q = divmod(row, out_w)
        top, left = p * sh - ph, q * sw - pw
        frames.append(
            go.Frame(
                name=str(row),
                data=[
                    matrix,
                    go.Scatter(
                        **_box(-0.5, A.shape[1] - 0.5, row - 0.5, row + 0.5),
                        mode="lines",
                        line={"color": "#d62728", "width": 3},
                        hoverinfo="skip",
                    ),
                    _weight_heatmap(
                        A[row].reshape(size),
                        names,
                        2,
                        "x(%{y}, %{x}): %{text}<extra></extra>",
                        texttemplate="%{text}",
                    ),
                    go.Scatter(
                        **_box(
                            left - 0.5,
                            left + kw - 0.5,
                            top - 0.5,
                            top + kh - 0.5,
                        ),
                        mode="lines",
                        hoverinfo="skip",
                        line={"color": "#d62728", "width": 3, "dash": "dash"},
                    ),
                ],
                traces=[0, 1, 2, 3],
            )
        )
        labels.append(f"({p},{q})")
    fig = _slider_figure(fig, frames, labels, "output pixel (i, j) = ")
    # the second pair of traces belongs to the right-hand panel
    for trace in fig.data[2:]:
        trace.update(xaxis="x2", yaxis="y2")
    for frame in fig.frames:
        for trace in frame.data[2:]:
            trace.update(xaxis="x2", yaxis="y2")
    fig.update_yaxes(
        autorange="reversed",
        row=1,
        col=1,
        title_text="output pixel (row of A)",
    )
    fig.update_xaxes(row=1, col=1, title_text="input pixel (column of A)")
    # the input with its padding: x from -pad_w - 1/2, y from -pad_h - 1/2
    x_range = [-pw - 0.5, size[1] + pw - 0.5]
    y_range = [size[0] + ph - 0.5, -ph - 0.5]  # reversed: row 0 on top
    fig.update_xaxes(range=x_range, row=1, col=2, constrain="domain")
    fig.update_yaxes(range=y_range, row=1, col=2, scaleanchor="x2")
    fig.update_layout(
        showlegend=False,
        height=430,
        title={
            "text": f"kernel {kh}x{kw},"
            f" stride {_size_text((sh, sw))},"
            f" padding {_size_text((ph, pw))}:"
            f" output {out_h}x{out_w}",
            "font": {"size": 13},
        },
    )
    return fig


# The chapter's colours for how a region is mapped onto the square.
ORIENTATIONS = ("neither reversed", "x2 reversed", "x1 reversed", "both")
_ORIENTATION_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")


def _reversed_intervals(chain) -> list[tuple[float, float, bool]]:
    """Identified intervals of a 1-D fold stack, each with 'is it reversed'
    (`box_orientations`, d = 1)."""
    flips = box_orientations(chain)
    return [
        (float(a), float(c), rev)
        for (a, c), (rev,) in zip(identified_intervals_1d(chain), flips)
    ]


def fold_explorer(max_layers: int = 4) -> go.Figure:
    """L fold layers h -> |2h - 1| for L = 1..max_layers.

    Left: the folded map of (0, 1), drawn through its exact vertices
    (`fold_pieces_1d`), with its 2^L identified intervals shaded
    (`identified_intervals_1d`): blue where the map keeps the direction,
    orange where it reverses it. Right: the 4^L identified boxes of the
    square for d = 2 (`identified_boxes`), coloured by which coordinates
    the map reverses (`ORIENTATIONS`), so that neighbours always differ.

    Frame L-1 (name str(L)): trace 0 is the map, traces 1 and 2 shade the
    kept and the reversed intervals, trace 3 is the square (z = index into
    ORIENTATIONS, customdata = region number in `identified_boxes` order).
    """
    max_layers = _validate.integer("max_layers", max_layers, maximum=6)
    w, b = abs_fold_layer(1)
    chain = [(float(w[0, 0]), float(b[0]))] * max_layers
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=("the folded line", "the square (d = 2)"),
    )
    # a colour per orientation: z = 0..3 in four equal bands
    colours = [
        [edge, colour]
        for k, colour in enumerate(_ORIENTATION_COLOURS)
        for edge in (k / 4, (k + 1) / 4)
    ]
    frames, labels = [], []
    for depth in range(1, max_layers + 1):
        pieces = fold_pieces_1d(chain[:depth])
        xs = [float(pieces[0].left)] + [float(p.right) for p in pieces]
        ys = [float(pieces[0].at(pieces[0].left)[0])]
        ys += [float(p.at(p.right)[0]) for p in pieces]
        intervals = _reversed_intervals(chain[:depth])
        shades = {False: ([], []), True: ([], [])}
        for a, c, rev in intervals:
            box = _box(a, c, 0.0, 1.0)
            shades[rev][0].extend(box["x"])
            shades[rev][1].extend(box["y"])
        # d = 2: the map is the 1-D stack on each coordinate
        boxes = identified_boxes([abs_fold_layer(2)] * depth)
        edges = [intervals[0][0]] + [c for _, c, _ in intervals]
        flip = {a: rev for a, _, rev in intervals}
        number = {
            (float(bx[0]), float(by[0])): k for k, (bx, by) in enumerate(boxes)
        }
        lefts = [a for a, _, _ in intervals]
        z = [[2 * flip[x1] + flip[x2] for x1 in lefts] for x2 in lefts]
        region = [[number[(x1, x2)] for x1 in lefts] for x2 in lefts]
        traces = [
            go.Scatter(
                x=xs, y=ys, mode="lines", line={"color": "black"}, name="map"
            )
        ]
        for rev, colour in ((False, "#aec7e8"), (True, "#ffbb78")):
            traces.append(
                go.Scatter(
                    x=shades[rev][0],
                    y=shades[rev][1],
                    fill="toself",
                    fillcolor=colour,
                    mode="none",
                    hoverinfo="skip",
                    opacity=0.6,
                )
            )
        traces.append(
            go.Heatmap(
                x=edges,
                y=edges,
                z=z,
                zmin=-0.5,
                zmax=3.5,
                customdata=region,
                text=[[ORIENTATIONS[v] for v in row] for row in z],
                colorscale=colours,
                showscale=False,
                xgap=1,
                ygap=1,
                xaxis="x2",
                yaxis="y2",
                hovertemplate="region %{customdata}: %{text}<extra></extra>",
            )
        )
        title = (
            f"L = {depth}: {len(intervals)} regions of the line, "
            f"{len(boxes)} of the square"
        )
        frames.append(
            go.Frame(
                name=str(depth),
                data=traces,
                layout={"title": {"text": title, "font": {"size": 13}}},
            )
        )
        labels.append(str(depth))
    fig.update_xaxes(range=[0, 1], title_text="x")
    fig.update_xaxes(title_text="x1", row=1, col=2)
    fig.update_yaxes(
        range=[0, 1], row=1, col=2, scaleanchor="x2", title_text="x2"
    )
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=1)
    fig.update_layout(showlegend=False, height=420)
    return _slider_figure(fig, frames, labels, "fold layers L = ")


# plotly.js for figures outside the book (Jupyter, Colab), same version.
def _cdn() -> str:
    from plotly.offline import get_plotlyjs_version

    return f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"


# In the book, <html data-content_root="../"> (Sphinx >= 7.2) locates the
# book's own copy of plotly.js (tools/web_assets.py); elsewhere: the CDN.
_HTML = """<div id="{id}" style="width: 100%; height: {height}px;"></div>
<script>
(function () {{
  var root = document.documentElement.dataset.content_root;
  window.hwlibPlotly = window.hwlibPlotly || new Promise(function (ok, no) {{
    if (window.Plotly) return ok(window.Plotly);
    var s = document.createElement("script");
    s.src = root === undefined ? "{cdn}"
                               : root + "_static/plotly/plotly.min.js";
    s.onload = function () {{ ok(window.Plotly); }};
    s.onerror = no;
    document.head.appendChild(s);
  }});
  window.hwlibPlotly.then(function (Plotly) {{
    Plotly.newPlot("{id}", {figure}).then(hwlibKeys);
  }});
  // The slider as a keyboard control (WCAG 2.1.1, 4.1.2): focusable, named
  // by its parameter, its value in aria-valuetext; arrows, Home, End move it.
  function hwlibKeys(gd) {{
    var steps = gd.layout.sliders[0].steps;
    var name = gd.layout.sliders[0].currentvalue.prefix.replace(/[:= ]+$/, "");
    var at = function () {{ return gd._fullLayout.sliders[0].active; }};
    var tag = function () {{
      var g = gd.querySelector(".slider-group");
      var set = {{tabindex: 0, role: "slider", "aria-label": name,
                 "aria-valuemin": 0, "aria-valuemax": steps.length - 1,
                 "aria-valuenow": at(), "aria-valuetext": steps[at()].label}};
      for (var k in set) g.setAttribute(k, set[k]);
    }};
    tag();
    gd.on("plotly_afterplot", tag);
    gd.on("plotly_sliderchange", tag);
    gd.addEventListener("keydown", function (e) {{
      if (!e.target.closest || !e.target.closest(".slider-group")) return;
      var move = {{ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1}};
      var last = steps.length - 1;
      var i = e.key === "Home" ? 0 : e.key === "End" ? last
              : move[e.key] === undefined ? null : at() + move[e.key];
      if (i === null) return;
      e.preventDefault();
      i = Math.max(0, Math.min(last, i));
      Plotly.relayout(gd, {{"sliders[0].active": i}}).then(function () {{
        return Plotly.animate(gd, steps[i].args[0], steps[i].args[1]);
      }}).then(function () {{
        tag();
        gd.querySelector(".slider-group").focus();
      }});
    }});
  }}
}})();
</script>"""


_COUNTER = itertools.count()


def show(fig: go.Figure) -> None:
    """Display `fig` where the notebook runs, and in the HTML book offline.

    Sends two representations; each front end shows the one it knows:
    `application/vnd.plotly.v1+json` (JupyterLab, VS Code) and `text/html`
    (the book, built by myst-nb; Colab; classic Jupyter): a div and a short
    script that loads plotly.js once per page (the book's vendored copy
    when the page is part of the book, else the CDN) and draws the figure
    with its frames. The slider works from the keyboard too: TAB focuses
    it (role "slider", named by its prefix, its step's label read out as
    the value), the arrow keys, Home and End move it.
    """
    from IPython.display import display

    if not isinstance(fig, go.Figure):
        raise TypeError(f"fig must be a plotly Figure, got {type(fig)!r}")
    spec = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False, "responsive": True}
    figure = json.dumps(spec)
    # the same figure gets the same id in every build (reproducible pages)
    digest = hashlib.sha1(figure.encode()).hexdigest()[:10]
    html = _HTML.format(
        id=f"hwlib-{digest}-{next(_COUNTER)}",
        height=fig.layout.height or 450,
        cdn=_cdn(),
        figure=figure,
    )
    display(
        {"application/vnd.plotly.v1+json": spec, "text/html": html}, raw=True
    )
