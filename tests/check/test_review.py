"""Word counts in any script."""

from hwlib import check


def test_words_are_counted_in_every_script():
    assert check.count_words("don't stop: 3.5% state-of-the-art") == 4
    assert check.count_words("Это ответ на вопрос") == 4  # Cyrillic
    assert check.count_words("Αυτή είναι η απάντηση") == 4  # Greek
    long_russian = "слово " * 400
    assert not check.check_word_count(long_russian, limit=350).passed
    assert check.check_word_count("Короткий ответ.", limit=350).passed
    assert not check.check_word_count(None).passed
