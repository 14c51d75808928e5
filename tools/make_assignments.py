"""Write a student notebook per chapter: questions kept, answers removed.

    python tools/make_assignments.py                 # assignments/<chapter>.ipynb
    python tools/make_assignments.py --source DIR    # also nbgrader sources
    python tools/make_assignments.py --check         # exit 1 if out of date

The answers are the chapters' sphinx-exercise blocks (`solution-start` ...
`solution-end`). In the student notebook, the questions (`exercise-start` ...
`exercise-end`) and every cell outside a solution stay; each solution's prose
becomes an empty "YOUR ANSWER HERE" cell; a solution listed in
tools/assignments.toml also becomes a code stub (the reference's signature and
docstring, raising NotImplementedError) followed by its hwlib.check cell;
the solution's own code cells are dropped.

The notebooks use nbgrader's format (cell metadata schema 3): the student
notebook is what `nbgrader generate_assignment` releases from the source
notebook written with --source, whose solution regions hold the reference
answer between `### BEGIN SOLUTION` / `### END SOLUTION` and whose check
cells end with a hidden `assert report.passed`, so that nbgrader's autograder
gives the points only when the check passes. A student's own run never
raises: the check prints its report (✗ lines with a diagnosis).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import importlib
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "assignments.toml"
OUTPUT = ROOT / "assignments"
INDEX = ROOT / "assignments.md"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise-start|exercise-end|"
    r"solution-start|solution-end)\}[ \t]*(?P<arg>.*)$"
)
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
TARGET = re.compile(r"^\(([\w-]+)\)=[ \t]*$", re.M)


# ----------------------------------------------------------------------------
# Reading the chapters
# ----------------------------------------------------------------------------


@dataclass
class Block:
    """One exercise or solution of a chapter, in order."""

    kind: str  # "exercise" or "solution"
    label: str
    title: str = ""
    cells: list = field(default_factory=list)  # nbformat cells inside


def _split_markdown(text: str):
    """Yield ("text", str) and ("directive", name, arg, options) items."""
    lines = text.split("\n")
    chunk: list[str] = []
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i].strip())
        if not match:
            chunk.append(lines[i])
            i += 1
            continue
        if "\n".join(chunk).strip():
            yield ("text", "\n".join(chunk).strip("\n"))
        chunk = []
        options: dict[str, str] = {}
        i += 1
        while i < len(lines) and lines[i].strip() != match["fence"]:
            option = re.match(r"^:([\w-]+):\s*(.*)$", lines[i].strip())
            if option:
                options[option[1]] = option[2].strip()
            i += 1
        i += 1  # the closing fence
        yield ("directive", match["name"], match["arg"].strip(), options)
    if "\n".join(chunk).strip():
        yield ("text", "\n".join(chunk).strip("\n"))


def read_chapter(path: Path):
    """The chapter as a list of items: cells outside blocks, and Blocks."""
    notebook = jupytext.read(path)
    items: list = []
    current: Block | None = None
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            (current.cells if current else items).append(cell)
            continue
        for part in _split_markdown(cell.source):
            if part[0] == "text":
                piece = nbformat.v4.new_markdown_cell(part[1])
                (current.cells if current else items).append(piece)
                continue
            _, name, arg, options = part
            kind, edge = name.split("-")
            if edge == "start":
                if current is not None:
                    raise ValueError(
                        f"{path.name}: {name} {arg or options} inside "
                        f"{current.kind} {current.label!r} (not closed)"
                    )
                label = (
                    options.get("label", arg) if kind == "exercise" else arg
                )
                current = Block(kind, label, arg if kind == "exercise" else "")
                items.append(current)
            else:
                if current is None or current.kind != kind:
                    raise ValueError(f"{path.name}: {name} without a start")
                current = None
    if current is not None:
        raise ValueError(
            f"{path.name}: {current.kind} {current.label!r} is never closed"
        )
    return notebook.metadata, items


# ----------------------------------------------------------------------------
# MyST -> Jupyter markdown
# ----------------------------------------------------------------------------


def book_macros() -> dict[str, str]:
    """The TeX macros that _config.yml gives MathJax (Jupyter lacks them)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    try:
        return config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    except (KeyError, TypeError):
        return {}


