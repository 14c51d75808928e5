"""The book's sources: every chapter is a MyST notebook with an output-free .ipynb twin in sync."""
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from hwlib.check import count_words

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
    assert [(c.cell_type, c.source) for c in twin.cells] == [(c.cell_type, c.source) for c in from_md.cells], (
        f"{ipynb.name} is out of sync with {md.name}: run `make sync`"
    )
    for cell in code_cells(twin):
        assert cell.outputs == [] and cell.execution_count is None, f"{ipynb.name} carries outputs"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_installs_hwlib_from_the_configured_repository(md):
    cells = code_cells(jupytext.read(md))
    if not cells:
        pytest.skip(f"{md.name} has no code")
    first = cells[0].source
    assert 'find_spec("hwlib") is None' in first
    url = CONFIG["repository"]["url"]
    assert f'"git+{url}"' in first


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    files = toc_files()
    for md in CHAPTERS:
        assert f"chapters/{md.stem}" in files, f"{md.name} is not in _toc.yml"
    for f in files:
        assert (ROOT / f"{f}.md").exists(), f"_toc.yml lists {f}, which does not exist"


def review_answers_word_count(text: str) -> int:
    """Words of the paper-review answers: between the markers, without headings and citation roles."""
    import re

    body = text.split("<!-- answers: start -->")[1].split("<!-- answers: end -->")[0]
    body = "\n".join(line for line in body.splitlines() if not line.startswith("#"))
    body = re.sub(r"\{cite:[pt]\}`[^`]*`", "", body)
    return count_words(body)


def test_paper_review_answers_fit_in_350_words():
    text = (ROOT / "chapters" / "paper_review.md").read_text()
    assert 100 < review_answers_word_count(text) <= 350
