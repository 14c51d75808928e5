"""hwlib: small, tested reference implementations behind the course book.

One module per topic; each chapter of the book imports what it needs:

    networks     FeedForwardNetwork (ReLU, abs or tanh), no_bias_network and
                 helpers (seed 000 Q1-Q7, 004 §3)
    regions      exact linear pieces, kinks, the sawtooth, identified regions
                 (000 Q4-Q5, 004 §3)
    gates        logic with ReLU networks and threshold units, GATE_RULES and
                 SIGN_GATE_RULES (000 Q7, 004 §2)
    backprop     the residual ReLU block's gradient by hand (000 Q8)
    nn           modules with hand-written backward passes, SGD (000 Q10)
    data         CIFAR-10 loading, device-resident data, label noise
                 (000 Q9-Q15, 004 §5)
    augment      random crops and flips of image batches on the device
                 (000 Q14, 004 §6)
    record       TrainingRecord, the figures of one training run
    train        the training loop of hwlib.nn MLPs (000 Q11-Q15)
    models       a small CIFAR-10 CNN, trained and cached (004 §6)
    attribution  saliency, guided backprop, Grad-CAM, fooling images, class
                 visualisation (004 §6)
    conv         convolution and transposed convolution as matrices (004 §1)
    check        checks of a student's own answers, with readable reports
                 (a package holding no answer; check.fixtures: tiny_cnn)
    cache        where cached datasets and models live; atomic writes
    review       paper review (004 §5): word counts, label noise, figure
    display      LaTeX rendering of matrices
    plots        plotting helpers, learning curves (plot_curves)
    explorers    plotly figures with sliders for the static HTML book

Modules are imported on demand (`from hwlib.gates import ...`), so importing
hwlib itself is cheap.
"""

__version__ = "0.1.0"

__all__ = [
    "attribution",
    "augment",
    "backprop",
    "cache",
    "check",
    "conv",
    "data",
    "display",
    "explorers",
    "gates",
    "models",
    "networks",
    "nn",
    "plots",
    "record",
    "regions",
    "review",
    "train",
]