def _role(match: re.Match) -> str:
    role, text = match["role"], match["text"]
    if role.startswith("cite"):
        keys = ", ".join(k.strip() for k in text.split(","))
        return keys if role == "cite:t" else f"({keys})"
    if role in ("ref", "doc", "numref", "download"):
        titled = re.match(r"^(.*?)\s*<[^>]+>$", text)
        return titled[1] if titled else text
    if role == "math":
        return f"${text}$"
    if role.startswith("glue"):
        return f"`{text}` (computed in the book)"
    return f"`{text}`"


FENCED = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>.*)\n"
    r"(?P<body>(?:.*\n)*?)(?P=fence)[ \t]*$",
    re.M,
)


def _directive(match: re.Match) -> str:
    """A MyST directive as Jupyter markdown; a dropdown (answers folded in
    the book, e.g. a summary of all answers) is left out."""
    lines = match["body"].split("\n")
    options = [ln for ln in lines if re.match(r"^:[\w-]+:", ln)]
    body = "\n".join(ln for ln in lines if ln not in options).strip("\n")
    if any(re.match(r"^:class:.*\bdropdown\b", o) for o in options):
        return ""
    if match["name"] == "math":
        return f"$$\n{body}\n$$"
    title = match["arg"] or match["name"].capitalize()
    return "\n".join(
        f"> {ln}".rstrip() for ln in [f"**{title}**", ""] + body.split("\n")
    )


