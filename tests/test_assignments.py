"""The student notebooks (assignments/, `make assignments`) and the student
package (`make student`).

Fast: each stage of tools/assign on small inputs; the committed notebooks
equal what the chapters generate; which hwlib modules hold answers, and that
neither the student package nor a student notebook holds or names one.
Slow: the leak test (each student notebook runs top to bottom in a fresh
kernel on the student package, every answer module unimportable, and
reaches every check cell) and, with nbgrader ($NBGRADER, `make
test-nbgrader`), generate_assignment and autograde on every notebook with
the score table printed.
"""

from __future__ import annotations

import ast
import csv
import functools
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_student  # noqa: E402
import make_assignments  # noqa: E402
from assign import (  # noqa: E402
    answers,
    book,
    cells,
    markdown,
    modules,
    notebook,
    parse,
    select,
    write,
)

GENERATED = make_assignments.generate()
CHAPTERS = [p.stem for p, text, _ in GENERATED if text]
STUDENT = {p.stem: text for p, text, _ in GENERATED if text}
SUMMARY = {p.stem: s for p, _, s in GENERATED}
ANSWERS = ROOT / "tools" / "answers"


def _cells(chapter: str) -> list:
    path = ANSWERS / f"{chapter}.py"
    return answers.read(path) if path.exists() else []


def _role(cell) -> str | None:
    meta = cell.metadata.get("nbgrader", {})
    if not meta:
        return None
    if meta["locked"] and meta["grade"]:
        return "check"
    return "code" if cell.cell_type == "code" else "written"


# ---------------------------------------------------------------------------
# Which modules hold answers (tools/assign/modules.py)
# ---------------------------------------------------------------------------


def _hwlib_modules() -> set[str]:
    found = {"hwlib"}
    for path in (ROOT / "hwlib").iterdir():
        if path.suffix == ".py" and path.stem != "__init__":
            found.add(f"hwlib.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").exists():
            found.add(f"hwlib.{path.name}")
    return found


def test_every_hwlib_module_is_in_exactly_one_table():
    tables = [modules.ANSWER, modules.NEUTRAL, modules.BOOK_ONLY]
    listed = [name for table in tables for name in table]
    assert len(listed) == len(set(listed)), "a module is in two tables"
    missing = _hwlib_modules() - set(listed)
    assert not missing, (
        f"classify {sorted(missing)} in tools/assign/modules.py: does it "
        "hold an answer, or is it a neutral tool?"
    )
    gone = set(listed) - _hwlib_modules()
    assert not gone, f"tools/assign/modules.py lists missing modules {gone}"


def _imports(path: Path, package: str) -> set[str]:
    """hwlib modules a file imports (relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hwlib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(
                    base + ([node.module] if node.module else [])
                )
            else:
                module = node.module or ""
            if not module.startswith("hwlib"):
                continue
            if module == "hwlib" or (node.level and not node.module):
                found |= {f"{module}.{a.name}" for a in node.names}
            else:
                found.add(module)
    return {modules.top_module(m) for m in found}


def _package_of(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts if parts[-1] == "__init__" else parts[:-1]).replace(
        ".__init__", ""
    )


@pytest.mark.parametrize(
    "relative", build_student.module_files(), ids=lambda p: str(p)
)
def test_neutral_modules_import_only_neutral_modules(relative):
    package = _package_of(relative)
    imported = _imports(ROOT / relative, package) - {"hwlib"}
    wrong = {m for m in imported if not modules.shipped(m)}
    assert not wrong, (
        f"{relative} (shipped to students) imports {sorted(wrong)}: move "
        "what it needs into a neutral module, or classify it as book-only"
    )


def test_check_imports_only_validate_and_itself():
    """hwlib.check is graded against independent references, never against
    hwlib's own answers."""
    for path in sorted((ROOT / "hwlib" / "check").rglob("*.py")):
        package = _package_of(path.relative_to(ROOT))
        imported = _imports(path, package) - {"hwlib"}
        assert imported <= {"hwlib._validate", "hwlib.check"}, (
            f"{path.relative_to(ROOT)} imports {sorted(imported)}"
        )


