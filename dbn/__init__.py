"""dbn: Restricted Boltzmann Machines and Deep Belief Networks on PyTorch."""

from dbn import ais, init
from dbn.export import to_mlp
from dbn.rbm import RBM
from dbn.stack import DBN, load
from dbn.train import TrainConfig, train_rbm

__all__ = ["DBN", "RBM", "TrainConfig", "ais", "init", "load", "to_mlp", "train_rbm"]
__version__ = "0.1.0"
