"""python -m hwlib.check: files, notebooks, sys.exit, endless code."""

import json
import subprocess
import sys
import textwrap

from hwlib import check

STUDENT = textwrap.dedent("""
    import numpy as np

    def softmax_loss(x, y):
        z = x - x.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        n = len(y)
        dx = np.exp(log_p)
        dx[np.arange(n), y] -= 1
        return -log_p[np.arange(n), y].mean(), dx / n

    def summed_loss(x, y):
        loss, dx = softmax_loss(x, y)
        return loss * len(y), dx * len(y)

    and_neuron = ([1.0, 1.0], -1.5)
""")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "hwlib.check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_command_line(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text(STUDENT)
    assert check.main(["softmax_loss", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓ check_softmax_loss(softmax_loss)")
    assert check.main(["softmax_loss", f"{path}:summed_loss"]) == 1
    assert "the batch size N = 8" in capsys.readouterr().out


def test_a_file_that_calls_sys_exit_is_still_reported(tmp_path):
    path = tmp_path / "student.py"
    path.write_text(STUDENT + "\nimport sys\nsys.exit(0)\n")
    done = run_cli("softmax_loss", f"{path}:summed_loss")  # python -m
    assert done.returncode == 1
    assert "called sys.exit(0)" in done.stdout
    assert "✗ check_softmax_loss(summed_loss)" in done.stdout


def test_a_notebook_is_read(tmp_path):
    cells = [
        {"cell_type": "markdown", "source": "# my answers"},
        {"cell_type": "code", "source": ["!pip install nothing\n", STUDENT]},
    ]
    path = tmp_path / "answers.ipynb"
    path.write_text(json.dumps({"cells": cells, "nbformat": 4}))
    assert check.main(["softmax_loss", str(path)]) == 0
    bad = tmp_path / "broken.ipynb"
    bad.write_text("not json")
    assert check.main(["softmax_loss", str(bad)]) == 2
    other = tmp_path / "notes.txt"
    other.write_text(STUDENT)
    assert check.main(["softmax_loss", str(other)]) == 2


def test_an_endless_import_is_stopped(tmp_path, capsys):
    path = tmp_path / "endless.py"
    path.write_text("while True:\n    pass\n")
    old = check.set_time_limit(0.5)
    try:
        assert check.main(["softmax_loss", str(path)]) == 1
    finally:
        check.set_time_limit(old)
    assert "did not return within 0.5 s" in capsys.readouterr().out


def test_command_line_in_process(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text(STUDENT)
    assert check.main(["neuron_and", str(path)]) == 0
    assert check.main(["neuron_iff", f"{path}:and_neuron"]) == 1
    assert "not linearly separable" in capsys.readouterr().out
    assert check.main(["no_such_topic", str(path)]) == 2
    assert check.main(["softmax_loss", f"{path}:missing"]) == 2
    assert check.main(["softmax_loss", str(tmp_path / "none.py")]) == 2
    assert check.main(["affine", f"{path}:softmax_loss"]) == 2
    assert check.main([]) == 2
    capsys.readouterr()
    assert check.main(["--list"]) == 0
    listing = capsys.readouterr().out
    for name, topic in check.TOPICS.items():
        assert name in listing and topic.signature in listing
