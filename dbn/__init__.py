"""dbn: Restricted Boltzmann Machines and Deep Belief Networks on PyTorch.

Everything a first hour needs is here: :class:`RBM` and :func:`train_rbm`, the
:class:`DBN` with its greedy :meth:`~DBN.pretrain`, :func:`to_mlp` and
:func:`finetune`, :func:`load`, the MNIST and digits loaders, and the modules
:mod:`dbn.init` (initialisation baselines), :mod:`dbn.ais` (log-likelihoods) and
:mod:`dbn.sklearn` (estimators). The subpackages hold the rest, by concern:
:mod:`dbn.models`, :mod:`dbn.training`, :mod:`dbn.optim`, :mod:`dbn.datasets`.
"""

from dbn import ais, init, sklearn
from dbn.datasets import DataSplit, load_digits, load_mnist
from dbn.models import DBN, RBM, load, to_mlp
from dbn.training import FinetuneConfig, TrainConfig, evaluate, finetune, train_rbm

__all__ = [
    "DBN",
    "DataSplit",
    "FinetuneConfig",
    "RBM",
    "TrainConfig",
    "ais",
    "evaluate",
    "finetune",
    "init",
    "load",
    "load_digits",
    "load_mnist",
    "sklearn",
    "to_mlp",
    "train_rbm",
]
__version__ = "0.1.0"
