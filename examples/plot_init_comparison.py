"""
The initialisation comparison in miniature
==========================================

The project's question on the digits: the same 64-100-50-10 network fine-tuned from a
pretrained DBN and from standard random schemes of :mod:`dbn.init`, three seeds each.
A learning rate can suit one start and not another, so each contender's rate is chosen
on the validation split from the same small grid, seed by seed; the test set is read
once, for the chosen rate.
"""

import functools
import statistics

import matplotlib.pyplot as plt
import torch

import dbn
from dbn.models import build_mlp

digits = dbn.load_digits()
train, valid, test = digits["train"], digits["valid"], digits["test"]
sizes = [64, 100, 50]
lr_grid = [0.1, 0.5]


def tuned_test_error(make_model) -> float:
    """Fine-tune a fresh copy at each rate of the grid; the test error % of the best."""
    fits = []
    for lr in lr_grid:
        model = make_model()
        config = dbn.FinetuneConfig(epochs=40, lr=lr)
        result = dbn.finetune(model, (train.x, train.y), (valid.x, valid.y), config, progress=False)
        fits.append((result.best_valid_error, model))
    best_model = min(fits, key=lambda fit: fit[0])[1]
    return 100 * dbn.evaluate(best_model, test.x, test.y)[1]


errors: dict[str, list[float]] = {}
for seed in range(3):
    torch.manual_seed(seed)
    stack = dbn.DBN(sizes)
    stack.pretrain(train.x, epochs=30, lr=0.1, progress=False)
    contenders = {
        "dbn, sigmoid": functools.partial(dbn.to_mlp, stack, num_classes=10),
        "xavier_uniform, sigmoid": lambda: build_mlp(sizes, 10, "sigmoid", init="xavier_uniform"),
        "he_normal, relu": lambda: build_mlp(sizes, 10, "relu", init="he_normal"),
    }
    for name, make_model in contenders.items():
        errors.setdefault(name, []).append(tuned_test_error(make_model))

for name, values in errors.items():
    print(f"{name:24s} {statistics.mean(values):5.2f} ± {statistics.stdev(values):.2f} %")

figure, axis = plt.subplots(figsize=(6, 3))
means = [statistics.mean(values) for values in errors.values()]
spreads = [statistics.stdev(values) for values in errors.values()]
axis.barh(list(errors), means, xerr=spreads)
axis.set(xlabel="test error % (mean ± std over 3 seeds)")
figure.tight_layout()
plt.show()
