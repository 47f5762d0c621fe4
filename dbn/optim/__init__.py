"""Optimisers and schedules that ``torch.optim`` lacks, and the factory the trainers use.

=========================  ==================================================
:class:`ConjugateGradient`  Rasmussen's ``minimize.m`` as a ``torch.optim.Optimizer``
:func:`make_optimizer`     SGD with momentum or Adam, weight cost on weights only
:func:`make_scheduler`     a ``torch.optim.lr_scheduler`` by name
:func:`ramped_momentum`    momentum raised linearly over the first epochs
:func:`split_weights`      a model's parameters: weight matrices, then the rest
=========================  ==================================================
"""

from dbn.optim._factory import OPTIMIZERS, make_optimizer, split_weights
from dbn.optim.conjugate_gradient import ConjugateGradient
from dbn.optim.schedules import SCHEDULES, make_scheduler, ramped_momentum

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "ConjugateGradient",
    "make_optimizer",
    "make_scheduler",
    "ramped_momentum",
    "split_weights",
]