def test_the_student_wheel_holds_no_answer_module(tmp_path):
    wheel = build_student.build(tmp_path)
    assert wheel.name == f"hwlib-{book.version()}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "hwlib/check/__init__.py" in names or "hwlib/check.py" in names
    for name in modules.ANSWER | modules.BOOK_ONLY:
        stem = name.replace(".", "/")
        leaked = [
            n
            for n in names
            if n in (f"{stem}.py",) or n.startswith(f"{stem}/")
        ]
        assert not leaked, f"{name} is in the student wheel"
    record = (
        zipfile.ZipFile(wheel)
        .read(f"hwlib-{book.version()}.dist-info/RECORD")
        .decode()
    )
    assert all(n in record for n in names)
    assert build_student.build(tmp_path / "again").read_bytes() == (
        wheel.read_bytes()
    ), "the same sources must give the same wheel"


# ---------------------------------------------------------------------------
# The stages, on small inputs
# ---------------------------------------------------------------------------


def test_the_chapters_come_in_the_table_of_contents_order():
    toc = [f for f in book.toc_files() if f.startswith("chapters/")]
    assert [f"chapters/{p.stem}" for p in book.chapters()][: len(toc)] == toc
    page = (ROOT / "assignments.md").read_text()
    positions = [page.index(f"(assignment-{c})=") for c in CHAPTERS]
    assert positions == sorted(positions)
    assert [
        c.split("/")[1] for c in toc if c.split("/")[1] in CHAPTERS
    ] == CHAPTERS


def test_student_replaces_each_solution_region_keeping_its_indent():
    source = (
        "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x\n"
        "    ### END SOLUTION\n\n\ny = 1"
    )
    assert answers.student(source) == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n\n\ny = 1"
    )
    assert answers.solutions(source) == ["    return x"]


def test_an_answers_file_is_read_into_labelled_cells(tmp_path):
    path = tmp_path / "ch.py"
    path.write_text(
        '"""doc"""\n# %% setup\nimport torch\n# %% ch-1\ndef f():\n'
        "    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
        "# %% ch-1 check points=2\nreport = f()\n# %% ch-1 mistake\n"
        "def f():\n    return 0\n"
    )
    read = answers.read(path)
    assert [(c.label, c.role, c.points) for c in read] == [
        ("setup", "code", 1),
        ("ch-1", "code", 1),
        ("ch-1", "check", 2),
        ("ch-1", "mistake", 1),
    ]
    assert read[1].is_answer and not read[0].is_answer


@pytest.mark.parametrize(
    "text, error",
    [
        ("# %%\nx = 1\n", "expected '# %% LABEL"),
        ("# %% a check\nprint(1)\n", "must bind `report`"),
        ("# %% a\n### BEGIN SOLUTION\nx = 1\n", "unbalanced"),
    ],
)
def test_a_malformed_answers_file_is_refused(tmp_path, text, error):
    path = tmp_path / "ch.py"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        answers.read(path)


def _chapter(tmp_path, text: str) -> Path:
    path = tmp_path / "ch.md"
    path.write_text(text)
    return path


EXERCISE = (
    "````{exercise-start} Q\n:label: ch-1\n````\nWhy?\n```{exercise-end}\n"
    "```\n\n```{solution-start} ch-1\n:class: dropdown\n```\nBecause 42.\n\n"
    "```{code-cell} ipython3\nprint('verified')\n```\n```{solution-end}\n"
    "```\n"
)


def test_only_questions_tagged_cells_and_their_headings_are_kept(tmp_path):
    path = _chapter(
        tmp_path,
        "# Title\n\nIntro with an answer.\n\n## Section\n\nProse.\n\n"
        "```{code-cell} ipython3\nfrom hwlib.gates import xor_network\n```\n"
        '\n+++ {"tags": ["student"]}\n\nGiven: $x$.\n\n+++\n\n'
        "## Empty section\n\nMore prose.\n\n## Questions\n\n" + EXERCISE,
    )
    kept = select.student_items(parse.read_chapter(path))
    kinds = [(k, v if isinstance(v, str) else v.label) for k, v in kept]
    assert kinds == [
        ("markdown", "# Title"),
        ("markdown", "Given: $x$."),
        ("markdown", "## Questions"),
        ("exercise", "ch-1"),
        ("answer", "ch-1"),
    ]


