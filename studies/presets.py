"""The studies' presets, as data: which contenders ``studies/compare.py`` runs, how long.

A preset names the pretraining recipe (:data:`dbn.recipes.PRETRAIN_RECIPES`) whose DBNs
it fine-tunes, or a shipped checkpoint, so that ``make demo`` pretrains exactly what it
says.
"""

from __future__ import annotations

__all__ = ["COMPARE_PRESETS", "SHIPPED_DBN"]

# The shipped 784-500-500-2000 DBN (pretrained/README.md says how it was made), relative to
# the clone's root, where the studies run: the runs' configs record it as written here.
SHIPPED_DBN = "pretrained/mnist-784-500-500-2000.safetensors"

_SIGMOID_INITS = [
    "dbn-cd",
    "dbn-recon",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
    "normal",
    "zeros",
    "default",
]
_RELU_INITS = ["xavier_uniform", "he_uniform", "he_normal", "orthogonal", "default"]
_ALL_INITS = [f"{name}:sigmoid" for name in _SIGMOID_INITS] + [
    f"{name}:relu" for name in _RELU_INITS
]

# The study notes' experiment 2: Adam lr 1e-3, batch 100, 15 epochs, Xavier as the notes
# write it, beside He, PyTorch's default and a DBN-initialised sigmoid net.
_NOTES_MNIST = dict(
    train_size=None,
    optimizer="adam",
    epochs=15,
    lr=1e-3,
    seeds=[0, 1, 2],
    inits=["xavier_uniform:relu", "he_uniform:relu", "default:relu", "dbn-cd:sigmoid"],
)

# The initialisation study's presets: the DBNs come from ``pretrain_recipe`` (or from
# ``checkpoint``), the fine-tuned MLP has the recipe's sizes plus a 10-way output.
# The label-budget study: every contender fine-tuned (or fitted) on class-balanced
# subsets of N labelled images; SGD, its lr chosen per contender and N on 1,000
# validation images; at least 10 epochs and 100,000 examples (1,000 updates of 100),
# validated every 5,000 examples, stopped after 10 validations without improvement.
_LABELS = dict(
    pretrain_recipe="labels",
    pretrain_on_valid=True,
    epochs=10,
    lr=0.1,
    lr_grid=[0.01, 0.03, 0.1, 0.3],
    shared_lr=False,
    valid_size=1000,
    min_examples=100_000,
    validate_examples=5000,
    patience=10,
)

# The shipped DBN against Xavier and He, sigmoid and ReLU, in the 784-500-500-2000 net.
_DBN_AGAINST_XAVIER_HE = [
    "dbn-cd:sigmoid",
    "xavier_uniform:sigmoid",
    "he_normal:sigmoid",
    "xavier_uniform:relu",
    "he_normal:relu",
]
_FIDELITY = dict(
    pretrain_recipe="hinton2006",
    checkpoint=SHIPPED_DBN,
    train_size=None,
    refit=True,
    seeds=[0, 1, 2],
    inits=_DBN_AGAINST_XAVIER_HE,
)

