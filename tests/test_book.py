"""The book's sources: every chapter is a MyST notebook with an output-free .ipynb twin in sync."""

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from hwlib.review import count_words

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_ipynb_twin_is_in_sync_and_has_no_outputs(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make sync`"
    from_md = jupytext.read(md)
    twin = nbformat.read(ipynb, as_version=4)
    assert [(c.cell_type, c.source) for c in twin.cells] == [
        (c.cell_type, c.source) for c in from_md.cells
    ], f"{ipynb.name} is out of sync with {md.name}: run `make sync`"
    for cell in code_cells(twin):
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{ipynb.name} carries outputs"
        )


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_installs_hwlib_from_the_configured_repository(md):
    """Every chapter's first cell is the one template, INSTALL_CELL of
    tools/set_repository.py (python tools/set_repository.py --install-cells
    writes it), naming the configured repository; it imports no hwlib."""
    cells = code_cells(jupytext.read(md))
    if not cells:
        pytest.skip(f"{md.name} has no code")
    first = cells[0].source
    url = CONFIG["repository"]["url"]
    tool = load_tool("set_repository")
    assert first == tool.install_cell(url), (
        f"{md.name}: run python tools/set_repository.py --install-cells"
    )
    assert tool.first_cell(md.read_text()) == first
    assert 'find_spec("hwlib") is None' in first and f'"git+{url}"' in first
    assert "hwlib." not in first.replace("find_spec", "")
    assert "hide-cell" in cells[0].metadata.get("tags", [])


def test_install_cells_are_written_from_the_template(tmp_path):
    tool = load_tool("set_repository")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    old = "```{code-cell} ipython3\n:tags: [hide-cell]\n\nimport os\n"
    old += "source = os.environ.get('HWLIB_SOURCE')\n```\n\nProse.\n"
    (tmp_path / "chapters" / "a.md").write_text(old)
    (tmp_path / "chapters" / "b.md").write_text("No install cell.\n")
    assert tool.set_install_cells(tmp_path) == [tmp_path / "chapters" / "a.md"]
    text = (tmp_path / "chapters" / "a.md").read_text()
    url = CONFIG["repository"]["url"]
    assert tool.first_cell(text) == tool.install_cell(url)
    assert text.startswith("```{code-cell} ipython3\n:tags: [hide-cell]\n\n")
    assert text.endswith("\n```\n\nProse.\n")
    assert tool.set_install_cells(tmp_path) == []  # already written


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    files = toc_files()
    for md in CHAPTERS:
        assert f"chapters/{md.stem}" in files, f"{md.name} is not in _toc.yml"
    for f in files:
        assert (ROOT / f"{f}.md").exists(), (
            f"_toc.yml lists {f}, which does not exist"
        )


def review_answers_word_count(text: str) -> int:
    """Words of the paper-review answers: between each pair of markers (one pair per answer),
    without headings and citation roles."""
    import re

    parts = re.findall(
        r"<!-- answers: start -->(.*?)<!-- answers: end -->", text, re.S
    )
    assert parts, (
        "no <!-- answers: start --> ... <!-- answers: end --> pair found"
    )
    body = "\n".join(parts)
    body = "\n".join(
        line for line in body.splitlines() if not line.startswith("#")
    )
    body = re.sub(r"\{cite:[pt]\}`[^`]*`", "", body)
    return count_words(body)


def test_paper_review_answers_fit_in_350_words():
    text = (ROOT / "chapters" / "paper_review.md").read_text()
    assert 100 < review_answers_word_count(text) <= 350


def load_tool(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        name, ROOT / "tools" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_repository_url_lives_in_config_and_every_copy_agrees():
    """_config.yml's repository.url feeds the launch buttons; install cells and README repeat it."""
    tool = load_tool("set_repository")
    assert tool.configured() == CONFIG["repository"]["url"]
    copies = tool.copies()
    assert ROOT / "README.md" in copies
    assert {
        p for p in copies if p.parent.name == "chapters" and p.suffix == ".md"
    } == {md for md in CHAPTERS if code_cells(jupytext.read(md))}
    assert tool.check() == [], "run: python tools/set_repository.py --check"


def test_set_repository_renames_everywhere(tmp_path):
    tool = load_tool("set_repository")
    (tmp_path / "chapters").mkdir()
    names = [
        "README.md",
        "chapters/approximation.md",
        "chapters/approximation.ipynb",
        "assignments.md",
    ]
    names = [name for name in names if (ROOT / name).exists()]
    for name in ["_config.yml", *names]:
        (tmp_path / name).write_text((ROOT / name).read_text())
    old = CONFIG["repository"]["url"]
    new = (
        old + "-fork"
    )  # the old name is a prefix of the new one: must not become -fork-fork
    assert tool.main([new + ".git"], root=tmp_path) == 0
    assert (
        yaml.safe_load((tmp_path / "_config.yml").read_text())["repository"][
            "url"
        ]
        == new
    )
    for name in names:
        text = (tmp_path / name).read_text()
        named = (
            tool.colab_path(new) if name == "assignments.md" else new
        )  # Colab links
        assert named in text and "-fork-fork" not in text
        assert (
            "dl-course-companion/" not in text
            and 'dl-course-companion"' not in text
        ), name
    assert tool.pages_url(new) in (tmp_path / "README.md").read_text()
    assert tool.check(tmp_path) == []
    with pytest.raises(SystemExit, match="OWNER/NAME"):
        tool.set_url("https://gitlab.com/a/b", tmp_path)


def test_explorer_cells_use_the_offline_plotly_display():
    """Each chapter with a plotly explorer shows it with hwlib.explorers.show (works without a kernel)."""
    uses = {
        md.stem
        for md in CHAPTERS
        if "from hwlib.explorers import" in md.read_text()
    }
    assert uses >= {"approximation", "conv_matrix", "depth_folding"}
    for stem in uses:
        text = (ROOT / "chapters" / f"{stem}.md").read_text()
        assert "show(explorer)" in text, (
            f"{stem}.md builds an explorer but does not show it"
        )


def test_each_answer_is_folded_under_a_question_of_its_own():
    """Try first: every solution is a dropdown that refers to an exercise with a unique label."""
    import re

    labels, solutions = [], []
    for md in CHAPTERS:
        text = md.read_text()
        labels += re.findall(
            r"^````\{exercise-start\}[^\n]*\n:label: (\S+)", text, re.M
        )
        for target, options in re.findall(
            r"^```\{solution-start\} (\S+)\n((?::[^\n]*\n)*)", text, re.M
        ):
            solutions.append(target)
            assert ":class: dropdown" in options, (
                f"{md.name}: the answer to {target} is not folded"
            )
    assert len(labels) == len(set(labels)), (
        f"exercise labels used twice: {sorted(set(l for l in labels if labels.count(l) > 1))}"
    )
    assert set(solutions) <= set(labels), (
        f"answers to no exercise: {sorted(set(solutions) - set(labels))}"
    )
    assert len(solutions) == len(set(solutions)), "an exercise has two answers"
    assert "solution-start" not in (ROOT / "results.md").read_text(), (
        "the results page stays open"
    )


def test_checked_passes_true_claims_and_stops_on_false_ones(capsys):
    from hwlib.book import ClaimFailed, checked

    checked(1 + 1 == 2, "arithmetic holds")
    assert "checked: arithmetic holds" in capsys.readouterr().out
    with pytest.raises(ClaimFailed, match="the moon is square"):
        checked(False, "the moon is square")
    with pytest.raises(TypeError, match="claim must be"):
        checked(True, "")


PAGES = load_tool("prose_numbers").pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_prose_has_no_typed_numbers(page):
    """Every number that reports a result comes from glue, never typed
    (tools/prose_numbers.py: what it scans and its short allow-list)."""
    found = load_tool("prose_numbers").scan(page)
    assert not found, "numbers typed into the prose (glue them):\n" + (
        "\n".join(found)
    )


TYPED = """\
Some prose.

```{code-cell} ipython3
accuracy = 0.547  # code is not prose
```

The network reaches RESULT test accuracy, and $x = 12$ is math.
"""


@pytest.mark.parametrize(
    "result",
    ["54.7 %", "0.547", "12 of the 16", "twelve", "`0.547`", "8 %", "1,024"],
)
def test_a_number_typed_into_prose_fails_the_scan(result):
    tool = load_tool("prose_numbers")
    found = tool.typed_numbers(TYPED.replace("RESULT", result))
    assert found and {line for line, *_ in found} == {7}, found
    glued = TYPED.replace("RESULT", "{glue:text}`test_acc`")
    assert tool.typed_numbers(glued) == []


def test_a_typed_number_in_a_real_chapter_fails_its_test(tmp_path):
    """The scan of a real page: clean as it is, caught with one typed
    number added to a paragraph inside an answer."""
    tool = load_tool("prose_numbers")
    page = ROOT / "chapters" / "conv_matrix.md"
    text = page.read_text()
    assert tool.typed_numbers(text) == []
    anchor = "**Check.** With random numbers"
    assert anchor in text
    broken = text.replace(anchor, "It took 3.7 s. " + anchor, 1)
    assert [n for _, n, _ in tool.typed_numbers(broken)] == ["3.7"]


@pytest.mark.parametrize(
    "allowed",
    [
        "§1.2 of Problem Set 2 and Questions 9 to 15 of MIT 6.7960",
        "CIFAR-10 and ImageNet-1k, Fall 2024, (ECCV 2018)",
        "step 1, stride 2, padding 1, Q12",
        "30 epochs of 32×32 images, pixels out of 255",
    ],
)
def test_the_allow_list_passes_constants_and_names(allowed):
    tool = load_tool("prose_numbers")
    assert tool.typed_numbers(f"Prose: {allowed}.\n") == []


def test_the_allow_list_is_short_and_says_why():
    tool = load_tool("prose_numbers")
    entries = [*tool.ALLOWED, *sum(tool.ALLOWED_ON.values(), [])]
    assert len(entries) <= 15
    assert all(isinstance(why, str) and why for _, why in entries)
    assert set(tool.ALLOWED_ON) <= {
        p.relative_to(ROOT).as_posix() for p in PAGES
    }


def test_glue_text_glues_each_value_as_its_text(monkeypatch):
    import myst_nb

    from hwlib.book import glue_text

    glued = []
    monkeypatch.setattr(
        myst_nb, "glue", lambda *args, **kw: glued.append((args, kw))
    )
    glue_text(acc="54.7%", epochs=30, lr=0.01)
    assert glued == [
        (("acc", "54.7%"), {"display": False}),
        (("epochs", "30"), {"display": False}),
        (("lr", "0.01"), {"display": False}),
    ]
    with pytest.raises(TypeError, match="at least one"):
        glue_text()
    with pytest.raises(TypeError, match="x must be a str, int or float"):
        glue_text(x=[1, 2])


@pytest.mark.parametrize("source", [None, "file:///tmp/hwlib-copy"])
def test_the_install_cell_runs_pip_only_where_hwlib_is_missing(
    monkeypatch, source
):
    """The template, executed with hwlib missing (find_spec -> None) and a
    stand-in for subprocess.run: one pip call, from $HWLIB_SOURCE when set,
    else from the repository; with hwlib present, nothing runs."""
    import importlib.util
    import subprocess
    import sys

    tool = load_tool("set_repository")
    url = CONFIG["repository"]["url"]
    calls = []
    monkeypatch.setattr(
        subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw))
    )
    if source is None:
        monkeypatch.delenv("HWLIB_SOURCE", raising=False)
    else:
        monkeypatch.setenv("HWLIB_SOURCE", source)
    exec(tool.install_cell(url), {})  # hwlib is installed here: no call
    assert calls == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    exec(tool.install_cell(url), {})
    wanted = f"hwlib[book] @ {source or 'git+' + url}"
    pip = [sys.executable, "-m", "pip", "install", "-q", wanted]
    assert calls == [(pip, {"check": True})]


