"""hwlib: small, tested reference implementations behind the course companion book.

One module per topic; each chapter of the book imports what it needs:

    networks     ReLUNetwork and helpers (seed 000 Q1-Q7)
    regions      exact linear pieces, kinks, the sawtooth, identified regions (000 Q4-Q5, 004 §3)
    plots        plotting helpers
"""

__version__ = "0.1.0"
