"""The papers' protocols, as data: how to pretrain a stack and how to fine-tune it.

Scripts read these tables and a run's ``config.json`` records every resolved value. A
pretraining recipe holds the layer sizes, the data set and the
:class:`~dbn.training.TrainConfig` fields of every layer; a fine-tuning recipe holds
:class:`~dbn.training.FinetuneConfig` fields and the classifier's dropout.

Examples
--------
>>> from dbn.recipes import PRETRAIN_RECIPES, recipe_train_config
>>> PRETRAIN_RECIPES["hinton2006"]["sizes"]
[784, 500, 500, 2000]
>>> recipe_train_config("hinton2006", epochs=1).epochs
1
"""

from __future__ import annotations

from dbn.models.rbm import DEFAULT_WEIGHT_STD
from dbn.training.rbm_trainer import TrainConfig

__all__ = [
    "FINETUNE_RECIPES",
    "DBM_RECIPES",
    "GENERATIVE_RECIPES",
    "PRETRAIN_RECIPES",
    "default_sizes",
    "recipe_train_config",
    "split_finetune_recipe",
]

_HINTON_GUIDE = dict(
    weight_std=DEFAULT_WEIGHT_STD,
    method="cd",
    k=1,
    lr=0.1,
    batch_size=100,
    momentum=0.5,
    final_momentum=0.9,
    weight_decay=2e-4,
)

# A pretraining recipe's values that shape the stack (the data set, the layer sizes, the
# initial weights' std for :class:`~dbn.models.dbn.DBN`); the others are TrainConfig fields.
_STACK_KEYS = ("dataset", "sizes", "weight_std")

PRETRAIN_RECIPES: dict[str, dict] = {
    # Hinton & Salakhutdinov (2006), Science: the MATLAB code's classification recipe.
    # rbm.m draws the initial weights from N(0, 0.1²) and starts the visible biases at
    # zero, where the guide has N(0, 0.01²) and the data's log-odds.
    "hinton2006": dict(
        _HINTON_GUIDE,
        dataset="mnist",
        sizes=[784, 500, 500, 2000],
        epochs=50,
        weight_std=0.1,
        init_visible_bias=False,
    ),
    # The hinton2006 recipe on the 784-500-1000 net of Salakhutdinov & Hinton's DBM
    # (2009): the DBN row beside the DBM under one fine-tuning protocol.
    "hinton2006-500-1000": dict(
        _HINTON_GUIDE,
        dataset="mnist",
        sizes=[784, 500, 1000],
        epochs=50,
        weight_std=0.1,
        init_visible_bias=False,
    ),
    # What `make demo` pretrains: the same kind of stack, small enough for a laptop CPU.
    "quick": dict(dataset="mnist", sizes=[784, 500, 500], epochs=3, **_HINTON_GUIDE),
    # scikit-learn's 8x8 digits: seconds, for tests and a first look.
    "digits": dict(dataset="digits", sizes=[64, 32, 16], epochs=10, **_HINTON_GUIDE),
    # The study notes' MNIST nets (784-256-256-10 and 784-512x4-10), pretrained briefly.
    "notes-256": dict(dataset="mnist", sizes=[784, 256, 256], epochs=10, **_HINTON_GUIDE),
    "notes-512x4": dict(
        dataset="mnist", sizes=[784, 512, 512, 512, 512], epochs=10, **_HINTON_GUIDE
    ),
    # The label-budget study's DBN: two layers of 500, small enough to fine-tune ~500
    # times on two CPU cores within the hour.
    "labels": dict(dataset="mnist", sizes=[784, 500, 500], epochs=20, **_HINTON_GUIDE),
}

