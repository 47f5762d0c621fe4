"""The benchmark's fairness, checked cheaply: not its timings."""

import numpy as np
import torch
from helpers import load_script


def test_every_contender_gets_float32_data_unless_its_name_says_otherwise():
    bench = load_script("bench")
    x = torch.bernoulli(torch.full((40, 16), 0.3), generator=torch.Generator().manual_seed(0))
    rows = bench.contenders(
        x, hidden=4, batch=10, devices=[torch.device("cpu")], autocast="bfloat16"
    )
    names = [row.name for row in rows]
    assert "scikit-learn BernoulliRBM PCD-1" in names
    assert any(name.startswith("dbn DBN.pretrain CD-1") for name in names)
    for row in rows:
        dtype = row.data.dtype
        if "float64" in row.name:
            assert dtype == np.float64
        else:
            assert dtype in (np.float32, torch.float32), row.name
        if row.reference is not None:
            reference = next(r for r in rows if r.name == row.reference)
            # a mixed-precision row is compared with dbn's own float32 row only
            if "mixed precision" in row.name:
                assert reference.name.startswith("dbn") and "mixed" not in reference.name
            else:
                assert reference.data.dtype == np.float32 and reference.method == "pcd"
        row.run(1)  # every contender really trains


def test_the_public_api_row_pays_for_monitoring(monkeypatch):
    bench = load_script("bench")
    calls = []
    import dbn.training.rbm_trainer

    original = dbn.training.rbm_trainer.epoch_metrics
    monkeypatch.setattr(
        dbn.training.rbm_trainer, "epoch_metrics", lambda *a: calls.append(1) or original(*a)
    )
    x = torch.bernoulli(torch.full((40, 16), 0.3), generator=torch.Generator().manual_seed(0))
    public = bench.public_api_contender(x, 4, 10, "cd", None, "reference")
    bare = bench.bare_step_contender(x, 4, 10, "cd", "fused", "reference")
    bare.run(3)
    assert calls == []
    public.run(3)
    assert len(calls) == 3
