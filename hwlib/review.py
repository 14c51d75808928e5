"""Counting the words of a written answer (GT §5: the paper review).

Words are runs of letters and digits of any script (Latin, Cyrillic,
Greek, ...) that may carry inner apostrophes, dots, hyphens and percent
signs, so "don't", "3.5", "state-of-the-art" and "95%" each count once,
while punctuation, LaTeX braces and markdown symbols count as nothing.
The counter lives with the checks (hwlib.check.review), which use it for
check_word_count; this module is its home for the book's prose.
"""

from __future__ import annotations

from .check.review import count_words

__all__ = ["count_words"]
