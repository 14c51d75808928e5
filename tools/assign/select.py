"""The allow-list: what of a chapter the student sees.

Kept, in the chapter's order:

* the chapter's title, and a section heading when a question follows it
  before the next heading;
* every question (`exercise-start` ... `exercise-end`);
* a cell outside the answers tagged `student` (MyST: `:tags: [student]`
  on a code cell, `+++ {"tags": ["student"]}` before a markdown cell):
  set-up prose or code written for the student.

Everything else (the answers, the book's verifications, its prose) is left
out. Each solution block leaves its place: an ("answer", label) item where
the student's answer cells go.
"""

from __future__ import annotations

import re

from .parse import Block

TAG = "student"
HEADING = re.compile(r"^(#{1,6})\s+\S")


def tagged(cell) -> bool:
    return TAG in cell.metadata.get("tags", [])


def student_items(items: list) -> list[tuple[str, object]]:
    """[(kind, value)]: ("markdown", text), ("code", source),
    ("exercise", Block) and ("answer", label)."""
    kept: list[tuple[str, object]] = []
    pending: str | None = None  # the last heading, waiting for a question
    for item in items:
        if isinstance(item, Block):
            if item.kind == "solution":
                kept.append(("answer", item.label))
                continue
            if pending:
                kept.append(("markdown", pending))
                pending = None
            kept.append(("exercise", item))
            continue
        if tagged(item):
            kept.append((item.cell_type, item.source))
            continue
        if item.cell_type != "markdown":
            continue
        for line in item.source.split("\n"):
            level = HEADING.match(line)
            if not level:
                continue
            if len(level[1]) == 1 and not kept:
                kept.append(("markdown", line))  # the chapter's title
            else:
                pending = line
    return kept
