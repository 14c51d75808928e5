"""Helpers for the book's own cells: enforced claims.

A chapter states a claim in prose and proves or checks it in a cell. `checked`
is that cell's last line: when the claim stops holding, the build stops with the
claim's words, so a sentence of the book can never quietly become false.
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