# Figures' text alternatives. A matplotlib figure that a cell draws becomes an
# <img> whose alt text is the cell's `mystnb: image: alt:` option (without it,
# the image's file name); a glued figure takes `:alt:` on {glue:figure}.


def calls_outside_functions(tree):
    """The calls a cell makes when it runs: not those inside a def/lambda."""
    import ast

    todo, calls = list(ast.iter_child_nodes(tree)), []
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, (ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Call):
            calls.append(node.func)
        todo += ast.iter_child_nodes(node)
    return calls


def draws(func, plotters) -> bool:
    """A call that draws: plt.anything(), plot*(), or a function of the
    chapter that draws (in `plotters`)."""
    import ast

    if isinstance(func, ast.Attribute):
        return isinstance(func.value, ast.Name) and func.value.id == "plt"
    return isinstance(func, ast.Name) and (
        func.id.startswith("plot") or func.id in plotters
    )


def figure_cells(nb):
    """The code cells that draw a figure when run: a call to plt.*, to a
    plot* function, or to a function defined earlier in the chapter whose
    body makes such a call (cells that only define it draw nothing)."""
    import ast

    plotters, found = set(), []
    for cell in code_cells(nb):
        tree = ast.parse(cell.source)
        if any(draws(f, plotters) for f in calls_outside_functions(tree)):
            found.append(cell)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                draws(n.func, plotters)
                for n in ast.walk(node)
                if isinstance(n, ast.Call)
            ):
                plotters.add(node.name)
    return found