def to_jupyter_markdown(text: str, macros: dict[str, str]) -> str:
    """Jupyter-readable markdown: no MyST targets or roles, directives as
    quotes, TeX macros expanded."""
    # the chapter's own link to its student notebook makes no sense inside it
    text = re.sub(r"(?m)^\*\*As homework:\*\*.*(?:\n(?!\n).*)*", "", text)
    text = FENCED.sub(_directive, text + "\n")
    text = TARGET.sub("", text)
    text = ROLE.sub(_role, text)
    for name, value in macros.items():
        value = value if isinstance(value, str) else value[0]
        text = re.sub(rf"\\{name}(?![A-Za-z])", lambda _, v=value: v, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# ----------------------------------------------------------------------------
# Stubs from the hwlib references
# ----------------------------------------------------------------------------


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _bare_signature(fn, name: str, drop_self: bool = False) -> tuple[str, str]:
    """(def line, call arguments) of fn without annotations."""
    sig = inspect.signature(fn)
    params = [
        p.replace(annotation=inspect.Parameter.empty)
        for p in sig.parameters.values()
    ]
    sig = sig.replace(
        parameters=params, return_annotation=inspect.Signature.empty
    )
    args = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            args.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            args.append(f"**{p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            args.append(f"{p.name}={p.name}")
        else:
            args.append(p.name)
    if drop_self:
        args = args[1:]
    line = f"def {name}{sig}:"
    if len(line) > 79 - 4 * drop_self:  # one parameter per line
        inner, star = [], False
        for p in params:
            if p.kind is p.KEYWORD_ONLY and not star:
                inner.append("*")
            star = star or p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL)
            inner.append(str(p))
            if p.kind is p.POSITIONAL_ONLY and (
                p is params[-1]
                or params[params.index(p) + 1].kind is not p.POSITIONAL_ONLY
            ):
                inner.append("/")
        line = f"def {name}(\n" + "".join(f"    {p},\n" for p in inner) + "):"
    return line, ", ".join(args)


def _call(head: str, args: str, indent: str) -> str:
    """head(args), one argument per line when it would exceed 79 columns."""
    call = f"{head}({args})"
    if len(indent) + len(call) <= 79:
        return call
    return (
        f"{head}(\n" + "".join(f"    {a},\n" for a in args.split(", ")) + ")"
    )


def _docstring(obj, indent: str) -> str:
    return _docstring_text(inspect.getdoc(obj), indent)


def _docstring_text(doc: str | None, indent: str) -> str:
    doc = textwrap.dedent(doc or "").strip()
    if not doc:
        return ""
    doc = doc.replace("\\", "\\\\").replace('"""', r"\"\"\"")
    return (
        textwrap.indent(
            f'"""{doc}\n"""' if "\n" in doc else f'"""{doc}"""', indent
        )
        + "\n"
    )


def _body(solution: str, indent: str, with_solution: bool) -> str:
    body = f"{BEGIN}\n{solution}\n{END}" if with_solution else STUB
    return textwrap.indent(body, indent)


def function_stub(
    dotted: str, name: str, with_solution: bool, doc: str | None = None
) -> str:
    """def name(<reference's parameters>): docstring, then the answer region.

    The docstring is the reference's unless `doc` is given.
    """
    reference = _resolve(dotted)
    module, _, ref_name = dotted.rpartition(".")
    line, args = _bare_signature(reference, name)
    solution = (
        f"from {module} import {ref_name} as reference\n\n"
        f"return {_call('reference', args, '    return ')}"
    )
    doc = (
        _docstring_text(doc, "    ") if doc else _docstring(reference, "    ")
    )
    return line + "\n" + doc + _body(solution, "    ", with_solution)


def class_stub(
    dotted: str,
    name: str,
    methods: list[str],
    with_solution: bool,
    inherit: bool = False,
) -> str:
    """class name: docstring, and each method's signature, docstring, region.

    The reference solution calls the hwlib class's method on the student's
    object (hwlib's layers are plain classes that only use attributes).
    """
    reference = _resolve(dotted)
    module, _, ref_name = dotted.rpartition(".")
    header = f"class {name}:\n"
    if inherit:  # the methods not asked for come from the reference
        header = (
            f"import {module}\n\n\nclass {name}({dotted}):\n"
            f'    """{ref_name} from {module}, with your '
            + ", ".join(methods)
            + '."""\n'
        )
        parts = [header.rstrip("\n")]
    else:
        parts = [header + _docstring(reference, "    ").rstrip("\n")]
    for method in methods:
        fn = getattr(reference, method)
        line, args = _bare_signature(fn, method, drop_self=True)
        call = _call(
            f"reference.{method}",
            "self" + (", " if args else "") + args,
            "        return ",
        )
        solution = (
            f"from {module} import {ref_name} as reference\n\nreturn {call}"
        )
        parts.append(
            textwrap.indent(line, "    ")
            + "\n"
            + _docstring_text(fn.__doc__, "        ")
            + _body(solution, "        ", with_solution)
        )
    return "\n\n".join(parts)


def value_stub(
    name: str, doc: str, reference: str, with_solution: bool
) -> str:
    """def name(): docstring, then the answer region (returns the value)."""
    return (
        f"def {name}():\n"
        + _docstring_text(doc, "    ")
        + _body(reference.strip("\n"), "    ", with_solution)
    )


def check_cell(
    check: str, with_hidden_test: bool, value: tuple[str, str] | None = None
) -> str:
    """Import the check, print its report; the hidden test asserts it.

    For a value answer, `answer` is name() or, while that raises
    NotImplementedError, the `unanswered` placeholder.
    """
    checker = re.match(r"\s*(\w+)\(", check)
    if not checker:
        raise ValueError(f"check must be a call like check_x(answer): {check}")
    source = f"from hwlib.check import {checker[1]}\n\n"
    if value:
        source += (
            f"try:\n    answer = {value[0]}()\n"
            "except NotImplementedError:  # not answered yet\n"
            f"    answer = {value[1]}\n"
        )
    source += f"report = {check}\nprint(report)"
    if with_hidden_test:
        source += (
            f"\n{BEGIN_HIDDEN}\nassert report.passed, "
            f'"{checker[1]} failed: see its report above"\n'
            f"{END_HIDDEN}"
        )
    return source


# ----------------------------------------------------------------------------
# Building a notebook
# ----------------------------------------------------------------------------


# nbgrader's three kinds of cell here: (cell type, solution, grade, locked)
_ROLES = {
    "stub": ("code", True, False, False),  # code the student completes
    "answer": ("markdown", True, True, False),  # a written, graded answer
    "check": ("code", False, True, True),  # a locked hwlib.check cell
}


def graded_cell(role: str, source: str, grade_id: str, points: float = 1):
    """A new cell of the given role with nbgrader's metadata (schema 3)."""
    cell_type, solution, grade, locked = _ROLES[role]
    new = getattr(nbformat.v4, f"new_{cell_type}_cell")
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
    return new(source, metadata={"nbgrader": meta})


def _stub_name(entry: dict, gid: str) -> str:
    """The name the student defines: `name`, or the reference's own name."""
    for kind in ("function", "class", "value"):
        if kind in entry:
            return entry.get("name", entry[kind].rpartition(".")[2])
    raise ValueError(f"{gid}: an entry needs function, class or value")


def answer_cells(entry: dict, gid: str, source: bool):
    """The stub cell and the check cells of one tools/assignments.toml entry."""
    value, name = None, _stub_name(entry, gid)
    if "function" in entry:
        stub = function_stub(entry["function"], name, source, entry.get("doc"))
    elif "class" in entry:
        stub = class_stub(
            entry["class"],
            name,
            entry["methods"],
            source,
            entry.get("inherit", False),
        )
    elif "value" in entry:
        stub = value_stub(
            name, entry.get("doc", ""), entry["reference"], source
        )
        if "given" in entry:  # the setting the answer is written in
            stub = entry["given"].strip("\n") + "\n\n\n" + stub
        value = (name, entry.get("unanswered", "None"))
    stub_cell = graded_cell("stub", stub, f"{gid}-{name}")
    checks = [
        graded_cell(
            "check",
            check_cell(check, source, value),
            f"{gid}-{name}-check{k + 1}",
            entry.get("points", 1),
        )
        for k, check in enumerate(entry["checks"])
    ]
    return stub_cell, checks


def _grade_id(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", label)


@dataclass
class Summary:
    chapter: str
    questions: int = 0
    answers: int = 0  # "YOUR ANSWER HERE" cells
    stubs: int = 0  # functions/classes to write
    checks: int = 0  # hwlib.check cells grading them
    dropped_code: int = 0  # the book's solution code cells
    dropped_setup: int = 0  # set-up cells that train (tools/assignments.toml)
    dropped_dependent: int = 0  # cells that use what those cells compute
    unknown: list = field(default_factory=list)  # toml labels not found

    def __str__(self) -> str:
        return (
            f"{self.chapter}: {_count(self.questions, 'question')}, "
            f"{_count(self.answers, 'written answer')}, "
            f"{_count(self.stubs, 'code stub')} graded by "
            f"{_count(self.checks, 'check')}; left out: "
            f"{_count(self.dropped_code, 'solution code cell')}, "
            f"{_count(self.dropped_setup, 'training cell')}, "
            f"{_count(self.dropped_dependent, 'cell')} depending on them"
        )


def _clean_code_cell(cell):
    tags = [
        t
        for t in cell.metadata.get("tags", [])
        if t
        not in (
            "hide-cell",
            "hide-input",
            "hide-output",
            "remove-cell",
            "remove-input",
            "remove-output",
        )
    ]
    new = nbformat.v4.new_code_cell(cell.source)
    if tags:
        new.metadata["tags"] = tags
    return new


class Names:
    """Which names a student notebook can rely on, cell by cell.

    A name bound only by left-out code (a solution's cells, a training cell)
    is `missing`; a stub's name is missing too (calling it raises until the
    student writes it). A kept cell that reads a missing name would crash,
    so it is left out as well, and what it binds becomes missing in turn.
    """

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.missing: set[str] = set()

    @staticmethod
    def _tree(source: str):
        lines = [
            ln
            for ln in source.split("\n")
            if not ln.lstrip().startswith(("%", "!"))
        ]
        try:
            return ast.parse("\n".join(lines))
        except SyntaxError:
            return None

    @staticmethod
    def binds(tree) -> set[str]:
        """Module-level names a cell binds (not locals of its functions)."""
        names: set[str] = set()

        def visit(node):
            if isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                names.add(node.name)
                return
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update(
                    (a.asname or a.name).split(".")[0] for a in node.names
                )
                return
            if isinstance(
                node,
                (
                    ast.Lambda,
                    ast.ListComp,
                    ast.SetComp,
                    ast.DictComp,
                    ast.GeneratorExp,
                ),
            ):
                return
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            for child in ast.iter_child_nodes(node):
                visit(child)

        if tree is not None:
            visit(tree)
        return names

    @staticmethod
    def reads(tree) -> set[str]:
        """Names read and not bound anywhere in the cell (its loops, locals
        and parameters included)."""
        if tree is None:
            return set()
        read, local = set(), set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Name):
                (read if isinstance(n.ctx, ast.Load) else local).add(n.id)
            elif isinstance(n, ast.arg):
                local.add(n.arg)
            elif isinstance(
                n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                local.add(n.name)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                local.update(
                    (a.asname or a.name).split(".")[0] for a in n.names
                )
        return read - local

    def runs(self, source: str) -> bool:
        """Whether a kept cell can run; records what it binds."""
        tree = self._tree(source)
        if self.reads(tree) & self.missing:
            self.leave_out(source)
            return False
        binds = self.binds(tree)
        self.bound |= binds
        self.missing -= binds
        return True

    def prune(self, source: str, drop: list) -> str:
        """The statements of a training cell that can stay: those that
        neither match a `drop` pattern nor read what a dropped one binds
        (imports, helpers, cheap set-up)."""
        tree = self._tree(source)
        if tree is None:
            self.leave_out(source)
            return ""
        kept = []
        for statement in tree.body:
            text = ast.get_source_segment(source, statement)
            if text is None:
                continue
            if any(p.search(text) for p in drop):
                self.leave_out(text)
                self.missing |= self.mutates(statement)
            elif self.runs(text):
                kept.append((statement, text))

        def kind(statement):
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                return "import"
            if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                return "def"
            return "code"

        lines = []
        for k, (statement, text) in enumerate(kept):
            kinds = {kind(statement), kind(kept[k - 1][0])} if k else set()
            if "def" in kinds:
                lines.append("\n")
            elif len(kinds) == 2:
                lines.append("")
            lines.append(text)
        return "\n".join(lines)

    @staticmethod
    def mutates(tree) -> set[str]:
        """Names whose items or attributes a statement assigns (runs[k] = v):
        left out, it leaves them incomplete."""
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Subscript, ast.Attribute)) and (
                isinstance(node.ctx, ast.Store)
            ):
                while isinstance(node, (ast.Subscript, ast.Attribute)):
                    node = node.value
                if isinstance(node, ast.Name):
                    names.add(node.id)
        return names

    def leave_out(self, source: str) -> None:
        self.missing |= self.binds(self._tree(source)) - self.bound

    def stub(self, name: str) -> None:
        self.missing.add(name)


