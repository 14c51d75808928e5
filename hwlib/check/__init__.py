"""Self-checks a student runs on their own answers; each returns a Report.

Every check compares the student's code with an oracle written here,
independent of hwlib's answers (autograd in float64, torch.nn.functional,
exact rational arithmetic, brute-force enumeration, truth tables), on one
example and on a batch of several, and prints one line per case:

    >>> report = check_relu(MyReLU)
    >>> print(report)     # verdict first, then ✓ or ✗ per case
    >>> report.passed     # True when every case matched

Nothing passes unchecked: None, a missing attribute, a wrong type or shape
and an exception are failed lines that say what was expected, and no check
raises, whatever it is given. Each call to student code has a time limit
(set_time_limit; 10 s by default). A submission that is, derives from or
calls hwlib's own reference answer fails ("a check grades your own code");
the book shows its references passing with allow_reference=True. The
package imports nothing from hwlib but hwlib._validate, so it can be
shipped to students without the answers.

From a terminal: `python -m hwlib.check TOPIC file.py:NAME` (see --list).
"""

from __future__ import annotations

from . import (
    backprop,
    class_visualization,
    conv,
    fooling,
    gates,
    gradcam,
    layer_functions,
    nn,
    regions,
    review,
    saliency,
)
from .backprop import check_gradient_formula
from .calling import (
    ANSWER_MODULES,
    TimeLimitExceeded,
    Topic,
    set_time_limit,
    time_limit,
)
from .class_visualization import check_class_visualization_step
from .compare import ATOL, RTOL, Hints, diagnose
from .conv import check_conv_matrix, check_conv_transpose_matrix
from .fooling import check_fooling_image
from .gates import check_gate, check_threshold_neuron
from .gradcam import check_grad_cam, check_guided_grad_cam
from .layer_functions import (
    check_affine_functions,
    check_relu_functions,
    check_softmax_loss,
)
from .nn import check_cross_entropy, check_linear, check_relu
from .regions import check_identified_regions, check_kinks
from .report import Report
from .review import check_word_count, count_words
from .saliency import check_guided_backprop, check_saliency

TOPICS: dict[str, Topic] = {}
for _module in (
    nn,
    layer_functions,
    backprop,
    regions,
    saliency,
    gradcam,
    fooling,
    class_visualization,
    gates,
    conv,
    review,
):
    TOPICS.update(_module.TOPICS)
"""Command-line topics, gathered from the topic modules: name -> Topic."""

__all__ = [
    "ANSWER_MODULES",
    "ATOL",
    "RTOL",
    "TOPICS",
    "Hints",
    "Report",
    "TimeLimitExceeded",
    "Topic",
    "check_affine_functions",
    "check_class_visualization_step",
    "check_conv_matrix",
    "check_conv_transpose_matrix",
    "check_cross_entropy",
    "check_fooling_image",
    "check_gate",
    "check_grad_cam",
    "check_gradient_formula",
    "check_guided_backprop",
    "check_guided_grad_cam",
    "check_identified_regions",
    "check_kinks",
    "check_linear",
    "check_relu",
    "check_relu_functions",
    "check_saliency",
    "check_softmax_loss",
    "check_threshold_neuron",
    "check_word_count",
    "count_words",
    "diagnose",
    "main",
    "set_time_limit",
    "time_limit",
]


def main(argv: list[str] | None = None) -> int:
    """The command line (see hwlib.check.__main__)."""
    from .__main__ import main as run

    return run(argv)
