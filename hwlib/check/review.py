"""The paper review's length (GT §5): words counted in any script."""

from __future__ import annotations

import re

from .calling import Topic, guarded
from .report import Report

_WORD = re.compile(r"[^\W_][\w'’.%-]*")


def count_words(text: str) -> int:
    """The number of words in `text`: runs of letters and digits (of any
    script: Latin, Cyrillic, Greek, ...) that may carry inner apostrophes,
    dots, hyphens and percent signs, so "don't", "3.5", "state-of-the-art"
    and "95%" each count once, while punctuation, LaTeX braces and markdown
    symbols count as nothing. Scripts written without spaces (Chinese,
    Japanese) count one word per character."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    spaced = re.sub(
        r"([\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])", r" \1 ", text
    )
    return len(_WORD.findall(spaced))


@guarded
def check_word_count(text: str, limit: int = 350) -> Report:
    """Whether an answer fits the word limit (count_words)."""
    report = Report(f"check_word_count(limit {limit})")
    if not isinstance(text, str):
        report.add(
            "reading the text",
            False,
            f"expected a str, got {type(text).__name__}",
        )
        return report
    words = count_words(text)
    report.add(f"at most {limit} words", words <= limit, f"{words} words")
    return report


TOPICS: dict[str, Topic] = {}
