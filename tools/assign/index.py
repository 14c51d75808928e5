"""assignments.md: each chapter's student notebook, in the book's order."""

from __future__ import annotations

from pathlib import Path

from . import book
from .notebook import Summary, count

INTRO = (
    "Each chapter as homework: the questions, the set-up code, an empty "
    "cell for each written answer, and for each answer that is code a stub "
    "to complete, followed by the `hwlib.check` cell that grades it (it "
    "prints ✗ lines with a diagnosis until the answer is right). The "
    "notebooks install the course's student package (the checks and the "
    "data tools, none of the answers). They are nbgrader notebooks, so an "
    "instructor can grade them with nbgrader (see the README)."
)


def title(chapter: Path) -> str:
    for line in chapter.read_text().split("\n"):
        if line.startswith("# "):
            return line[2:].strip()
    return chapter.stem


def page(summaries: list[tuple[Path, Summary]], root: Path = book.ROOT):
    """The page's text; `summaries` in the table of contents' order."""
    parts = ["# Assignments", "", INTRO]
    for chapter, summary in summaries:
        name = chapter.stem
        parts += [
            "",
            f"(assignment-{name})=",
            f"## {title(chapter)}",
            "",
            f"{{download}}`Download the notebook <assignments/{name}.ipynb>`"
            f" · [Open in Colab]"
            f"({book.colab_url(f'assignments/{name}.ipynb', root)})"
            f" · {{doc}}`The chapter <chapters/{name}>`",
            "",
            f"{count(summary.questions, 'question')}: "
            f"{count(summary.written, 'written answer')}, "
            f"{count(summary.code, 'code answer')} graded by "
            f"{count(summary.checks, 'check')}.",
        ]
    return "\n".join(parts) + "\n"
