"""Each chapter's .ipynb runs top to bottom in a fresh kernel whose only set-up is its first cell.

A bare virtual environment gets ipykernel and nothing else (as a Colab runtime has a kernel and
no hwlib); the notebooks' first cell must install hwlib and everything it needs. $HWLIB_SOURCE
points that cell at a fresh copy of this checkout's package instead of the repository on GitHub,
so the test needs no internet beyond the package registry. Chapters that use CIFAR-10 read $HWLIB_CIFAR10 as usual.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# the chapters and the student notebooks made from them (make assignments)
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb")) + sorted(
    (ROOT / "assignments").glob("*.ipynb")
)
NEEDS_DATA = {"cifar10.ipynb", "paper_review.ipynb", "input_gradients.ipynb"}


@pytest.fixture(scope="session")
def hwlib_source(tmp_path_factory):
    """A copy of this checkout's package at a path new to this run.

    pip caches the wheel it builds from a local folder under the folder's
    URL: pointed at the checkout itself, a second run at the same path (a
    developer's, or CI's next clone) would install the stale wheel.
    """
    source = tmp_path_factory.mktemp("hwlib-source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "hwlib",
        source / "hwlib",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return source.as_uri()


@pytest.fixture(scope="session")
def student_wheel(tmp_path_factory):
    """The student package (make student), for the student notebooks'
    first cell ($HWLIB_STUDENT), at a path new to this run."""
    sys.path.insert(0, str(ROOT / "tools"))
    import build_student

    return str(build_student.build(tmp_path_factory.mktemp("student")))


@pytest.fixture(scope="session")
def bare_kernel(tmp_path_factory):
    """A kernel spec whose Python has only ipykernel installed."""
    base = tmp_path_factory.mktemp("bare")
    subprocess.run(
        [sys.executable, "-m", "venv", str(base / "venv")], check=True
    )
    python = base / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "ipykernel"], check=True
    )
    subprocess.run(
        [
            str(python),
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(base / "jupyter"),
            "--name",
            "hwlib-bare",
        ],
        check=True,
        capture_output=True,
    )
    return base / "jupyter" / "share" / "jupyter", python


@pytest.mark.colab
@pytest.mark.parametrize(
    "path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_notebook_runs_in_a_bare_environment(
    path, bare_kernel, hwlib_source, student_wheel, tmp_path, monkeypatch
):
    if path.name in NEEDS_DATA and not os.environ.get("HWLIB_CIFAR10"):
        pytest.skip(f"{path.name} needs CIFAR-10: set HWLIB_CIFAR10")
    jupyter_path, python = bare_kernel
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("HWLIB_SOURCE", hwlib_source)
    monkeypatch.setenv("HWLIB_STUDENT", student_wheel)
    monkeypatch.setenv(
        "PATH", f"{python.parent}{os.pathsep}{os.environ['PATH']}"
    )
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="hwlib-bare",
        timeout=1800,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # not the repo: no local hwlib/
    client.execute()
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
