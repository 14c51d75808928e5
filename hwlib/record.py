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