def test_glue_in_student_text_is_refused():
    with pytest.raises(markdown.GlueInStudentText, match="glue"):
        markdown.to_jupyter("Accuracy {glue:text}`acc` %.", {})
    assert markdown.to_jupyter("{glue:text}`acc`", {}, glue="?") == "?"
    assert markdown.to_jupyter("{cite:p}`a2020` and $\\bx$", {"bx": "X"}) == (
        "(a2020) and $X$"
    )


def test_a_small_chapter_student_and_source(tmp_path):
    path = _chapter(tmp_path, "# Ch\n\n" + EXERCISE)
    code = tmp_path / "ch.py"
    code.write_text(
        "# %% ch-1\ndef f(x):\n    '''Return it.'''\n"
        "    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
        "# %% ch-1 check\nreport = f(1)\nprint(report)\n"
    )
    nb, summary = notebook.build(path, answers=code)
    text = notebook.render(nb)
    assert "Because 42" not in text and "verified" not in text
    assert "return 2 * x" not in text and "raise NotImplementedError()" in text
    assert "BEGIN HIDDEN" not in text
    assert (summary.questions, summary.written, summary.code) == (1, 1, 1)
    assert (summary.checks, summary.points) == (1, 1)
    source = notebook.render(
        notebook.build(path, answers=code, source=True)[0]
    )
    assert "Because 42" in source and "return 2 * x" in source
    assert "assert report.passed" in source
    roles = [_role(c) for c in nb.cells if _role(c)]
    assert roles == ["written", "code", "check"]


def test_writing_refuses_to_overwrite_an_edited_notebook(tmp_path):
    target = tmp_path / "ch.ipynb"
    assert write.write(target, "one") is None
    write.write(target, "two")  # ours: replaced silently
    target.write_text("my work")
    with pytest.raises(write.EditedFile, match="edited"):
        write.write(target, "three")
    assert target.read_text() == "my work"
    kept = write.write(target, "three", force=True)
    assert kept.read_text() == "my work" and target.read_text() == "three"
    target.write_text("more work")
    again = write.write(target, "four", force=True)
    assert again != kept and again.read_text() == "more work"
    assert kept.read_text() == "my work"


def test_an_unrecorded_file_counts_as_edited(tmp_path):
    target = tmp_path / "ch.ipynb"
    target.write_text("someone's notebook")
    with pytest.raises(write.EditedFile):
        write.write(target, "generated")


def test_a_missing_chapters_folder_fails_and_writes_nothing(tmp_path):
    before = (ROOT / "assignments.md").read_text()
    for folder in (tmp_path / "missing", tmp_path):
        with pytest.raises(SystemExit) as raised:
            make_assignments.main(
                ["--chapters", str(folder), "--out", str(tmp_path / "o")]
            )
        assert raised.value.code not in (0, None)
        assert str(folder) in str(raised.value.code)
    assert (ROOT / "assignments.md").read_text() == before
    assert not (tmp_path / "o").exists()


def test_an_unclosed_solution_is_refused(tmp_path):
    path = _chapter(
        tmp_path, "```{solution-start} x-1\n:class: dropdown\n```\nAnswer.\n"
    )
    with pytest.raises(ValueError, match="never closed"):
        parse.read_chapter(path)


# ---------------------------------------------------------------------------
# The committed notebooks
# ---------------------------------------------------------------------------


def test_assignments_are_up_to_date():
    folder = ROOT / "assignments"
    assert {p.stem for p in folder.glob("*.ipynb")} == set(CHAPTERS), (
        "run make assignments"
    )
    for chapter in CHAPTERS:
        assert (folder / f"{chapter}.ipynb").read_text() == STUDENT[chapter], (
            f"assignments/{chapter}.ipynb is out of date: run make assignments"
        )
    page = make_assignments.index.page([(p, s) for p, t, s in GENERATED if t])
    assert (ROOT / "assignments.md").read_text() == page