def build(path: Path, config: dict, *, source: bool = False):
    """(notebook, Summary) for a chapter; None when it has no solutions."""
    chapter = path.stem
    metadata, items = read_chapter(path)
    if not any(isinstance(i, Block) and i.kind == "solution" for i in items):
        return None, Summary(chapter)
    macros = book_macros()
    answers = config.get("answers", {}).get(chapter, {})
    settings = config.get("chapters", {}).get(chapter, {})
    drop = [re.compile(p) for p in settings.get("drop_setup", [])]
    points = config.get("points", {})
    summary = Summary(chapter)
    cells = []
    seen_labels = set()
    names = Names()

    def keep(cell):
        if cell.cell_type == "markdown":
            text = to_jupyter_markdown(cell.source, macros)
            if text:
                cells.append(nbformat.v4.new_markdown_cell(text))
        elif cell.cell_type == "code":
            if any(p.search(cell.source) for p in drop):
                summary.dropped_setup += 1
                kept = names.prune(cell.source, drop)
                if kept:
                    cells.append(_clean_code_cell(cell))
                    cells[-1].source = kept
            elif names.runs(cell.source):
                cells.append(_clean_code_cell(cell))
            else:
                summary.dropped_dependent += 1
        else:
            cells.append(cell)

    for item in items:
        if not isinstance(item, Block):
            keep(item)
        elif item.kind == "exercise":
            summary.questions += 1
            title = to_jupyter_markdown(item.title, macros)
            cells.append(
                nbformat.v4.new_markdown_cell(
                    f"#### Question: {title}" if title else "#### Question"
                )
            )
            for cell in item.cells:
                keep(cell)
        else:
            label = item.label
            seen_labels.add(label)
            gid = _grade_id(label)
            prose = [c for c in item.cells if c.cell_type == "markdown"]
            code = [c for c in item.cells if c.cell_type == "code"]
            summary.dropped_code += len(code)
            for cell in code:
                names.leave_out(cell.source)
            if any(to_jupyter_markdown(c.source, macros) for c in prose):
                summary.answers += 1
                text = (
                    "\n\n".join(
                        to_jupyter_markdown(c.source, macros) for c in prose
                    )
                    if source
                    else TEXT_STUB
                )
                cells.append(
                    graded_cell(
                        "answer",
                        text,
                        f"{gid}-answer",
                        points.get("written", 1),
                    )
                )
            entries = answers.get(label, [])
            for entry in entries if isinstance(entries, list) else [entries]:
                stub, checks = answer_cells(entry, gid, source)
                names.runs(stub.source)  # its setting (`given`) is bound
                names.stub(_stub_name(entry, gid))
                cells.append(stub)
                cells.extend(checks)
                summary.stubs += 1
                summary.checks += len(checks)
    summary.unknown = [k for k in answers if k not in seen_labels]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        k: copy.deepcopy(v)
        for k, v in metadata.items()
        if k in ("kernelspec", "language_info")
    }
    notebook.metadata.setdefault(
        "kernelspec",
        {"display_name": "Python 3", "language": "python", "name": "python3"},
    )
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook, summary


