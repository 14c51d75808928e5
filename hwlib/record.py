"""The record of one training run (MLP or CNN): its settings and its
per-epoch figures. Kept apart from the training code, so that the models,
the plots and the checks can read records without importing a trainer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class TrainingRecord:
    """One training run, MLP or CNN: settings and per-epoch figures.

    Losses and accuracies are lists with one entry per epoch; `val_*` are
    empty without a validation split, `train_*` may be empty for the CNN.
    """

    settings: dict
    device: str
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    from_cache: bool = False

    @property
    def seconds(self) -> float:
        """Training time of the whole run (sum over the epochs)."""
        return sum(self.epoch_seconds)

    @property
    def final_test_acc(self) -> float:
        """Test accuracy after the last epoch."""
        if not self.test_acc:
            raise ValueError("this record holds no epochs")
        return self.test_acc[-1]


def curve_facts(record: TrainingRecord, split: str = "val") -> dict:
    """What a held-out curve shows, with epochs counted from 1.

    With a = record.<split>_acc and l = record.<split>_loss (one entry per
    epoch; split is "val" or "test"):

    * best_acc = max a, reached first at best_epoch;
    * min_loss = min l, reached first at min_loss_epoch, where the
      accuracy is min_loss_acc;
    * final_acc = a[-1] and final_loss = l[-1];
    * lowest_later_acc = min of a from min_loss_epoch on (how far the
      accuracy dips once the loss has started to rise).
    """
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    acc, loss = (
        getattr(record, f"{split}_acc"),
        getattr(record, f"{split}_loss"),
    )
    if not acc or len(acc) != len(loss):
        raise ValueError(
            f"record.{split}_acc and record.{split}_loss must hold one entry "
            f"per epoch, got {len(acc)} and {len(loss)}"
        )
    best = max(range(len(acc)), key=acc.__getitem__)
    lowest = min(range(len(loss)), key=loss.__getitem__)
    return {
        "best_acc": acc[best],
        "best_epoch": best + 1,
        "min_loss": loss[lowest],
        "min_loss_epoch": lowest + 1,
        "min_loss_acc": acc[lowest],
        "final_acc": acc[-1],
        "final_loss": loss[-1],
        "lowest_later_acc": min(acc[lowest:]),
    }
