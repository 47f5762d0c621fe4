"""
AIS against the exact log partition function
============================================

An RBM's likelihood needs its log partition function log Z. With 12 hidden units it can
be summed exactly over the 4,096 hidden states; annealed importance sampling
(Salakhutdinov & Murray 2008) estimates it for RBMs of any size. Here the AIS estimate
approaches the exact value as the number of intermediate temperatures grows.
"""

import matplotlib.pyplot as plt
import torch

import dbn

torch.manual_seed(0)
train = dbn.load_digits()["train"]
binary = torch.bernoulli(train.x, generator=torch.Generator().manual_seed(0))
rbm = dbn.RBM(64, 12)
dbn.train_rbm(rbm, binary, method="pcd", epochs=30, lr=0.05, progress=False)

exact = dbn.ais.exact_log_partition(rbm)
print(f"exact log Z: {exact:.3f}")
betas = [10, 30, 100, 300, 1000, 3000]
estimates = []
for n_betas in betas:
    result = dbn.ais.log_partition(
        rbm, binary, n_betas=n_betas, n_runs=100, generator=torch.Generator().manual_seed(1)
    )
    estimates.append(result.log_z)
    print(f"AIS, {n_betas:5d} temperatures: {result.log_z:.3f}")

figure, axis = plt.subplots(figsize=(6, 3.5))
axis.semilogx(betas, estimates, "o-", label="AIS estimate")
axis.axhline(exact, color="black", linestyle="--", label="exact")
axis.set(xlabel="intermediate temperatures", ylabel="log Z")
axis.legend()
figure.tight_layout()
plt.show()