def header_cell(chapter: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(
        f"*Assignment generated from the chapter `chapters/{chapter}.md` "
        "by `make assignments`; do not edit by hand.* Answer each question "
        "in the cell marked YOUR ANSWER HERE or YOUR CODE HERE; run the "
        "check cell after it (✗ lines say what is still wrong)."
    )


def _stable_ids(notebook) -> None:
    """Cell ids from the cells' content (nbformat's are random), so that
    regenerating an unchanged chapter gives the same file."""
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        digest = hashlib.sha1(
            (cell.cell_type + cell.source).encode()
        ).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest + (f"-{seen[digest]}" if seen[digest] > 1 else "")


def render(notebook) -> str:
    return nbformat.writes(notebook) + "\n"


def load_config() -> dict:
    return tomllib.loads(CONFIG.read_text())


def generate(
    config: dict | None = None,
    *,
    source: bool = False,
    folder: Path = ROOT / "chapters",
):
    """{chapter: (notebook text or None, Summary)} for every chapter."""
    config = config or load_config()
    result = {}
    for path in sorted(folder.glob("*.md")):
        notebook, summary = build(path, config, source=source)
        if notebook is not None:
            notebook.cells.insert(0, header_cell(path.stem))
            _stable_ids(notebook)
        result[path.stem] = (render(notebook) if notebook else None, summary)
    return result


def colab_url(chapter: str) -> str:
    """Colab's URL for assignments/<chapter>.ipynb on the book's repository
    (repository.url and branch in _config.yml, the one place it is named)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    path = "/".join(
        p
        for p in (
            repo.get("path_to_book", "").strip("/"),
            "assignments",
            f"{chapter}.ipynb",
        )
        if p
    )
    github = repo["url"].rstrip("/").removesuffix(".git")
    github = github.removeprefix("https://github.com/")
    return (
        f"https://colab.research.google.com/github/{github}/blob/"
        f"{repo.get('branch', 'main')}/{path}"
    )


def _title(chapter: str, folder: Path) -> str:
    for line in (folder / f"{chapter}.md").read_text().split("\n"):
        if line.startswith("# "):
            return line[2:].strip()
    return chapter


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def index_page(generated: dict, folder: Path = ROOT / "chapters") -> str:
    """assignments.md: each chapter's student notebook, to download or open
    in Colab, with what it asks for."""
    parts = [
        "# Assignments",
        "",
        "Each chapter as homework: the questions and the set-up code, an "
        "empty cell for each written answer, and for each answer that is "
        "code a stub to complete, followed by the `hwlib.check` cell that "
        "grades it (it prints ✗ lines with a diagnosis until the answer is "
        "right). The notebooks are written by `make assignments` from the "
        "chapters; they are nbgrader notebooks, so an instructor can also "
        "grade them with nbgrader (see the README).",
    ]
    for chapter, (text, summary) in generated.items():
        if text is None:
            continue
        parts += [
            "",
            f"(assignment-{chapter})=",
            f"## {_title(chapter, folder)}",
            "",
            f"{{download}}`Download the notebook <assignments/{chapter}.ipynb>`"
            f" · [Open in Colab]({colab_url(chapter)})"
            f" · {{doc}}`The chapter <chapters/{chapter}>`",
            "",
            f"{_count(summary.questions, 'question')}: "
            f"{_count(summary.answers, 'written answer')}, "
            f"{_count(summary.stubs, 'code answer')} graded by "
            f"{_count(summary.checks, 'check')}.",
        ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="also write nbgrader source notebooks "
        "DIR/<chapter>/<chapter>.ipynb (with solutions)",
    )
    parser.add_argument(
        "--chapters",
        type=Path,
        default=ROOT / "chapters",
        help="where the chapter sources are (for trying "
        "out markers on a copy)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if --out is out of date",
    )
    args = parser.parse_args(argv)
    config = load_config()
    stale = []
    generated = generate(config, folder=args.chapters)
    page = index_page(generated, args.chapters)
    if args.out == OUTPUT:  # the book's page that links them
        if args.check:
            if INDEX.read_text() != page if INDEX.exists() else True:
                stale.append(str(INDEX))
        else:
            INDEX.write_text(page)
    for chapter, (text, summary) in generated.items():
        target = args.out / f"{chapter}.ipynb"
        if text is None:
            print(
                f"{chapter}: skipped (no solution-start/solution-end "
                "markers in the chapter yet)"
            )
            if target.exists():
                if args.check:
                    stale.append(str(target))
                else:
                    target.unlink()
            continue
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(summary)
        if summary.unknown:
            print(
                f"  WARNING: tools/assignments.toml names solutions that "
                f"chapters/{chapter}.md lacks: {summary.unknown}"
            )
    if args.source:
        for chapter, (text, _) in generate(
            config, source=True, folder=args.chapters
        ).items():
            if text is not None:
                folder = args.source / chapter
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{chapter}.ipynb").write_text(text)
        print(f"nbgrader sources in {args.source}")
    if stale:
        print("out of date (run make assignments):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
