"""The student notebooks (assignments/, written by `make assignments`).

Fast: they equal what tools/make_assignments.py generates from the chapters
now, and their nbgrader metadata is well formed. Slow: each runs top to bottom
in a fresh kernel, every unanswered check printing ✗ and nothing raising; and
the nbgrader source version (the hwlib reference in every stub, the hidden
`assert report.passed` in every check cell) runs with every check passing.
With nbgrader installed ($NBGRADER or on PATH), its generate_assignment
turns the sources into exactly the student notebooks.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_assignments  # noqa: E402

GENERATED = make_assignments.generate()
CHAPTERS = sorted(c for c, (text, _) in GENERATED.items() if text)


def _nbgrader_cells(notebook, kind):
    """Cells whose nbgrader metadata marks them as `kind`."""
    out = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if (
            kind == "check"
            and meta.get("grade")
            and meta.get("locked")
            or (
                kind == "stub"
                and meta.get("solution")
                and cell.cell_type == "code"
            )
            or (
                kind == "answer"
                and meta.get("solution")
                and cell.cell_type == "markdown"
            )
        ):
            out.append(cell)
    return out


def _text(cell) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.output_type == "stream"
    )


def _execute(notebook, tmp_path):
    """Run in a fresh kernel, outside the repository (no local hwlib/)."""
    uses_data = any("load_cifar10(" in c.source for c in notebook.cells)
    if uses_data and not os.environ.get("HWLIB_CIFAR10"):
        pytest.skip("needs CIFAR-10: set HWLIB_CIFAR10")
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=900,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return notebook


def test_some_chapter_has_an_assignment():
    assert CHAPTERS, "no chapter has solution-start/solution-end markers"


def test_assignments_are_up_to_date():
    folder = ROOT / "assignments"
    committed = {p.stem for p in folder.glob("*.ipynb")}
    assert committed == set(CHAPTERS), "run make assignments"
    for chapter in CHAPTERS:
        text = (folder / f"{chapter}.ipynb").read_text()
        assert text == GENERATED[chapter][0], (
            f"assignments/{chapter}.ipynb is out of date: run make assignments"
        )


def test_the_books_page_lists_them_with_colab_links():
    page = (ROOT / "assignments.md").read_text()
    assert page == make_assignments.index_page(GENERATED), (
        "assignments.md is out of date: run make assignments"
    )
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    repo = url["url"].removeprefix("https://github.com/").rstrip("/")
    for chapter in CHAPTERS:
        assert f"<assignments/{chapter}.ipynb>`" in page
        assert (
            f"https://colab.research.google.com/github/{repo}/blob/"
            f"{url.get('branch', 'main')}/assignments/{chapter}.ipynb"
        ) in page
    toc = (ROOT / "_toc.yml").read_text()
    assert "file: assignments\n" in toc


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_metadata(chapter):
    notebook = nbformat.reads(GENERATED[chapter][0], as_version=4)
    nbformat.validate(notebook)
    ids = [
        c.metadata["nbgrader"]["grade_id"]
        for c in notebook.cells
        if "nbgrader" in c.metadata
    ]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader")
        if meta:
            assert meta["schema_version"] == 3
            assert not meta["grade"] or meta["points"] > 0
    for cell in _nbgrader_cells(notebook, "stub"):
        assert cell.source.rstrip().endswith("raise NotImplementedError()")
    for cell in _nbgrader_cells(notebook, "answer"):
        assert cell.source == "YOUR ANSWER HERE"
    checks = _nbgrader_cells(notebook, "check")
    summary = GENERATED[chapter][1]
    assert len(checks) == summary.checks
    assert all("BEGIN HIDDEN" not in c.source for c in checks)
    assert len(_nbgrader_cells(notebook, "stub")) == summary.stubs


def test_book_answers_do_not_leak():
    """No solution's code cell reaches the student notebook."""
    for chapter in CHAPTERS:
        _, items = make_assignments.read_chapter(
            ROOT / "chapters" / f"{chapter}.md"
        )
        student = GENERATED[chapter][0]
        for item in items:
            if (
                isinstance(item, make_assignments.Block)
                and item.kind == "solution"
            ):
                for cell in item.cells:
                    if cell.cell_type == "code" and len(cell.source) > 40:
                        assert cell.source not in student, (
                            f"{chapter}: code of {item.label} leaked"
                        )


def test_a_chapter_without_markers_is_skipped(tmp_path):
    (tmp_path / "plain.md").write_text("# Title\n\nNo questions here.\n")
    result = make_assignments.generate(folder=tmp_path)
    assert result["plain"][0] is None


def test_an_unclosed_solution_is_refused(tmp_path):
    (tmp_path / "bad.md").write_text(
        "```{solution-start} x-1\n:class: dropdown\n```\nAnswer.\n"
    )
    with pytest.raises(ValueError, match="never closed"):
        make_assignments.generate(folder=tmp_path)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_listed_solution_is_in_its_chapter(chapter):
    assert not GENERATED[chapter][1].unknown, (
        "tools/assignments.toml names labels that the chapter lacks (renamed?)"
    )


def test_a_listed_label_missing_from_the_chapter_is_reported(tmp_path):
    (tmp_path / "ch.md").write_text(
        "````{exercise-start} Q\n:label: ch-1\n````\nWhy?\n"
        "```{exercise-end}\n```\n\n```{solution-start} ch-1\n"
        ":class: dropdown\n```\nBecause.\n```{solution-end}\n```\n"
    )
    config = {
        "answers": {
            "ch": {
                "ch-2": {
                    "function": "hwlib.attribution.saliency_map",
                    "checks": ["check_saliency(saliency_map)"],
                }
            }
        }
    }
    summary = make_assignments.generate(config, folder=tmp_path)["ch"][1]
    assert summary.unknown == ["ch-2"]


