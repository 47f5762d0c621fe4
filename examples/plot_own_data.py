"""
Your own data, with the defaults
================================

A user's data usually arrives as a NumPy array of float64. Here it is scikit-learn's
8x8 digits, scaled to [0, 1] and split 70/30 by class. Every call below takes the
arrays as they are and uses the library's defaults: pretraining and fine-tuning last a
number of *updates* (5,000 and 3,000, at least 10 and 30 epochs), not a fixed number
of epochs that a small data set would get too few updates from, and
:func:`dbn.finetune` holds out 10 % of the training data to keep its best epoch.
"""

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import dbn
from dbn.models import build_mlp

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.3, stratify=y, random_state=0
)
torch.manual_seed(0)

# Pretrain without labels, export the stack, fine-tune it: every option left at its default.
stack = dbn.DBN([64, 100, 50])
stack.pretrain(X_train, progress=False)
pretrained = dbn.to_mlp(stack, num_classes=10)
dbn.finetune(pretrained, (X_train, y_train), progress=False)

# The modern baseline: the same layers, ReLU units, He initialisation, the same fine-tuning.
baseline = build_mlp([64, 100, 50], num_classes=10, activation="relu", init="he_normal")
dbn.finetune(baseline, (X_train, y_train), progress=False)

errors = {
    "DBN, sigmoid": 100 * dbn.evaluate(pretrained, X_test, y_test)[1],
    "He, ReLU": 100 * dbn.evaluate(baseline, X_test, y_test)[1],
}
for name, error in errors.items():
    print(f"{name:12s} test error {error:.2f} %")

figure, axis = plt.subplots(figsize=(5, 2.2))
axis.barh(list(errors), list(errors.values()))
axis.set(xlabel="test error % (one seed)")
figure.tight_layout()
plt.show()
