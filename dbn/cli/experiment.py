"""One fine-tuning experiment: build a classifier, fine-tune it, test it once.

``dbn-finetune`` runs one; the project's initialisation study (``studies/compare.py``)
runs a table of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from dbn.datasets import DataSplit
from dbn.models.export import make_classifier
from dbn.training.finetuning import FinetuneConfig, FinetuneResult, evaluate, finetune
from dbn.utils import new_generator

__all__ = ["Classifier", "ExperimentResult", "Refit", "run_experiment"]


@dataclass
class ExperimentResult:
    """A fine-tuned model with its history, its one test evaluation and its training time.

    With select-then-refit, ``selection`` is the run on train/valid that chose the
    number of epochs, and ``finetune`` the refit on train ∪ valid.

    Examples
    --------
    >>> import dbn
    >>> from dbn.cli import Classifier, run_experiment
    >>> result = run_experiment(
    ...     dbn.load_digits(), Classifier([64, 32], "he_normal", activation="relu"),
    ...     dbn.FinetuneConfig(epochs=2), progress=False,
    ... )
    >>> len(result.finetune.history), result.selection is None, result.seconds > 0
    (2, True, True)
    """

    model: nn.Module
    finetune: FinetuneResult
    test_loss: float
    test_error: float
    selection: FinetuneResult | None = None

    @property
    def seconds(self) -> float:
        """The epochs' time of the selection and the fine-tuning, summed over every
        process that trained them (resumed runs included)."""
        selection = self.selection.seconds if self.selection is not None else 0.0
        return self.finetune.seconds + selection


@dataclass(frozen=True)
class Classifier:
    """The network a run fine-tunes: its sizes, how it starts, and its layers' options.

    ``init`` is ``"dbn"`` (with ``checkpoint``: a DBN, RBMs or their file) or a
    :mod:`dbn.init` scheme; the other fields are :func:`dbn.models.make_classifier`'s.

    Examples
    --------
    >>> from dbn.cli import Classifier
    >>> Classifier([64, 32], "xavier_uniform").build(num_classes=10, seed=0)
    Sequential(
      (0): Linear(in_features=64, out_features=32, bias=True)
      (1): Sigmoid()
      (2): Linear(in_features=32, out_features=10, bias=True)
    )
    """

    sizes: Sequence[int]
    init: str
    activation: str = "sigmoid"
    checkpoint: object = None
    dropout: float = 0.0
    input_dropout: float = 0.0
    norm: str | None = None

    def build(self, num_classes: int, seed: int) -> nn.Sequential:
        """The network, its random parts drawn from ``seed``."""
        return make_classifier(
            self.sizes,
            num_classes,
            init=self.init,
            activation=self.activation,
            checkpoint=self.checkpoint,
            generator=new_generator(seed),
            dropout=self.dropout,
            input_dropout=self.input_dropout,
            norm=self.norm,
        )


@dataclass(frozen=True)
class Refit:
    """Select, then refit: train on ``train`` with early stopping on ``valid`` to choose
    the number of epochs, then train the same initial network afresh on ``train`` ∪
    ``valid`` for that many epochs (the schedules keep their length) and keep its last
    weights. The test split is still read once, at the end.

    Parameters
    ----------
    epochs : int, optional
        The number of epochs an earlier selection chose (another seed's, say); the
        selection run is skipped.
    selection_checkpoint_path : path, optional
        The selection run's training checkpoint.
    on_selection_epoch_end : callable, optional
        Called with each selection epoch's metrics.
    on_selection_end : callable, optional
        Called with the selection's :class:`FinetuneResult` once it has ended, before
        the refit starts (again on resuming a run past its selection), so that other
        seeds may refit for its epochs while this run's refit trains.

    Examples
    --------
    >>> import dbn
    >>> from dbn.cli import Classifier, Refit, run_experiment
    >>> result = run_experiment(
    ...     dbn.load_digits(), Classifier([64, 32], "xavier_uniform"),
    ...     dbn.FinetuneConfig(epochs=4), progress=False, refit=Refit(),
    ... )
    >>> len(result.finetune.history) == max(result.selection.best_epoch, 1)
    True
    """

    epochs: int | None = None
    selection_checkpoint_path: object = None
    on_selection_epoch_end: Callable[[dict], None] | None = None
    on_selection_end: Callable[[FinetuneResult], None] | None = None


def run_experiment(
    splits: dict[str, DataSplit],
    classifier: Classifier,
    config: FinetuneConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    on_epoch_end: Callable[[dict], None] | None = None,
    checkpoint_path=None,
    resume: bool = False,
    refit: Refit | None = None,
) -> ExperimentResult:
    """Build ``classifier``, fine-tune it, then test it once.

    Parameters
    ----------
    splits : dict with ``train``, ``valid`` and ``test`` DataSplits
    classifier : Classifier
    config : FinetuneConfig
    seed : int
        Seeds the initialisation, the shuffling and dropout (each its own generator).
    device : str or torch.device
    progress : bool
    on_epoch_end : callable, optional
        Called with each epoch's metrics (the refit's, with ``refit``).
    checkpoint_path, resume
        As in :func:`dbn.training.finetuning.finetune`.
    refit : Refit, optional
        Select, then refit (see :class:`Refit`); None trains once with early stopping.

    Returns
    -------
    ExperimentResult

    Examples
    --------
    >>> import dbn
    >>> from dbn.cli import Classifier, run_experiment
    >>> digits = dbn.load_digits()
    >>> stack = dbn.DBN([64, 32])
    >>> _ = stack.pretrain(digits["train"].x, epochs=2, progress=False)
    >>> result = run_experiment(
    ...     digits, Classifier([64, 32], "dbn", checkpoint=stack),
    ...     dbn.FinetuneConfig(epochs=2), progress=False,
    ... )
    >>> 0.0 <= result.test_error <= 1.0
    True
    """
    device = torch.device(device)
    num_classes = int(splits["train"].y.max().item()) + 1
    name = f"{classifier.init}/{classifier.activation} seed {seed}"

    def train(config, train_split, valid_split, path, on_epoch_end, label):
        model = classifier.build(num_classes, seed)
        result = finetune(
            model,
            (train_split.x, train_split.y),
            None if valid_split is None else (valid_split.x, valid_split.y),
            config,
            device=device,
            generator=new_generator(seed, device),
            progress=progress,
            name=f"{name}{label}",
            callbacks=[] if on_epoch_end is None else [lambda t: on_epoch_end(t.history[-1])],
            checkpoint_path=path,
            resume=resume,
            validation_fraction=0.0,  # the refit trains blind on train + valid
        )
        return model, result

    selection = None
    if refit is not None:
        refit_epochs = refit.epochs
        if refit_epochs is None:
            _, selection = train(
                config,
                splits["train"],
                splits["valid"],
                refit.selection_checkpoint_path,
                refit.on_selection_epoch_end,
                " (select)",
            )
            if refit.on_selection_end is not None:
                refit.on_selection_end(selection)
            refit_epochs = max(selection.best_epoch, 1)
        everything = DataSplit(
            torch.cat([splits["train"].x, splits["valid"].x]),
            torch.cat([splits["train"].y, splits["valid"].y]),
        )
        refit_config = replace(config, stop_after=refit_epochs, patience=None)
        model, result = train(
            refit_config, everything, None, checkpoint_path, on_epoch_end, " (refit)"
        )
    else:
        model, result = train(
            config, splits["train"], splits["valid"], checkpoint_path, on_epoch_end, ""
        )
    # The test split is touched exactly once, after model selection on validation.
    test_loss, test_error = evaluate(
        model, splits["test"].x.to(device), splits["test"].y.to(device)
    )
    return ExperimentResult(model, result, test_loss, test_error, selection)
