"""Counting the words of a written answer (seed 004 §5: the paper review).

Words are runs of letters and digits that may carry inner apostrophes,
dots, hyphens and percent signs, so "don't", "3.5", "state-of-the-art" and
"95%" each count once, while punctuation, LaTeX braces and markdown
symbols count as nothing.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9][\w'.%-]*")


def count_words(text: str) -> int:
    """The number of words in `text` (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return len(_WORD.findall(text))