COMPARE_PRESETS: dict[str, dict] = {
    "quick": dict(
        pretrain_recipe="quick",
        train_size=10000,
        epochs=8,
        lr=0.1,
        seeds=[0, 1, 2],
        inits=_ALL_INITS,
    ),
    "hinton2006": dict(
        pretrain_recipe="hinton2006",
        train_size=None,
        epochs=30,
        lr=0.1,
        seeds=[0, 1, 2],
        checkpoint=SHIPPED_DBN,
        inits=_DBN_AGAINST_XAVIER_HE,
    ),
    # The study notes' experiment 2 at both depths (_NOTES_MNIST above).
    "notes-mnist": {**_NOTES_MNIST, "pretrain_recipe": "notes-256"},
    "notes-mnist-deep": {**_NOTES_MNIST, "pretrain_recipe": "notes-512x4"},
    "labels": dict(
        **_LABELS,
        label_sizes=[100, 300, 1000, 3000, 10000, None],
        seeds=[0, 1, 2, 3, 4],
        seeds_above_1000=3,
        inits=[
            "dbn-cd:sigmoid",
            "dbn-recon:sigmoid",
            "xavier_uniform:sigmoid",
            "he_normal:sigmoid",
            "orthogonal:sigmoid",
            "xavier_uniform:relu",
            "he_normal:relu",
            "logreg:dbn-cd",
            "logreg:pixels",
        ],
    ),
    # What `make demo` runs: the label-budget study where it found pretraining's largest
    # lead, cut to minutes: the quick recipe's DBN (3 epochs a layer on the 60,000
    # images without labels) against Xavier/sigmoid and He/ReLU at 100 and 1,000 labels,
    # 3 seeds, each contender's lr chosen from two on the validation images.
    "demo": dict(
        {**_LABELS, "pretrain_recipe": "quick"},
        label_sizes=[100, 1000],
        seeds=[0, 1, 2],
        lr_grid=[0.1, 0.3],
        inits=["dbn-cd:sigmoid", "xavier_uniform:sigmoid", "he_normal:relu"],
    ),
    # `--preset labels --quick`: the same study on the 8x8 digits, for CI (seconds).
    "labels-quick": dict(
        {**_LABELS, "pretrain_recipe": "digits"},
        label_sizes=[50, 200, None],
        seeds=[0, 1],
        valid_size=100,
        min_examples=2000,
        validate_examples=200,
        patience=5,
        lr_grid=[0.1, 0.5],
        inits=["dbn-cd:sigmoid", "xavier_uniform:sigmoid", "he_normal:relu", "logreg:dbn-cd"],
    ),
    # The fidelity issue's fair comparison: the papers' fine-tuning protocols applied to
    # the shipped DBN and to Xavier and He baselines of the same 784-500-500-2000 net,
    # select-then-refit (seed 0 picks the lr and the epochs on validation, every seed
    # then trains on all 60,000 labelled images for them), 3 seeds. Conjugate gradient
    # takes no lr grid (its line searches set the step).
    "fidelity-dropout2014": dict(
        _FIDELITY,
        finetune_recipe="dropout2014",
        shared_lr=False,
        lr_grid=[0.5, 1.0, 2.0, 4.0],
    ),
    "fidelity-hinton2006": dict(_FIDELITY, finetune_recipe="hinton2006"),
    # `--preset fidelity-dropout2014 --quick`: the same protocol on the 8x8 digits (seconds).
    "fidelity-dropout2014-quick": dict(
        pretrain_recipe="digits",
        finetune_recipe="dropout2014",
        refit=True,
        shared_lr=False,
        lr_grid=[0.1, 0.5],
        epochs=30,
        seeds=[0, 1],
        inits=["dbn-cd:sigmoid", "xavier_uniform:relu"],
    ),
    # `--preset fidelity-hinton2006 --quick`: conjugate gradient on the digits (seconds).
    "fidelity-hinton2006-quick": dict(
        pretrain_recipe="digits",
        finetune_recipe="hinton2006",
        refit=True,
        epochs=8,
        seeds=[0, 1],
        inits=["dbn-cd:sigmoid", "xavier_uniform:relu"],
    ),
    # The DBM's comparison (Salakhutdinov & Hinton 2009): a DBN and Xavier and He nets of
    # the DBM classifier's 784-500-1000 shape, fine-tuned as scripts/dbm_finetune.py
    # fine-tunes the DBM (conjugate gradient, 15 epochs, the epoch chosen on validation).
    "dbm2009": dict(
        pretrain_recipe="hinton2006-500-1000",
        finetune_recipe="hinton2006",
        train_size=None,
        epochs=15,
        seeds=[0, 1, 2],
        inits=["dbn-cd:sigmoid", "xavier_uniform:sigmoid", "he_normal:relu"],
    ),
    # The 8x8 digits with every initialisation; the DBNs pretrain for the library's
    # default budget (5,000 updates a layer), not the digits recipe's 10 epochs.
    "digits": dict(
        pretrain_recipe="digits",
        pretrain_budget=True,
        train_size=None,
        epochs=12,
        lr=0.5,
        seeds=[0, 1],
        inits=_ALL_INITS,
    ),
}
