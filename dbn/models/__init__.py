"""The models: the RBM, the DBN that stacks them, and their export into a plain MLP.

=====================  ========================================================
:class:`RBM`           Bernoulli or Gaussian visible units, Bernoulli hidden units
:class:`DBN`           a stack of RBMs, pretrained greedily layer by layer
:func:`load`           read back what :meth:`DBN.save` or :meth:`RBM.save` wrote
:func:`build_mlp`      a feed-forward classifier of given sizes
:func:`to_mlp`         that classifier, its layers holding a pretrained stack
:func:`save_classifier`  a fine-tuned classifier with its architecture, pickle-free
:class:`LabelRBM`      an RBM with a softmax group of label units beside its features
:class:`GenerativeDBN`  Hinton, Osindero & Teh's DBN: labels in the top RBM, up-down
:class:`DBM`           Salakhutdinov & Hinton's Deep Boltzmann Machine
:class:`ReplicatedRBM`  an RBM with tied copies of a layer: a DBM's end layers' pretraining
:class:`DBMClassifier`  the pixels and a DBM's top marginals into an MLP the DBM initialises
=====================  ========================================================
"""

from dbn.models._activations import ACTIVATIONS
from dbn.models.dbm import DBM
from dbn.models.dbm_classifier import DBMClassifier
from dbn.models.dbn import DBN
from dbn.models.export import make_classifier, save_classifier, to_mlp
from dbn.models.generative_dbn import GenerativeDBN
from dbn.models.label_rbm import LabelRBM
from dbn.models.mlp import build_mlp
from dbn.models.rbm import RBM
from dbn.models.registry import load
from dbn.models.replicated_rbm import ReplicatedRBM

__all__ = [
    "ACTIVATIONS",
    "DBM",
    "DBMClassifier",
    "DBN",
    "GenerativeDBN",
    "LabelRBM",
    "RBM",
    "ReplicatedRBM",
    "build_mlp",
    "load",
    "make_classifier",
    "save_classifier",
    "to_mlp",
]
