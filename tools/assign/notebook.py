"""A chapter's student notebook, or its nbgrader source version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import answers as answers_
from . import book, cells, markdown, parse, select

ANSWERS = book.ROOT / "tools" / "answers"


@dataclass
class Summary:
    chapter: str
    questions: int = 0
    written: int = 0  # "YOUR ANSWER HERE" cells, graded by hand
    code: int = 0  # cells with an answer to complete
    checks: int = 0  # locked check cells
    points: float = 0  # the checks' points (autograded)
    labels: list = field(default_factory=list)  # answered labels unknown

    def __str__(self) -> str:
        return (
            f"{self.chapter}: {count(self.questions, 'question')}, "
            f"{count(self.written, 'written answer')}, "
            f"{count(self.code, 'code answer')} graded by "
            f"{count(self.checks, 'check')} ({self.points:g} points)"
        )


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _code_cells(code: list, source: bool, summary: Summary) -> list:
    out = []
    for k, cell in enumerate(code):
        gid = f"{cell.label}-{answers_.defined_name(cell.source) or k}"
        if cell.role == "check":
            text = cells.hidden_test(cell.source) if source else cell.source
            out.append(
                cells.graded_cell(
                    "check", text, f"{cell.label}-check", cell.points
                )
            )
            summary.checks += 1
            summary.points += cell.points
        elif cell.is_answer:
            text = cell.source if source else answers_.student(cell.source)
            out.append(cells.graded_cell("code", text, gid))
            summary.code += 1
        else:
            out.append(nbformat.v4.new_code_cell(cell.source))
    return out


def _unique_ids(out: list) -> None:
    seen: dict[str, int] = {}
    for cell in out:
        meta = cell.metadata.get("nbgrader")
        if meta:
            n = seen[meta["grade_id"]] = seen.get(meta["grade_id"], 0) + 1
            if n > 1:
                meta["grade_id"] += f"-{n}"


def build(
    chapter: Path,
    *,
    source: bool = False,
    answers: Path | None = None,
    settings: dict | None = None,
    root: Path = book.ROOT,
):
    """(notebook, Summary); notebook is None for a chapter without
    questions."""
    settings = settings if settings is not None else book.settings(root)
    answers = answers or ANSWERS / f"{chapter.stem}.py"
    code = answers_.read(answers) if answers.exists() else []
    macros = book.macros(root)
    items = parse.read_chapter(chapter)
    solutions = {
        i.label: i for i in items if isinstance(i, parse.Block)
    }  # the last block of each label wins: solutions follow exercises
    kept = select.student_items(items)
    summary = Summary(chapter.stem)
    if not any(kind == "exercise" for kind, _ in kept):
        return None, summary
    chapter_settings = settings.get("chapters", {}).get(chapter.stem, {})
    code_only = set(chapter_settings.get("code_only", []))
    written_points = settings.get("points", {}).get("written", 1)
    # labels whose solution block marks where the answer goes
    placed = {v for k, v in kept if k == "answer"}
    out = [cells.header_cell(chapter.stem)]
    if kept[0][0] == "markdown" and kept[0][1].startswith("# "):
        out.append(nbformat.v4.new_markdown_cell(kept.pop(0)[1]))  # title
    out.append(cells.install_cell(book.student_package(root)))
    out += _code_cells(
        [c for c in code if c.label == "setup"], source, summary
    )

    def answer_cells(label: str) -> None:
        if label not in code_only:
            text = cells.TEXT_STUB
            if source:
                prose = (
                    [
                        markdown.to_jupyter(
                            c.source, macros, glue="(see book)"
                        )
                        for c in solutions[label].cells
                        if c.cell_type == "markdown"
                    ]
                    if solutions[label].kind == "solution"
                    else []
                )
                text = "\n\n".join(p for p in prose if p) or text
            out.append(
                cells.graded_cell(
                    "written", text, f"{label}-answer", written_points
                )
            )
            summary.written += 1
        mine = [c for c in code if c.label == label and c.role != "mistake"]
        out.extend(_code_cells(mine, source, summary))

    for kind, value in kept:
        if kind == "markdown":
            text = markdown.to_jupyter(value, macros)
            if text:
                out.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code":
            out.append(nbformat.v4.new_code_cell(value))
        elif kind == "exercise":
            summary.questions += 1
            title = markdown.to_jupyter(value.title, macros)
            body = "\n\n".join(
                markdown.to_jupyter(c.source, macros)
                for c in value.cells
                if c.cell_type == "markdown"
            )
            out.append(
                nbformat.v4.new_markdown_cell(
                    f"#### Question: {title}\n\n{body}".strip()
                )
            )
            if value.label not in placed:
                answer_cells(value.label)
        else:
            answer_cells(value)
    labels = {v.label for k, v in kept if k == "exercise"} | {"setup"}
    summary.labels = sorted({c.label for c in code} - labels)
    _unique_ids(out)
    notebook = nbformat.v4.new_notebook(cells=out)
    notebook.metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    stable_ids(notebook)
    return notebook, summary


def stable_ids(notebook) -> None:
    """Cell ids from the cells' content (nbformat's are random), so that
    an unchanged chapter gives the same file."""
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        digest = hashlib.sha1(
            (cell.cell_type + cell.source).encode()
        ).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest + (f"-{seen[digest]}" if seen[digest] > 1 else "")


def render(notebook) -> str:
    return nbformat.writes(notebook) + "\n"
