"""Markup of docutils and myst-nb that fails WCAG 2 (axe-core), written right.

1. Bibliography entries as an ARIA list of list items.

docutils (0.21) writes each citation as <div role="doc-biblioentry"> inside a
<div role="list">. DPub-ARIA 1.1 deprecates doc-biblioentry, and a list must
own list items: axe reports aria-deprecated-role and aria-required-children
(WCAG 1.3.1, 4.1.2) on the references page. This extension writes the same
markup with role="listitem" instead; nothing else changes.

2. myst-nb's hidden code cells: <summary aria-label="Toggle hidden content">
shows "Show code cell source", so its name does not contain its visible text
(axe: label-content-name-mismatch, WCAG 2.5.3). Here the summary is named by
what it shows.
"""

from __future__ import annotations

from html import escape

from docutils import nodes


def visit_citation(self, node: nodes.citation) -> None:
    if not isinstance(node.previous_sibling(), nodes.citation):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(
        self.starttag(node, "div", classes=[node.tagname], role="listitem")
    )


def depart_citation(self, node: nodes.citation) -> None:
    self.body.append("</div>\n")
    following = node.next_node(descend=False, siblings=True)
    if not isinstance(following, nodes.citation):
        self.body.append("</div>\n")


def visit_hidden_cell(self, node) -> None:
    classes = " ".join(node["classes"])
    self.body.append(
        f'<details class="admonition hide {classes}">\n<summary>\n'
    )
    for state, prompt in (
        ("collapsed", "prompt_show"),
        ("expanded", "prompt_hide"),
    ):
        self.body.append(
            f'<p class="{state} admonition-title">{escape(node[prompt])}</p>\n'
        )
    self.body.append("</summary>\n")


def depart_hidden_cell(self, node) -> None:
    self.body.append("</details>\n")


def register(app) -> None:
    """After every extension's setup, so that these visitors win."""
    from myst_nb.sphinx_ import HideCodeCellNode

    app.add_node(
        nodes.citation, override=True, html=(visit_citation, depart_citation)
    )
    app.add_node(
        HideCodeCellNode,
        override=True,
        html=(visit_hidden_cell, depart_hidden_cell),
    )


def setup(app):
    app.connect("builder-inited", register)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
