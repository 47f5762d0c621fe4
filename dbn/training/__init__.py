"""Training: one RBM, a greedy stack, and the fine-tuning of the classifier built from it.

========================  =====================================================
:func:`train_rbm`         train one RBM by CD-k, persistent CD, tempering or reconstruction
:class:`TrainConfig`      every option of that training, validated, JSON-able
:class:`RBMTrainer`       the same training an epoch at a time, checkpointable
:class:`RBMObjective`     the loss whose gradient is the CD/PCD update, with penalties
:class:`ParallelTempering`  the tempered negative phase
:func:`finetune`          train a classifier by SGD, Adam, L-BFGS or conjugate gradient
:class:`FinetuneConfig`   every option of that fine-tuning, validated, JSON-able
:class:`FinetuneTrainer`  the same fine-tuning an epoch at a time, checkpointable
:func:`evaluate`          a classifier's loss and error on a labelled set
:func:`pretrain`          greedy pretraining of a DBN, a DBM or a generative DBN
:func:`layer_rbms`        a DBM's RBMs, corrected for double counting
:class:`UpDownTrainer`    the up-down fine-tuning of a generative DBN (:func:`updown_loss`)
:class:`DBMTrainer`       joint DBM training: mean-field and persistent chains (:func:`dbm_loss`)
:class:`Trainer`          the epoch skeleton, state and checks every trainer above shares
========================  =====================================================

The three models' greedy pretraining is one stack; the closed-form and CUDA-graph steps
behind ``TrainConfig(step=...)`` are private implementations of :class:`RBMObjective`'s
gradient.
"""

from dbn.training._budget import FINETUNE_BUDGET, PRETRAIN_BUDGET, budget_epochs
from dbn.training.dbm_trainer import (
    DBMConfig,
    DBMTrainer,
    dbm_loss,
    dbm_reconstruction_error,
    label_error,
)
from dbn.training.finetuning import (
    FinetuneConfig,
    FinetuneResult,
    FinetuneTrainer,
    evaluate,
    finetune,
)
from dbn.training.objectives import RBMObjective
from dbn.training.pretraining import layer_rbms, pretrain
from dbn.training.rbm_trainer import (
    RBMTrainer,
    TrainConfig,
    resolve_step,
    train_rbm,
)
from dbn.training.tempering import ParallelTempering
from dbn.training.trainer import Trainer, TrainingDivergedError
from dbn.training.updown import UpDownConfig, UpDownTrainer, updown_loss

__all__ = [
    "FINETUNE_BUDGET",
    "PRETRAIN_BUDGET",
    "budget_epochs",
    "DBMConfig",
    "DBMTrainer",
    "FinetuneConfig",
    "FinetuneResult",
    "FinetuneTrainer",
    "ParallelTempering",
    "RBMObjective",
    "RBMTrainer",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "UpDownConfig",
    "UpDownTrainer",
    "dbm_loss",
    "dbm_reconstruction_error",
    "evaluate",
    "finetune",
    "layer_rbms",
    "pretrain",
    "label_error",
    "resolve_step",
    "train_rbm",
    "updown_loss",
]
