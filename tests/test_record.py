import pytest

from hwlib.record import TrainingRecord, curve_facts


def record(val_acc, val_loss):
    return TrainingRecord(
        settings={}, device="cpu", val_acc=val_acc, val_loss=val_loss
    )


def test_curve_facts_reads_the_curve_with_epochs_from_one():
    r = record([0.2, 0.5, 0.4, 0.5, 0.45], [2.0, 1.0, 1.5, 1.0, 3.0])
    assert curve_facts(r) == {
        "best_acc": 0.5,
        "best_epoch": 2,  # the first of the ties
        "min_loss": 1.0,
        "min_loss_epoch": 2,
        "min_loss_acc": 0.5,
        "final_acc": 0.45,
        "final_loss": 3.0,
        "lowest_later_acc": 0.4,
    }


def test_curve_facts_agrees_with_a_brute_force_reading():
    acc = [0.1, 0.3, 0.25, 0.6, 0.55, 0.58]
    loss = [2.0, 1.8, 1.9, 1.2, 1.5, 1.7]
    facts = curve_facts(record(acc, loss))
    for epoch in range(1, 7):
        assert acc[epoch - 1] <= facts["best_acc"]
        assert loss[epoch - 1] >= facts["min_loss"]
    assert acc[facts["best_epoch"] - 1] == facts["best_acc"] == 0.6
    assert facts["min_loss_epoch"] == 4
    assert facts["lowest_later_acc"] == 0.55


def test_curve_facts_can_read_the_test_curve():
    r = TrainingRecord(
        settings={}, device="cpu", test_acc=[0.3, 0.2], test_loss=[1.0, 2.0]
    )
    assert curve_facts(r, "test")["best_epoch"] == 1


@pytest.mark.parametrize(
    "r, split, match",
    [
        (record([], []), "val", "one entry per epoch, got 0 and 0"),
        (record([0.1], [1.0, 2.0]), "val", "got 1 and 2"),
        (record([0.1], [1.0]), "train", "split must be 'val' or 'test'"),
    ],
)
def test_curve_facts_refuses_what_it_cannot_read(r, split, match):
    with pytest.raises(ValueError, match=match):
        curve_facts(r, split)
