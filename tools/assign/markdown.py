"""MyST -> Jupyter markdown: no targets or roles, directives as quotes,
TeX macros expanded. A glue placeholder (a number the book computes) has no
value outside the book, so student text that holds one is refused."""

from __future__ import annotations

import re

ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
TARGET = re.compile(r"^\(([\w-]+)\)=[ \t]*$", re.M)
FENCED = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>.*)\n"
    r"(?P<body>(?:.*\n)*?)(?P=fence)[ \t]*$",
    re.M,
)


class GlueInStudentText(ValueError):
    """Student-visible text names a value only the book's run computes."""


def _role(match: re.Match, glue: str | None) -> str:
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
        if glue is None:
            raise GlueInStudentText(
                f"{{{role}}}`{text}`: a glue placeholder in text the student "
                "sees (the notebook has no book run to fill it in); word the "
                "question without it, or keep that text out of the student's "
                "view"
            )
        return glue
    return f"`{text}`"


def _directive(match: re.Match) -> str:
    """A directive as a quote; a dropdown (folded answers) is left out."""
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


def to_jupyter(
    text: str, macros: dict[str, str], *, glue: str | None = None
) -> str:
    """Jupyter-readable markdown. `glue`: what a glue placeholder becomes
    (None: refuse it, GlueInStudentText)."""
    text = re.sub(r"(?m)^\*\*As homework:\*\*.*(?:\n(?!\n).*)*", "", text)
    text = FENCED.sub(_directive, text + "\n")
    text = TARGET.sub("", text)
    text = ROLE.sub(lambda m: _role(m, glue), text)
    for name, value in macros.items():
        text = re.sub(rf"\\{name}(?![A-Za-z])", lambda _, v=value: v, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