# Fine-tuning protocols of the papers: ``FinetuneConfig`` fields plus the classifier's
# ``dropout`` and ``input_dropout``. Flags of dbn-finetune override any of them.
FINETUNE_RECIPES: dict[str, dict] = {
    # Hinton & Salakhutdinov (2006), backpropclassify.m: 5 epochs of the new softmax
    # layer alone on frozen features, then all layers; conjugate gradient (minimize.m)
    # with 3 line searches per batch of 1,000, no weight cost, no validation-based
    # stopping. The paper ran 200 epochs; here 40: by epoch 30 the training loss is near
    # float64's floor (about 1e-12 an image) and each later epoch costs 5 to 6 times an
    # early one (README). ``epochs=200`` gives the paper's count; the recipe as first
    # defined is ``optimizer="lbfgs", epochs=200`` (L-BFGS, 3 iterations a batch).
    "hinton2006": dict(
        optimizer="cg",
        lr=1.0,
        cg_line_searches=3,
        batch_size=1000,
        epochs=40,
        head_epochs=5,
        schedule="none",
    ),
    # Srivastava et al. (2014), the DBN + dropout row of Table 2: dropout 0.5 on hidden
    # units and 0.2 on the input, a small learning rate for pretrained weights decaying
    # per epoch, momentum ramped from 0.5 towards 0.99, many hundreds of epochs.
    # Their momentum is dampened (v <- p v + (1 - p) g, so the step stays lr * g as p
    # grows); lr 2.0 was chosen on the 50,000/10,000 split from {1.0, 2.0} (README).
    # max_norm is left off: chosen on validation too (--max-norm 3 was worse).
    "dropout2014": dict(
        optimizer="sgd",
        lr=2.0,
        dampened_momentum=True,
        schedule="exponential",
        lr_gamma=0.998,
        momentum=0.5,
        final_momentum=0.99,
        momentum_epochs=300,
        batch_size=100,
        epochs=500,
        dropout=0.5,
        input_dropout=0.2,
    ),
    # Salakhutdinov's DBM code (backprop.m with demo.m's maxepoch=100; read in
    # gcosma/Deep-FS's copy): conjugate gradient, 3 line searches on each batch of 10,000
    # cases (100 of its mini-batches of 100 joined: 6 calls an epoch on 60,000 images),
    # the first 5 epochs through CG_MNIST_INIT (meant for the new output layer alone; the
    # code zeroes the wrong variable there, so its 500 -> 1000 weights train too: here
    # the output layer alone trains, as meant), 100 epochs, no validation. Its
    # classifier's mean field runs up to 50 updates and its output layer starts at
    # 0.1 randn, weights and biases: dbn-dbm-finetune --mean-field-steps 50
    # --output-std 0.1.
    "salakhutdinov-hinton2009-code": dict(
        optimizer="cg",
        lr=1.0,
        cg_line_searches=3,
        batch_size=10000,
        epochs=100,
        head_epochs=5,
        schedule="none",
    ),
}

# The classifier's options among a fine-tuning recipe's values (the rest are
# FinetuneConfig fields).
_LAYER_OPTIONS = ("dropout", "input_dropout")


def split_finetune_recipe(name: str | None) -> tuple[dict, dict]:
    """Fine-tuning recipe ``name``'s values as (the classifier's layer options, the
    :class:`~dbn.training.finetuning.FinetuneConfig` fields); two empty dicts for None.

    Examples
    --------
    >>> from dbn.recipes import split_finetune_recipe
    >>> layers, config = split_finetune_recipe("dropout2014")
    >>> layers
    {'dropout': 0.5, 'input_dropout': 0.2}
    >>> config["optimizer"], config["epochs"]
    ('sgd', 500)
    """
    values = dict(FINETUNE_RECIPES[name]) if name else {}
    layers = {key: values.pop(key) for key in _LAYER_OPTIONS if key in values}
    return layers, values


# The recipe whose sizes a script uses when none are given, per data set.
_DEFAULT_RECIPE = {"mnist": "hinton2006", "digits": "digits"}


