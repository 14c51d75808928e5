"""hwlib.review.count_words against hand counts."""

import pytest

from hwlib.review import count_words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("   \n\t ", 0),
        ("one", 1),
        ("The model reaches 95% accuracy.", 5),
        ("It uses 3.5 times fewer FLOPs", 6),
        ("don't count twice", 3),
        ("a state-of-the-art result", 3),
        ("**bold** and _italic_ and `code`", 5),
        ("# Title\n\n- item one\n- item two", 5),
        ("a -- b", 2),
        ("{ } ( ) [ ] , ; : !", 0),
        ("ResNet-50, ViT-B/16 and CLIP.", 5),
    ],
)
def test_count_words_matches_a_hand_count(text, words):
    assert count_words(text) == words


@pytest.mark.parametrize("text", [None, 3, b"bytes", ["a", "b"]])
def test_count_words_refuses_what_is_not_a_str(text):
    with pytest.raises(TypeError, match="text must be a str, got"):
        count_words(text)
