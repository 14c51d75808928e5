"""Which hwlib modules hold answers, and which the student build ships.

The one list: the student wheel (tools/build_student.py) ships NEUTRAL and
nothing else; the leak test makes every ANSWER module unimportable while a
student notebook runs, and the scan refuses a student notebook that names
one. tests/test_assignments.py checks that every module of hwlib is in
exactly one table and that no neutral module imports a module of the others.
"""

from __future__ import annotations

# Modules that hold a homework answer: never in a student's hands.
ANSWER = {
    "hwlib.backprop": "the residual block's gradient (MIT Q8)",
    "hwlib.gates": "gate networks and threshold neurons (MIT Q7, GT §2)",
    "hwlib.conv": "convolutions as matrices (GT §1)",
    "hwlib.regions": "kinks, linear pieces, identified regions (MIT Q4-Q5, "
    "GT §3)",
    "hwlib.attribution": "saliency, guided backprop, Grad-CAM, fooling "
    "images, class visualisation (GT §6)",
    "hwlib.nn": "Linear, ReLU, CrossEntropyLoss passes (MIT Q10)",
    "hwlib.train": "the training loop and evaluation (MIT Q11-Q15)",
}

# Tools that compute no answer: the student build ships these.
NEUTRAL = {
    "hwlib": "the package (its docstring and version)",
    "hwlib._validate": "argument checks",
    "hwlib.cache": "where caches live; atomic writes",
    "hwlib.data": "CIFAR-10 loading, device data, label noise",
    "hwlib.augment": "random crops and flips (tools; Q14's answer is the "
    "datasets built with them)",
    "hwlib.display": "LaTeX rendering of matrices",
    "hwlib.networks": "the network container FeedForwardNetwork",
    "hwlib.models": "the attribution chapter's CNN, trained and cached",
    "hwlib.review": "word counts, label-noise shares and figure",
    "hwlib.record": "the record of a training run (settings, figures)",
    "hwlib.check": "the checks a student runs on their own answers",
}

# The book's own machinery, or tools that need an answer module: the book
# uses them, the student build leaves them out.
BOOK_ONLY = {
    "hwlib.book": "enforced claims of the book's cells",
    "hwlib.plots": "imports hwlib.regions (pieces, identified regions)",
    "hwlib.explorers": "imports hwlib.conv and hwlib.regions",
}


def top_module(name: str) -> str:
    """hwlib.check.cases -> hwlib.check (the table's granularity)."""
    parts = name.split(".")
    return ".".join(parts[:2])


def is_answer(name: str) -> bool:
    return top_module(name) in ANSWER


def shipped(name: str) -> bool:
    """Whether the student build holds module `name`."""
    return top_module(name) in NEUTRAL
