"""
Train an RBM and look at its filters
====================================

An RBM with 36 hidden units learns, by persistent contrastive divergence, features of
the 8x8 digits: each hidden unit's weights form an 8x8 filter. Training is a loss
(the free-energy difference between the data and the persistent chains), so the
optimiser is an ordinary ``torch.optim.SGD``.
"""

import matplotlib.pyplot as plt
import torch

import dbn

torch.manual_seed(0)
train = dbn.load_digits()["train"]
rbm = dbn.RBM(64, 36)
history = dbn.train_rbm(rbm, train.x, method="pcd", epochs=40, lr=0.05, progress=False)
print(f"reconstruction error, last epoch: {history[-1]['recon_error']:.3f}")

figure, axes = plt.subplots(6, 6, figsize=(5, 5))
for axis, weights in zip(axes.flat, rbm.weight.detach(), strict=True):
    axis.imshow(weights.reshape(8, 8), cmap="gray")
    axis.set_axis_off()
figure.suptitle("first-layer filters of an RBM on the 8x8 digits")
plt.show()
