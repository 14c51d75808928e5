"""hwlib.review: count_words against hand counts, label_shares against a\ncount by hand, plot_noise_runs on made-up records."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest
import torch

from hwlib.review import count_words, label_shares, plot_noise_runs


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


def test_label_shares_matches_a_count_by_hand():
    g = torch.Generator().manual_seed(0)
    true = torch.randint(0, 4, (200,), generator=g)
    noisy = torch.randint(0, 4, (200,), generator=g)
    shares = label_shares(true, noisy, 4)
    for c in range(4):
        total = sum(1 for t in true.tolist() if t == c)
        for k in range(4):
            pairs = zip(true.tolist(), noisy.tolist())
            hits = sum(1 for t, n in pairs if (t, n) == (c, k))
            assert shares[c, k].item() == pytest.approx(hits / total)
    assert torch.allclose(shares.sum(1), torch.ones(4, dtype=torch.float64))


def test_label_shares_of_clean_labels_is_the_identity():
    true = torch.tensor([0, 1, 2, 2, 1])
    assert torch.equal(label_shares(true, true, 3), torch.eye(3).double())


@pytest.mark.parametrize(
    ("true", "noisy", "match"),
    [
        (torch.tensor([0, 1]), torch.tensor([0]), "same length, got 2 and 1"),
        (
            torch.tensor([0, 3]),
            torch.tensor([0, 1]),
            r"true must lie in 0\.\.2",
        ),
        (torch.tensor([0, 1]), torch.tensor([-1, 1]), "noisy must lie in"),
    ],
)
def test_label_shares_refuses_bad_labels(true, noisy, match):
    with pytest.raises(ValueError, match=match):
        label_shares(true, noisy, 3)


def test_plot_noise_runs_draws_every_run_and_its_chosen_epoch():
    records = [
        SimpleNamespace(test_acc=[0.3, 0.4, 0.35], train_acc=[0.3, 0.5, 0.7]),
        SimpleNamespace(test_acc=[0.2, 0.3, 0.25], train_acc=[0.2, 0.4, 0.6]),
    ]
    fig = plot_noise_runs((0.0, 0.4), records, (1, 1), chance=0.1)
    left, right = fig.axes
    final, stopped = (line.get_ydata() for line in left.lines[:2])
    assert list(final) == [0.35, 0.25] and list(stopped) == [0.4, 0.3]
    assert len(right.lines) == 3 * len(records)
    dot = right.lines[2]
    assert list(dot.get_xdata()) == [2] and list(dot.get_ydata()) == [0.4]
    plt.close(fig)


def test_plot_noise_runs_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="same length, got 2, 1 and 2"):
        plot_noise_runs((0.0, 0.4), [None], (1, 1), chance=0.1)