def alt_text(cell) -> str:
    image = cell.metadata.get("mystnb", {}).get("image", {})
    return str(image.get("alt", "")).strip()


def missing_alt_texts(text: str) -> list[str]:
    """The figures of a chapter (MyST text) without a real text alternative:
    the first line of each such cell, and each {glue:figure} lacking :alt:."""
    import re

    nb = jupytext.reads(text, fmt="md:myst")
    bad = [
        cell.source.splitlines()[0]
        for cell in figure_cells(nb)
        if len(alt_text(cell)) < 40 or alt_text(cell).endswith(".png")
    ]
    fence = r"^[`:]{3,}\{glue:figure\}.*?^[`:]{3,}$"
    for block in re.findall(fence, text, re.M | re.S):
        if not re.search(r"^:alt: *\S.{30,}$", block, re.M):
            bad.append(block.splitlines()[0])
    return bad


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_a_text_alternative(md):
    """Every cell that draws a matplotlib figure carries `mystnb: image:
    alt:` saying what the figure shows; every {glue:figure} an `:alt:`."""
    missing = missing_alt_texts(md.read_text())
    assert not missing, f"{md.name}: figures without alt text:\n" + "\n".join(
        missing
    )


ALT = "A straight line through the origin, rising from left to right."
FIGURES = f"""\
```{{code-cell}} ipython3
def draw(f):
    plt.plot(f)
```

```{{code-cell}} ipython3
---
mystnb:
  image:
    alt: {ALT}
---
fig, ax = plt.subplots()
```

```{{code-cell}} ipython3
draw([1, 2])
```

```{{glue:figure}} curve
:alt: {ALT}
```
"""


def test_a_figure_without_alt_text_fails_the_scan():
    assert missing_alt_texts(FIGURES) == ["draw([1, 2])"]
    no_alt = FIGURES.replace(f":alt: {ALT}\n", "")
    assert missing_alt_texts(no_alt) == [
        "draw([1, 2])",
        "```{glue:figure} curve",
    ]
    both = FIGURES.replace("draw([1, 2])", "plot_curve(draw)")
    assert missing_alt_texts(both) == ["plot_curve(draw)"]
    clean = FIGURES.replace("draw([1, 2])", "print(draw)")
    assert missing_alt_texts(clean) == []