def test_the_books_page_links_each_notebook_to_colab():
    page = (ROOT / "assignments.md").read_text()
    url, branch, _ = book.repository()
    repo = url.removeprefix("https://github.com/")
    for chapter in CHAPTERS:
        assert f"<assignments/{chapter}.ipynb>`" in page
        assert (
            f"https://colab.research.google.com/github/{repo}/blob/{branch}/"
            f"assignments/{chapter}.ipynb"
        ) in page
    assert "file: assignments\n" in (ROOT / "_toc.yml").read_text()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgrader_metadata(chapter):
    nb = nbformat.reads(STUDENT[chapter], as_version=4)
    nbformat.validate(nb)
    ids = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if "nbgrader" in c.metadata
    ]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for cell in nb.cells:
        role = _role(cell)
        if role == "code":
            assert "raise NotImplementedError()" in cell.source
        elif role == "written":
            assert cell.source == cells.TEXT_STUB
        elif role == "check":
            assert "BEGIN HIDDEN" not in cell.source
            assert cell.metadata["nbgrader"]["points"] > 0
    assert SUMMARY[chapter].labels == [], (
        f"tools/answers/{chapter}.py names labels the chapter lacks"
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_notebook_installs_the_student_package(chapter):
    nb = nbformat.reads(STUDENT[chapter], as_version=4)
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert book.student_package() in install.source
    assert "hwlib[book]" not in STUDENT[chapter]


def _answer_names() -> dict[str, set[str]]:
    """Each answer module's public top-level names."""
    names = {}
    for name in modules.ANSWER | modules.BOOK_ONLY:
        path = ROOT / (name.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text())
        names[name] = {
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            and not n.name.startswith("_")
        }
    return names


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_student_notebook_names_no_reference_answer(chapter):
    """No import of an answer module, no name of one that the notebook does
    not define itself, no solution text, none of the book's machinery."""
    nb = nbformat.reads(STUDENT[chapter], as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    everything = "\n".join(c.source for c in nb.cells)
    for banned in ("myst_nb", "glue(", "{glue", "hwlib.book", "checked("):
        assert banned not in everything, f"{chapter}: {banned}"
    for name in modules.ANSWER | modules.BOOK_ONLY:
        assert name not in everything, f"{chapter} names {name}"
    defined, used = set(), set()
    for source in code:
        tree = ast.parse(source)
        defined |= answers.binds(source)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            if isinstance(node, ast.Name):
                used.add(node.id)
            if isinstance(node, ast.ImportFrom) and node.module:
                assert modules.shipped(
                    node.module
                ) or not node.module.startswith("hwlib"), (
                    f"{chapter} imports {node.module}"
                )
    for module, names in _answer_names().items():
        leaked = (used & names) - defined
        assert not leaked, f"{chapter} uses {sorted(leaked)} of {module}"
    for cell in _cells(chapter):
        for region in answers.solutions(cell.source):
            for line in region.split("\n"):
                if len(line.strip()) > 25:
                    assert line.strip() not in STUDENT[chapter], (
                        f"{chapter}: solution line {line.strip()!r} leaked"
                    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_graded_notebook_has_a_deliberate_mistake(chapter):
    found = _cells(chapter)
    if any(c.role == "check" for c in found):
        assert any(c.role == "mistake" for c in found), (
            f"tools/answers/{chapter}.py: add a `mistake` cell (a classic "
            "wrong answer the grading test must catch)"
        )


# ---------------------------------------------------------------------------
# Slow: the notebooks run on the student package
# ---------------------------------------------------------------------------


@functools.cache
def _student_site(folder: str) -> Path:
    """The student wheel, unpacked: a folder to put first on PYTHONPATH."""
    site = Path(folder) / "site"
    wheel = build_student.build(Path(folder) / "wheel")
    zipfile.ZipFile(wheel).extractall(site)
    return site


BLOCK = (
    "import sys\n"
    "for _name in {names!r}:\n"
    "    sys.modules[_name] = None  # unimportable, as for a student\n"
    "import hwlib\n"
    "assert hwlib.__file__.startswith({site!r}), hwlib.__file__"
)


def _needs_data(text: str) -> None:
    if "load_cifar10(" in text and not os.environ.get("HWLIB_CIFAR10"):
        pytest.skip("needs CIFAR-10: set HWLIB_CIFAR10")


def _student_env(tmp_path_factory) -> dict:
    site = _student_site(str(tmp_path_factory.getbasetemp() / "student"))
    return {
        "PYTHONPATH": str(site),
        "HWLIB_EPOCHS": "1",
        "MPLBACKEND": "Agg",
        "HWLIB_STUDENT": "unused: hwlib is found",
    }, site


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_leak_a_student_notebook_runs_without_any_answer_module(
    chapter, tmp_path, tmp_path_factory, monkeypatch
):
    _needs_data(STUDENT[chapter])
    env, site = _student_env(tmp_path_factory)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.reads(STUDENT[chapter], as_version=4)
    blocked = sorted(modules.ANSWER | modules.BOOK_ONLY) + ["myst_nb"]
    nb.cells.insert(
        0,
        nbformat.v4.new_code_cell(BLOCK.format(names=blocked, site=str(site))),
    )
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=1200,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()  # raises on any error: every cell runs
    checks = [c for c in nb.cells if _role(c) == "check"]
    assert len(checks) == SUMMARY[chapter].checks
    for cell in checks:
        out = "".join(o.get("text", "") for o in cell.outputs)
        assert out.startswith("✗"), f"{chapter}: unanswered check said {out}"


# ---------------------------------------------------------------------------
# Slow: nbgrader itself (make test-nbgrader)
# ---------------------------------------------------------------------------

ZEROS = '''\
import functools as _functools
import inspect as _inspect


def _zeros(value):
    """Zeros of the shape and kind of value."""
    import numpy as _np
    import torch as _torch

    if isinstance(value, _torch.Tensor):
        return _torch.zeros_like(value)
    if isinstance(value, _np.ndarray):
        return _np.zeros_like(value)
    if type(value).__name__ in ("MutableDenseMatrix", "ImmutableDenseMatrix"):
        import sympy as _sympy

        return _sympy.zeros(*value.shape)
    if isinstance(value, (list, tuple)):
        return type(value)(_zeros(v) for v in value)
    if isinstance(value, _torch.nn.Module):
        return lambda x: _torch.zeros_like(value(x))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return type(value)(0)
    return value


def _zeroed(obj):
    if _inspect.isclass(obj):
        methods = {
            k: _zeroed(v)
            for k, v in vars(obj).items()
            if _inspect.isfunction(v) and not k.startswith("_")
        }
        return type(obj.__name__, (obj,), methods)

    @_functools.wraps(obj)
    def wrapper(*args, **kwargs):
        return _zeros(obj(*args, **kwargs))

    return wrapper


for _name in {names!r}:
    globals()[_name] = _zeroed(globals()[_name])
'''


def _defined(source: str) -> list[str]:
    return [
        n.name
        for n in ast.parse(source).body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    ]


def _variants(chapter: str, source, release) -> dict:
    """The submissions graded for a chapter, and the points each expects."""
    checks = [c for c in source.cells if _role(c) == "check"]
    full = sum(c.metadata["nbgrader"]["points"] for c in checks)
    out = {
        "unanswered": (release, 0),
        "reference": (source, full),
    }
    mistake = next((c for c in _cells(chapter) if c.role == "mistake"), None)
    if mistake:
        wrong = nbformat.from_dict(json.loads(json.dumps(source)))
        first = next(
            i
            for i, c in enumerate(wrong.cells)
            if _role(c) == "code"
            and c.metadata["nbgrader"]["grade_id"].startswith(
                mistake.label + "-"
            )
        )
        wrong.cells.insert(
            first + 1, nbformat.v4.new_code_cell(mistake.source)
        )
        broken = set(_defined(mistake.source))
        lost = sum(
            c.metadata["nbgrader"]["points"]
            for c in checks
            if c.metadata["nbgrader"]["grade_id"].startswith(mistake.label)
            and broken
            & {
                n.id
                for n in ast.walk(ast.parse(c.source))
                if isinstance(n, ast.Name)
            }
        )
        assert lost > 0, f"{chapter}: the mistake is graded by no check"
        out["mistake"] = (wrong, full - lost)
    zeros = nbformat.from_dict(json.loads(json.dumps(source)))
    for i in reversed(range(len(zeros.cells))):
        if _role(zeros.cells[i]) == "code":
            names = _defined(zeros.cells[i].source)
            zeros.cells.insert(
                i + 1,
                nbformat.v4.new_code_cell(
                    ZEROS.replace("{names!r}", repr(names))
                ),
            )
    out["zeros"] = (zeros, 0)
    deleted = nbformat.from_dict(json.loads(json.dumps(release)))
    deleted.cells = [c for c in deleted.cells if _role(c) != "code"]
    out["deleted"] = (deleted, 0)
    emptied = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in emptied.cells:
        if _role(cell) == "code":
            cell.source = ""
    out["emptied"] = (emptied, 0)
    return out


def _nbgrader() -> Path:
    found = os.environ.get("NBGRADER") or shutil.which("nbgrader")
    if not found:
        pytest.skip("nbgrader not installed: make test-nbgrader")
    return Path(found)


@pytest.mark.slow
def test_nbgrader_releases_and_grades_every_notebook(
    tmp_path, tmp_path_factory, capsys
):
    """generate_assignment releases exactly the student notebooks; autograde
    gives 0 to the unanswered release, full points to the reference answers,
    loses exactly the mistake's points, and gives 0 to zeros of the right
    shape and to a submission whose answer cells are deleted or emptied."""
    nbgrader = _nbgrader()
    env_vars, _ = _student_env(tmp_path_factory)
    kernel = tmp_path / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    kernel_env = {
        k: v for k, v in os.environ.items() if k.startswith("HWLIB_")
    } | env_vars
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
                "display_name": "Python 3 (student package)",
                "language": "python",
                "env": kernel_env,
            }
        )
    )
    chapters = [
        c
        for c in CHAPTERS
        if "load_cifar10(" not in STUDENT[c] or os.environ.get("HWLIB_CIFAR10")
    ]
    only = os.environ.get("NBGRADER_CHAPTERS")  # e.g. "cifar10 logic"
    chapters = [c for c in chapters if not only or c in only.split()]
    course = tmp_path / "course"
    make_assignments.main(
        ["--out", str(tmp_path / "unused"), "--source", str(course / "source")]
    )
    students = [
        "unanswered",
        "reference",
        "mistake",
        "zeros",
        "deleted",
        "emptied",
    ]
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.db_assignments = "
        f"{[dict(name=c) for c in chapters]!r}\n"
        f"c.CourseDirectory.db_students = {[dict(id=s) for s in students]!r}\n"
        "c.ExecutePreprocessor.timeout = 1800\n"
    )
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path / "jupyter"))
    env["PATH"] = f"{nbgrader.parent}{os.pathsep}{env['PATH']}"  # alembic
    env.pop("PYTHONPATH", None)

    def run(*args):
        done = subprocess.run(
            [str(nbgrader), *args],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    expected = {}
    for chapter in chapters:
        run("generate_assignment", chapter, "--force")
        release = nbformat.read(
            course / "release" / chapter / f"{chapter}.ipynb", 4
        )
        ours = nbformat.reads(STUDENT[chapter], 4)
        assert [(c.cell_type, c.source) for c in release.cells] == [
            (c.cell_type, c.source) for c in ours.cells
        ], f"{chapter}: nbgrader's release differs from ours"
        source = nbformat.read(
            course / "source" / chapter / f"{chapter}.ipynb", 4
        )
        for student, (nb, points) in _variants(
            chapter, source, release
        ).items():
            folder = course / "submitted" / student / chapter
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{chapter}.ipynb")
            expected[chapter, student] = points
        run("autograde", chapter, "--force")
    run("export")
    got = {
        (r["assignment"], r["student_id"]): float(r["raw_score"])
        for r in csv.DictReader((course / "grades.csv").open())
    }
    width = max(map(len, chapters))
    lines = [
        "auto points (expected) per submission:",
        f"{'chapter':{width}}  " + "  ".join(f"{s:>12}" for s in students),
    ]
    for chapter in chapters:
        row = []
        for student in students:
            if (chapter, student) in expected:
                row.append(
                    f"{got.get((chapter, student), -1):g} "
                    f"({expected[chapter, student]:g})"
                )
            else:
                row.append("-")
        lines.append(
            f"{chapter:{width}}  " + "  ".join(f"{r:>12}" for r in row)
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    wrong = {
        k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v
    }
    assert not wrong, f"scores (got, expected) that differ: {wrong}"
