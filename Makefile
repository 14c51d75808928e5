# Two commands do all set-up on a fresh machine:
#   make test   create .venv when missing, install, run the test suite
#   make book   same set-up, build the HTML book with every chapter executed (strict)
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: test test-fast test-colab test-browser book sync clean lint format assignments student test-nbgrader

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not colab and not browser" $(PYTEST_ARGS)

book: $(STAMP)
	$(PY) tools/web_assets.py
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Book built: $(CURDIR)/_build/html/index.html"

# Regenerate each chapter's .ipynb twin (no outputs) from its .md source.
sync: $(STAMP)
	$(VENV)/bin/jupytext --to ipynb --update-metadata '{"jupytext": {"formats": "md:myst,ipynb"}}' chapters/*.md
	$(PY) -c "import sys, nbformat; [nbformat.write(nbformat.read(p, 4), p) for p in sys.argv[1:]]" chapters/*.ipynb

clean:
	rm -rf _build

# Student notebooks assignments/<chapter>.ipynb (nbgrader format): each chapter's questions and
# the cells it tags `student`, with the code cells of tools/answers/<chapter>.py (answers as stubs).
# NBGRADER_SOURCE=dir also writes nbgrader's source notebooks, with the reference answers.
# A notebook edited by hand is not overwritten (FORCE=1 does, keeping it as .edited).
assignments: $(STAMP)
	$(PY) tools/make_assignments.py $(if $(NBGRADER_SOURCE),--source $(NBGRADER_SOURCE)) $(if $(FORCE),--force)

# The student package: a wheel named hwlib with hwlib.check and the neutral tools, no answers
# (tools/assign/modules.py), in _build/student/; the notebooks install it from tools/assignments.toml.
student: $(STAMP)
	$(PY) tools/build_student.py

# nbgrader (requirements-ci.txt, its own venv: its pins clash with jupyter-book's) releases and
# autogrades every student notebook on the student package, and prints the score table.
NBGRADER_VENV ?= .venv-nbgrader
$(NBGRADER_VENV)/.installed: requirements-ci.txt
	test -x $(NBGRADER_VENV)/bin/python || $(PYTHON) -m venv $(NBGRADER_VENV)
	$(NBGRADER_VENV)/bin/python -m pip install -q -r requirements-ci.txt
	touch $@

test-nbgrader: $(STAMP) $(NBGRADER_VENV)/.installed
	NBGRADER=$(CURDIR)/$(NBGRADER_VENV)/bin/nbgrader $(PY) -m pytest -v tests/test_assignments.py -k nbgrader $(PYTEST_ARGS)

# Each chapter's .ipynb in a bare venv whose only set-up is the notebook's first cell (slow).
test-colab: $(STAMP)
	$(PY) -m pytest -m colab -v $(PYTEST_ARGS)

# The built HTML in headless Chromium (needs: apt-get install chromium chromium-driver; run after make book).
test-browser: $(STAMP)
	$(PY) -m pytest -m browser -v $(PYTEST_ARGS)

# ruff (settings in pyproject.toml) over the code and the chapters' code cells.
LINTED := hwlib tests bench tools
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(PY) tools/format_chapters.py --check

# Fix what ruff can fix, format, and write the chapters' cells back (then their .ipynb twins).
format: $(STAMP)
	$(VENV)/bin/ruff check --fix --exit-zero -q $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)
	$(PY) tools/format_chapters.py
	$(MAKE) sync assignments
