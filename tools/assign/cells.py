"""nbgrader cells (metadata schema 3) and the notebook's fixed cells."""

from __future__ import annotations

import nbformat

TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

# role: (cell type, solution, grade, locked)
ROLES = {
    "code": ("code", True, False, False),  # an answer the student completes
    "written": ("markdown", True, True, False),  # graded by hand
    "check": ("code", False, True, True),  # a locked hwlib.check cell
}


def graded_cell(role: str, source: str, grade_id: str, points: float = 1):
    """A cell of the given role with nbgrader's metadata."""
    cell_type, solution, grade, locked = ROLES[role]
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    new = getattr(nbformat.v4, f"new_{cell_type}_cell")
    return new(source, metadata={"nbgrader": meta})


def hidden_test(source: str) -> str:
    """A check cell with nbgrader's hidden assertion: autograde gives the
    points only when the check passed (the student's run never raises)."""
    return (
        f"{source}\n{BEGIN_HIDDEN}\n"
        'assert report.passed, "the check failed: see its report above"\n'
        f"{END_HIDDEN}"
    )


def install_cell(package: str) -> nbformat.NotebookNode:
    """Installs the student package where hwlib is missing (Colab)."""
    return nbformat.v4.new_code_cell(
        "# Set-up: where hwlib is missing (Colab), install the course's "
        "student\n# package: hwlib.check and the data tools, no answers "
        "($HWLIB_STUDENT\n# can name another copy).\n"
        "import importlib.util\nimport os\nimport subprocess\nimport sys\n\n"
        f'PACKAGE = "{package}"\n'
        'if importlib.util.find_spec("hwlib") is None:\n'
        '    package = os.environ.get("HWLIB_STUDENT", PACKAGE)\n'
        '    pip = [sys.executable, "-m", "pip", "install", "-q"]\n'
        "    subprocess.run([*pip, package], check=True)"
    )


def header_cell(chapter: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(
        f"*Homework made from the chapter `{chapter}` by `make "
        "assignments`.* Answer each question in the cell marked YOUR ANSWER "
        "HERE or YOUR CODE HERE, then run the check cell after it: it prints "
        "✓ or ✗ lines, and a diagnosis of what is still wrong."
    )