def test_a_function_stub_and_its_source(tmp_path):
    """A small chapter: the stub, the check cell, and the source version."""
    (tmp_path / "ch.md").write_text(
        "# Ch\n\n````{exercise-start} Saliency\n:label: ch-1\n````\n"
        "Write it, see {cite:p}`simonyan2014` and $\\bx$.\n"
        "```{exercise-end}\n```\n\n```{solution-start} ch-1\n"
        ":class: dropdown\n```\nThe max of |grad|.\n\n"
        "```{code-cell} ipython3\nprint('the book verifies it')\n```\n"
        "```{solution-end}\n```\n"
    )
    config = {
        "answers": {
            "ch": {
                "ch-1": {
                    "function": "hwlib.attribution.saliency_map",
                    "checks": ["check_saliency(saliency_map)"],
                }
            }
        }
    }
    student = nbformat.reads(
        make_assignments.generate(config, folder=tmp_path)["ch"][0],
        as_version=4,
    )
    text = "\n".join(c.source for c in student.cells)
    assert "(simonyan2014)" in text and "\\mathbf{x}" in text
    assert "the book verifies it" not in text
    assert "The max of |grad|" not in text
    assert "def saliency_map(model, x, target):" in text
    source = make_assignments.generate(config, folder=tmp_path, source=True)[
        "ch"
    ][0]
    assert "The max of |grad|" in source
    assert "### BEGIN SOLUTION" in source
    assert "assert report.passed" in source


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebook_runs_and_reports_unanswered(chapter, tmp_path):
    notebook = _execute(
        nbformat.reads(GENERATED[chapter][0], as_version=4), tmp_path
    )
    for cell in _nbgrader_cells(notebook, "check"):
        out = _text(cell)
        assert "✗" in out and "passed" not in out.splitlines()[0], (
            f"{chapter}: an unanswered check did not report ✗:\n{out}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_answers_pass_every_check(chapter, tmp_path):
    text = make_assignments.generate(source=True)[chapter][0]
    notebook = _execute(nbformat.reads(text, as_version=4), tmp_path)
    for cell in _nbgrader_cells(notebook, "check"):
        out = _text(cell)
        assert out and "✗" not in out, f"{chapter}:\n{out}"


def _nbgrader():
    found = os.environ.get("NBGRADER") or shutil.which("nbgrader")
    if not found:
        pytest.skip("nbgrader not installed (set $NBGRADER to its command)")
    return Path(found)


@pytest.mark.slow
def test_nbgrader_releases_the_student_notebooks(tmp_path):
    nbgrader = _nbgrader()
    make_assignments.main(
        [
            "--out",
            str(tmp_path / "unused"),
            "--source",
            str(tmp_path / "source"),
        ]
    )
    env = dict(os.environ)
    env["PATH"] = f"{nbgrader.parent}{os.pathsep}{env['PATH']}"
    for chapter in CHAPTERS:
        subprocess.run(
            [str(nbgrader), "generate_assignment", chapter, "--force"],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )
        released = nbformat.read(
            tmp_path / "release" / chapter / f"{chapter}.ipynb", 4
        )
        ours = nbformat.reads(GENERATED[chapter][0], 4)
        assert len(released.cells) == len(ours.cells)
        for theirs, mine in zip(released.cells, ours.cells):
            assert (theirs.cell_type, theirs.source) == (
                mine.cell_type,
                mine.source,
            )
            meta = dict(theirs.metadata.get("nbgrader", {}))
            meta.pop("checksum", None)
            meta.pop("cell_type", None)
            assert meta == mine.metadata.get("nbgrader", {})


@pytest.mark.slow
def test_nbgrader_autograde_scores_only_passing_checks(tmp_path):
    """An unanswered submission scores 0; the reference answers score every
    check's points (written answers wait for a human grader)."""
    nbgrader = _nbgrader()
    chapter = next(
        (
            c
            for c in CHAPTERS
            if GENERATED[c][1].checks
            and "load_cifar10(" not in GENERATED[c][0]
        ),
        None,
    )
    if chapter is None:
        pytest.skip("no chapter with checks that runs without data")
    kernel = tmp_path / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "Python 3",
                "language": "python",
            }
        )
    )
    course = tmp_path / "course"
    make_assignments.main(
        ["--out", str(tmp_path / "unused"), "--source", str(course / "source")]
    )
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.db_assignments = [dict(name={chapter!r})]\n"
        "c.CourseDirectory.db_students = [dict(id='empty'), dict(id='ref')]\n"
    )
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path / "jupyter"))
    env["PATH"] = f"{nbgrader.parent}{os.pathsep}{env['PATH']}"

    def run(*args):
        subprocess.run(
            [str(nbgrader), *args],
            cwd=course,
            env=env,
            check=True,
            capture_output=True,
        )

    run("generate_assignment", chapter, "--force")
    for student, notebook in (
        ("empty", course / "release" / chapter / f"{chapter}.ipynb"),
        ("ref", course / "source" / chapter / f"{chapter}.ipynb"),
    ):
        folder = course / "submitted" / student / chapter
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder)
    run("autograde", chapter, "--force")
    run("export")
    rows = {
        r["student_id"]: float(r["raw_score"])
        for r in csv.DictReader((course / "grades.csv").open())
    }
    student = nbformat.reads(GENERATED[chapter][0], as_version=4)
    points = sum(
        c.metadata["nbgrader"]["points"]
        for c in _nbgrader_cells(student, "check")
    )
    assert points > 0 and rows == {"empty": 0.0, "ref": float(points)}