def default_sizes(dataset: str) -> list[int]:
    """Layer sizes (input first) used for ``dataset`` when the user gives none.

    Examples
    --------
    >>> from dbn.recipes import default_sizes
    >>> default_sizes("digits")
    [64, 32, 16]
    """
    return list(PRETRAIN_RECIPES[_DEFAULT_RECIPE[dataset]]["sizes"])


def recipe_train_config(name: str, **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of recipe ``name``, with ``overrides`` applied.

    Examples
    --------
    >>> from dbn.recipes import recipe_train_config
    >>> config = recipe_train_config("hinton2006", epochs=1)
    >>> config.method, config.epochs, config.weight_decay
    ('cd', 1, 0.0002)
    """
    values = {key: value for key, value in PRETRAIN_RECIPES[name].items() if key not in _STACK_KEYS}
    return TrainConfig(**{**values, **overrides})


# The generative DBN of Hinton, Osindero & Teh (2006): greedy pretraining with the labels
# joined to the top RBM, then up-down fine-tuning. From the paper: the 784-500-500-2000
# net with 10 label units, 30 greedy epochs a layer, 300 up-down epochs with 3, 6 and 10
# Gibbs steps in the top RBM for a third each, mini-batches of 100. Not published in the
# paper and chosen here: the learning rates, momentum and weight costs (the greedy ones
# are the practical guide's), and the data: the paper selected on 44,000/10,000 images
# and then trained on all 60,000 for 59 more epochs; here the 50,000/10,000 split of the
# other recipes validates, and ``--use-valid`` trains on all 60,000 for the fixed epochs.
GENERATIVE_RECIPES: dict[str, dict] = {
    "hinton-osindero-teh2006": dict(
        dataset="mnist",
        sizes=[784, 500, 500, 2000],
        greedy=dict(_HINTON_GUIDE, epochs=30),
        updown=dict(epochs=300, cd_steps=[3, 6, 10], lr=0.01, momentum=0.9, weight_decay=1e-5),
    ),
    # The paper's way where the paper says it (Hinton, Osindero & Teh 2006, section 6 and
    # the appendix): class-balanced mini-batches of 10 images of each digit, and a greedy
    # start trained as Hinton's rbm.m trains (weights N(0, 0.1^2), zero biases; rates,
    # momentum and weight cost as above), 30 epochs a layer. The up-down rate, momentum
    # and weight cost stay to be chosen on the validation images by short runs.
    "hinton-osindero-teh2006-paper": dict(
        dataset="mnist",
        sizes=[784, 500, 500, 2000],
        greedy=dict(_HINTON_GUIDE, epochs=30, weight_std=0.1, init_visible_bias=False),
        updown=dict(
            epochs=300,
            cd_steps=[3, 6, 10],
            lr=0.01,
            momentum=0.9,
            weight_decay=1e-5,
            balanced_batches=True,
        ),
    ),
    # `dbn-updown --quick`: the same protocol on the 8x8 digits, in seconds.
    "hinton-osindero-teh2006-quick": dict(
        dataset="digits",
        sizes=[64, 100, 100, 200],
        greedy=dict(_HINTON_GUIDE, epochs=100, lr=0.05),
        updown=dict(epochs=12, cd_steps=[3, 6, 10], lr=0.01, momentum=0.9, weight_decay=1e-5),
    ),
}


# The Deep Boltzmann Machine of Salakhutdinov & Hinton (2009), AISTATS: a 784-500-1000
# DBM. From the paper: mini-batches of 100, 100 persistent chains advanced by 5 Gibbs
# sweeps an update, the initial learning rate 0.005 decreased gradually to 0, and greedy
# pretraining with the bottom RBM's visible and the top RBM's hidden layer doubled. From
# Salakhutdinov's published MATLAB code (rbm.m, rbm_l2.m, dbm_mf.m, mf.m, backprop.m;
# read in the copies that public repositories keep, e.g. gcosma/Deep-FS): RBM 1 for 100
# epochs at lr 0.05 with weight cost 0.001, RBM 2 for 200 epochs at lr 0.05, 10
# mean-field updates, weight cost 0.0002, momentum 0.5 then 0.9 from epoch 5, and 300
# joint epochs. Where this recipe differs from that code (the DBM results page lists
# it): the code joins 10 label units to the top layer of RBM 2 and of the joint DBM
# (clamped to the targets in the positive phase, sampled in the chains), doubles the
# biases with the weights where the RBMs' layers are doubled (the same composed DBM as
# DBM.from_rbms's mean of the whole biases, at another effective bias learning rate),
# runs RBM 2's CD-k with k = ceil(epoch / 20) at lr 0.05 / k, trains the DBM
# at lr 0.001 divided by 1.000015 every update down to 0.0001 (the paper's text says
# 0.005 to 0, which this recipe follows) with a sparsity cost (targets 0.2 and 0.1,
# cost 0.001), and says in demo.m that the paper's figures took 500 joint epochs; the
# -labels recipe below follows the code in most of these.
# `pretrain` holds one TrainConfig's fields per RBM.
# The joint training of Salakhutdinov's code (dbm_mf.m), shared by the recipes that follow it.
_CODE_JOINT = dict(
    epochs=300,
    lr=0.001,
    lr_final=1e-4,
    lr_schedule="exponential",
    lr_divisor=1.000015,
    weight_decay=2e-4,
    n_chains=100,
    gibbs_steps=5,
    mean_field_steps=10,
    sparsity_target=[0.2, 0.1],
    sparsity_cost=0.001,
)
DBM_RECIPES: dict[str, dict] = {
    "salakhutdinov-hinton2009": dict(
        dataset="mnist",
        sizes=[784, 500, 1000],
        pretrain=[
            dict(_HINTON_GUIDE, epochs=100, lr=0.05, weight_decay=1e-3, init_visible_bias=False),
            dict(_HINTON_GUIDE, epochs=200, lr=0.05, weight_decay=1e-3, init_visible_bias=False),
        ],
        joint=dict(
            epochs=300,
            lr=0.005,
            lr_final=0.0,
            weight_decay=2e-4,
            n_chains=100,
            gibbs_steps=5,
            mean_field_steps=10,
        ),
    ),
    # Salakhutdinov's code where it differs from the paper's text, as far as dbn.DBM can
    # follow it: 10 label units on the top layer (clamped in the mean-field phase,
    # sampled in the chains; the classifier's mean field runs with them off), RBM 2 a
    # LabelRBM whose features hear its hidden layer twice, CD-k with k growing from 1
    # to 10 over RBM 2's 200 epochs (the code: k = ceil(epoch / 20), with lr 0.05 / k,
    # which TrainConfig cannot express: lr stays 0.05), joint lr 0.001 divided by
    # 1.000015 every update down to 0.0001, and a sparsity penalty with targets 0.2 and
    # 0.1 at cost 0.001 (the code pulls a running mean, damped 0.9, towards them; here
    # each example's mean-field probabilities are pulled, as DBMConfig does).
    "salakhutdinov-hinton2009-labels": dict(
        dataset="mnist",
        sizes=[784, 500, 1000],
        n_labels=10,
        pretrain=[
            dict(_HINTON_GUIDE, epochs=100, lr=0.05, weight_decay=1e-3, init_visible_bias=False),
            dict(
                _HINTON_GUIDE,
                epochs=200,
                lr=0.05,
                weight_decay=1e-3,
                init_visible_bias=False,
                k=1,
                k_final=10,
            ),
        ],
        joint=_CODE_JOINT,
    ),
    # Salakhutdinov's code as its demo.m ran it for the paper, item by item (read in
    # gcosma/Deep-FS's copies of rbm.m, rbm_l2.m, dbm_mf.m, mf.m): every stage on all
    # 60,000 training images, each mini-batch binarised afresh; RBM 1 100 epochs, RBM 2
    # (labels joined) 200 epochs of CD-k with k = ceil(epoch / 20) at lr 0.05 / k; the
    # joint DBM 500 epochs ("To get results in the paper I used maxepoch=500") at lr
    # 0.001 divided by 1.000015 every update, floored at 0.0001, its chains contributing
    # their probabilities (dbm_mf.m's neghidprobs, negpenprobs). The replicated RBMs'
    # free-energy gradient of the weights is twice the code's statistic (both copies
    # count), so their lr is halved and their weight cost doubled, which gives the code's
    # weight and weight-cost steps exactly. What still differs (the DBM results page
    # lists it): the biases' effective rates where a layer is doubled, the initial
    # weights (N(0, 0.01^2) where rbm.m draws 0.001 randn), mini-batches drawn afresh each
    # epoch (the code fixes 600 batches once), and the sparsity penalty's form (per
    # example here, a damped running mean in the code).
    "salakhutdinov-hinton2009-code": dict(
        dataset="mnist",
        use_valid=True,
        sizes=[784, 500, 1000],
        n_labels=10,
        pretrain=[
            dict(
                _HINTON_GUIDE,
                epochs=100,
                lr=0.025,
                weight_decay=2e-3,
                init_visible_bias=False,
                binarize=True,
            ),
            dict(
                _HINTON_GUIDE,
                epochs=200,
                lr=0.025,
                weight_decay=2e-3,
                init_visible_bias=False,
                binarize=True,
                k=1,
                k_every=20,
                lr_decay="inverse_k",
            ),
        ],
        joint=dict(_CODE_JOINT, epochs=500, binarize=True, negative_statistics="probabilities"),
    ),
    # `dbn-dbm --quick`: the same protocol on the 8x8 digits, in seconds.
    "salakhutdinov-hinton2009-quick": dict(
        dataset="digits",
        sizes=[64, 100, 200],
        pretrain=[
            dict(_HINTON_GUIDE, epochs=100, lr=0.05, weight_decay=1e-3),
            dict(_HINTON_GUIDE, epochs=100, lr=0.05, weight_decay=1e-3),
        ],
        joint=dict(epochs=30, lr=0.005, lr_final=0.0, n_chains=100, gibbs_steps=5),
    ),
    "salakhutdinov-hinton2009-code-quick": dict(
        dataset="digits",
        use_valid=True,
        sizes=[64, 100, 200],
        n_labels=10,
        pretrain=[
            dict(_HINTON_GUIDE, epochs=20, lr=0.025, weight_decay=2e-3, binarize=True),
            dict(
                _HINTON_GUIDE,
                epochs=20,
                lr=0.025,
                weight_decay=2e-3,
                binarize=True,
                k_every=5,
                lr_decay="inverse_k",
            ),
        ],
        joint=dict(
            epochs=10,
            lr=0.005,
            lr_final=5e-4,
            lr_schedule="exponential",
            lr_divisor=1.0005,
            n_chains=100,
            gibbs_steps=5,
            sparsity_target=[0.2, 0.1],
            sparsity_cost=0.001,
            binarize=True,
            negative_statistics="probabilities",
        ),
    ),
    "salakhutdinov-hinton2009-labels-quick": dict(
        dataset="digits",
        sizes=[64, 100, 200],
        n_labels=10,
        pretrain=[
            dict(_HINTON_GUIDE, epochs=100, lr=0.05, weight_decay=1e-3),
            dict(_HINTON_GUIDE, epochs=100, lr=0.05, weight_decay=1e-3, k=1, k_final=5),
        ],
        joint=dict(
            epochs=30,
            lr=0.005,
            lr_final=5e-4,
            lr_schedule="exponential",
            lr_divisor=1.0005,
            n_chains=100,
            gibbs_steps=5,
            sparsity_target=[0.2, 0.1],
            sparsity_cost=0.001,
        ),
    ),
}
