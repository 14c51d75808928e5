"""A chapter (MyST Markdown) -> its cells and its exercise/solution blocks.

The blocks are sphinx-exercise's gated directives: `exercise-start` ...
`exercise-end` hold a question, `solution-start` ... `solution-end` its
answer. A markdown cell that holds a directive's edge is split there; each
piece keeps its cell's metadata (tags).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise-start|exercise-end|"
    r"solution-start|solution-end)\}[ \t]*(?P<arg>.*)$"
)


@dataclass
class Block:
    """One exercise or solution of a chapter."""

    kind: str  # "exercise" or "solution"
    label: str
    title: str = ""
    cells: list = field(default_factory=list)


def split_markdown(text: str):
    """Yield ("text", str) and ("directive", name, arg, options) items."""
    lines = text.split("\n")
    chunk: list[str] = []
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i].strip())
        if not match:
            chunk.append(lines[i])
            i += 1
            continue
        if "\n".join(chunk).strip():
            yield ("text", "\n".join(chunk).strip("\n"))
        chunk = []
        options: dict[str, str] = {}
        i += 1
        while i < len(lines) and lines[i].strip() != match["fence"]:
            option = re.match(r"^:([\w-]+):\s*(.*)$", lines[i].strip())
            if option:
                options[option[1]] = option[2].strip()
            i += 1
        i += 1  # the closing fence
        yield ("directive", match["name"], match["arg"].strip(), options)
    if "\n".join(chunk).strip():
        yield ("text", "\n".join(chunk).strip("\n"))


def _piece(cell, text: str):
    piece = nbformat.v4.new_markdown_cell(text)
    piece.metadata = copy.deepcopy(cell.metadata)
    return piece


def read_chapter(path: Path) -> list:
    """The chapter as a list: cells outside blocks, and Blocks."""
    items: list = []
    current: Block | None = None
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "markdown":
            (current.cells if current else items).append(cell)
            continue
        for part in split_markdown(cell.source):
            if part[0] == "text":
                (current.cells if current else items).append(
                    _piece(cell, part[1])
                )
                continue
            _, name, arg, options = part
            kind, edge = name.split("-")
            if edge == "start":
                if current is not None:
                    raise ValueError(
                        f"{path.name}: {name} {arg or options} inside "
                        f"{current.kind} {current.label!r} (not closed)"
                    )
                exercise = kind == "exercise"
                label = options.get("label", arg) if exercise else arg
                current = Block(kind, label, arg if exercise else "")
                items.append(current)
            elif current is None or current.kind != kind:
                raise ValueError(f"{path.name}: {name} without a start")
            else:
                current = None
    if current is not None:
        raise ValueError(
            f"{path.name}: {current.kind} {current.label!r} is never closed"
        )
    return items
