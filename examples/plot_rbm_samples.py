"""
Sample from an RBM
==================

Block Gibbs sampling alternates ``h ~ p(h | v)`` and ``v ~ p(v | h)``. Started from
noise, the chains of a trained RBM drift towards digit-like images; the rows below show
the same ten chains after more and more steps (the mean-field visible probabilities).
"""

import matplotlib.pyplot as plt
import torch

import dbn

torch.manual_seed(0)
train = dbn.load_digits()["train"]
rbm = dbn.RBM(64, 64)
dbn.train_rbm(rbm, train.x, method="pcd", epochs=60, lr=0.05, progress=False)

generator = torch.Generator().manual_seed(1)
v = torch.bernoulli(torch.full((10, 64), 0.5), generator=generator)
steps = [1, 10, 100, 1000]
figure, axes = plt.subplots(len(steps), 10, figsize=(8, 3.6))
done = 0
with torch.no_grad():
    for row, total in enumerate(steps):
        v = rbm.gibbs(v, k=total - done, generator=generator)
        done = total
        means = rbm.visible_probs(rbm.hidden_probs(v))
        for axis, image in zip(axes[row], means, strict=True):
            axis.imshow(image.reshape(8, 8), cmap="gray", vmin=0, vmax=1)
            axis.set_axis_off()
        axes[row, 0].set_title(f"{total} steps", fontsize=8, loc="left")
plt.show()
