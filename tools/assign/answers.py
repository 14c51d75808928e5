"""tools/answers/<chapter>.py: the code cells of a chapter's homework.

A plain Python file (ruff checks it; run as a script, the reference answers
pass every check) cut into cells by comment lines:

    # %% setup                      code at the top (imports, data)
    # %% <label>                    code after the question <label>: a
                                    scaffold, or an answer to complete when
                                    it holds a solution region
    # %% <label> check points=2     a locked cell that grades the answer
                                    above it (it must bind `report`)
    # %% <label> mistake            not in any notebook: a classic wrong
                                    answer; the grading tests insert it
                                    after the label's first answer cell,
                                    where it redefines one of its names

A solution region is the reference answer between `### BEGIN SOLUTION`
and `### END SOLUTION` (nbgrader's markers); the student notebook gets
`# YOUR CODE HERE` / `raise NotImplementedError()` there instead.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARK = re.compile(
    r"^# %% (?P<label>[\w.-]+)(?: (?P<role>check|mistake))?"
    r"(?: points=(?P<points>\d+(?:\.\d+)?))?[ \t]*$"
)


@dataclass
class Cell:
    label: str
    role: str  # "code", "check" or "mistake"
    source: str
    points: float = 1.0

    @property
    def is_answer(self) -> bool:
        return self.role == "code" and BEGIN in self.source


def read(path: Path) -> list[Cell]:
    """The cells of an answers file, in order (text before the first mark,
    e.g. the module docstring, is not a cell)."""
    cells: list[Cell] = []
    lines: list[str] = []

    def close():
        if cells:
            cells[-1].source = "\n".join(lines).strip("\n")

    for number, line in enumerate(path.read_text().split("\n"), 1):
        if line.startswith("# %%"):
            mark = MARK.match(line)
            if not mark:
                raise ValueError(
                    f"{path.name}:{number}: expected '# %% LABEL [check|"
                    f"mistake] [points=N]', got {line!r}"
                )
            close()
            lines = []
            role = mark["role"] or "code"
            points = float(mark["points"] or 1)
            cells.append(Cell(mark["label"], role, "", points))
        else:
            lines.append(line)
    close()
    for cell in cells:
        _validate(path, cell)
    return cells


def _validate(path: Path, cell: Cell) -> None:
    where = f"{path.name}, cell {cell.label} {cell.role}"
    if cell.source.count(BEGIN) != cell.source.count(END):
        raise ValueError(f"{where}: unbalanced solution markers")
    if cell.role == "check":
        if BEGIN in cell.source:
            raise ValueError(f"{where}: a check cell holds no solution")
        if "report" not in binds(cell.source):
            raise ValueError(f"{where}: a check cell must bind `report`")


def student(source: str) -> str:
    """The cell as the student gets it: each solution region replaced by
    the stub, indented like its BEGIN line (as nbgrader does)."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB]
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def solutions(source: str) -> list[str]:
    """The text of each solution region of a cell."""
    regions, current = [], None
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return regions


def binds(source: str) -> set[str]:
    """Module-level names a cell defines (functions, classes, assignments,
    imports)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(
                    sub.ctx, ast.Store
                ):
                    names.add(sub.id)
    return names


def defined_name(source: str) -> str | None:
    """The first function or class a cell defines (its answer's name)."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return node.name
    return None
