"""Paper review (GT §5): the student's code cells (the answers are prose)."""

# %% setup
from hwlib.check import check_word_count

# %% review-5-2
# Paste your two answers here to count their words (at most 350 in all).
review = """
"""
print(check_word_count(review, limit=350))
