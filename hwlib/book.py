"""Helpers for the book's own cells: enforced claims and glued numbers.

A chapter states a claim in prose and proves or checks it in a cell. `checked`
is that cell's last line: when the claim stops holding, the build stops with
the claim's words, so a sentence of the book can never quietly become false.
`glue_text` hands the run's numbers to the prose ({glue:text}`name`), which
never types them (tools/prose_numbers.py, run by tests/test_book.py).
"""

from __future__ import annotations


class ClaimFailed(AssertionError):
    """A claim the book makes no longer holds for the run that built it."""


def checked(condition: object, claim: str) -> None:
    """Stop the build unless `condition` is true; print the claim when it is.

    Args:
        condition: anything with a truth value (a bool, a 0-d tensor, ...).
        claim: the sentence of the text that `condition` enforces.

    Raises:
        ClaimFailed: `condition` is false; the message quotes `claim`.
        TypeError: `claim` is not a non-empty string.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise TypeError(f"claim must be a non-empty string, got {claim!r}")
    if not bool(condition):
        raise ClaimFailed(f"claim does not hold: {claim}")
    print("checked:", claim)


def glue_text(**values: object) -> None:
    """Glue each value's text under its name, for {glue:text}`name` in prose.

    The book's numbers come from the run: a cell computes them and glues
    them here, already formatted (glue_text(acc=f"{acc:.1%}", epochs=30)),
    and the prose quotes them by name. Nothing is displayed in the cell.

    Raises:
        TypeError: no value given, or a value is not a str, int or float.
    """
    from myst_nb import glue  # the book's extra; imported when first used

    if not values:
        raise TypeError("glue_text needs at least one name=value")
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(
                f"{name} must be a str, int or float (formatted for the "
                f"prose), got {type(value).__name__}"
            )
        glue(name, str(value), display=False)
