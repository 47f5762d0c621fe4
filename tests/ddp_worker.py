"""Run by tests/training/test_distributed.py under torchrun: a few DDP steps, saved by rank 0."""

import gc
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/helpers.py

from helpers import binary_digits  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from dbn import RBM, TrainConfig  # noqa: E402
from dbn.training.distributed import rank_batches, setup, teardown  # noqa: E402
from dbn.training.objectives import RBMObjective  # noqa: E402
from dbn.training.rbm_trainer import RBMTrainer  # noqa: E402


def main(out: str, per_rank: int) -> None:
    run(out, per_rank)
    # Leave the process group only once every DDP object above is gone: a DDP reducer
    # destroyed after its group is torn down can abort the process at exit.
    gc.collect()
    teardown()


def run(out: str, per_rank: int) -> None:
    context = setup(torch.device("cpu"))
    data = binary_digits()[0][:200]

    # 1. reconstruction training, deterministic: whole runs must agree
    rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
    config = TrainConfig(method="recon", epochs=2, batch_size=per_rank, lr=0.1)
    RBMTrainer(rbm, config, seed=0).fit(data, progress=False)

    # 2. the first CD step's gradient with given negatives
    cd_rbm = RBM(64, 16, generator=torch.Generator().manual_seed(1))
    objective = DistributedDataParallel(RBMObjective(cd_rbm, "cd"))
    global_batch = data[: per_rank * context.world_size]
    negatives = torch.bernoulli(
        torch.full_like(global_batch, 0.3), generator=torch.Generator().manual_seed(2)
    )
    (index,) = rank_batches(torch.arange(len(global_batch)), per_rank)  # one global batch
    objective(global_batch[index], negatives[index]).backward()

    if context.is_main:
        torch.save(
            {
                "recon_weight": rbm.weight.detach(),
                "cd_grads": [p.grad for p in cd_rbm.parameters()],
            },
            out,
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
