"""dbn: Restricted Boltzmann Machines and Deep Belief Networks on PyTorch."""

from dbn import ais
from dbn.rbm import RBM
from dbn.train import TrainConfig, train_rbm

__all__ = ["RBM", "TrainConfig", "ais", "train_rbm"]
__version__ = "0.1.0"
