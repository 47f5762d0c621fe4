"""
Pretrain a DBN and fine-tune it as a classifier
===============================================

A 64-100-50 DBN is pretrained greedily without labels, exported by :func:`dbn.to_mlp`
into a plain ``nn.Sequential`` whose ``Linear`` layers hold the RBMs' weights, then
fine-tuned with a new 10-way output layer. The training and validation curves come from
:func:`dbn.finetune`'s history.
"""

import matplotlib.pyplot as plt
import torch

import dbn

torch.manual_seed(0)
digits = dbn.load_digits()
train, valid, test = digits["train"], digits["valid"], digits["test"]

stack = dbn.DBN([64, 100, 50])
stack.pretrain(train.x, epochs=50, lr=0.1, progress=False)
model = dbn.to_mlp(stack, num_classes=10)
print(model)

config = dbn.FinetuneConfig(epochs=60, lr=0.5)
result = dbn.finetune(model, (train.x, train.y), (valid.x, valid.y), config, progress=False)
_, error = dbn.evaluate(model, test.x, test.y)
print(f"test error: {error:.2%}")

epochs = range(1, len(result.history) + 1)
figure, (loss_axis, error_axis) = plt.subplots(1, 2, figsize=(9, 3.5))
loss_axis.plot(epochs, [row["train_loss"] for row in result.history])
loss_axis.set(xlabel="epoch", ylabel="training loss")
error_axis.plot(epochs, [100 * row["valid_error"] for row in result.history])
error_axis.set(xlabel="epoch", ylabel="validation error %")
figure.tight_layout()
plt.show()
