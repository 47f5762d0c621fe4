"""`--tensorboard`: event files that TensorBoard's own reader reads back."""

import json
import sys

import pytest
from helpers import load_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

DIGITS_PRETRAIN = ["--dataset", "digits", "--sizes", "64", "16", "8", "--epochs", "2"]
DIGITS_FINETUNE = [
    *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16", "--epochs", "3")
]


def _events(path):
    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _run(script, argv):
    module = load_script(script)
    return module.main(module.get_args_parser().parse_args(argv))


def test_pretraining_writes_each_layers_metrics_filters_and_samples(tmp_path):
    _run("pretrain", [*DIGITS_PRETRAIN, "--out", str(tmp_path), "--tensorboard", "--no-progress"])
    events = _events(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for layer in (1, 2):
        logged = [e.value for e in events.Scalars(f"layer{layer}/recon_error")]
        expected = [r["recon_error"] for r in rows if r["layer"] == layer]
        assert logged == pytest.approx(expected, rel=1e-6)
    assert [e.value for e in events.Scalars("layer1/lr")] == pytest.approx([0.1, 0.1])
    # the 8x8 digits are images: the first layer's filters and samples, every epoch
    assert [e.step for e in events.Images("layer1/filters")] == [1, 2]
    assert [e.step for e in events.Images("layer1/samples")] == [1, 2]


def test_finetuning_writes_its_curves_learning_rate_and_hyperparameters(tmp_path):
    result = _run(
        "finetune", [*DIGITS_FINETUNE, "--out", str(tmp_path), "--tensorboard", "--no-progress"]
    )
    events = _events(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for tag in ("train_loss", "valid_error", "lr"):
        assert [e.step for e in events.Scalars(tag)] == [1, 2, 3]
        assert [e.value for e in events.Scalars(tag)] == pytest.approx([r[tag] for r in rows])
    # add_hparams writes the final results as scalars of their own run
    hparams = _events(tmp_path / ".")
    assert hparams.Scalars("test_error")[0].value == pytest.approx(result["test_error"])


def test_a_study_writes_each_runs_result(tmp_path):
    argv = ["--preset", "labels", "--quick", "--out", str(tmp_path), "--no-progress"]
    table = _run("compare", [*argv, "--tensorboard", "--inits", "xavier_uniform:sigmoid"])
    runs = sorted(path for path in tmp_path.glob("run-*") if path.is_dir())
    assert len(runs) == sum(row["seeds"] for row in table)
    first = _events(runs[0])
    assert 0 <= first.Scalars("test_error")[0].value <= 1


@pytest.mark.parametrize("script", ["pretrain", "finetune", "loglik", "compare"])
def test_without_the_extra_the_flag_is_one_clear_error_and_nothing_is_written(
    script, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    out = tmp_path / "run"
    argv = {
        "pretrain": DIGITS_PRETRAIN,
        "finetune": DIGITS_FINETUNE,
        "loglik": ["--hidden", "8", "--epochs", "1"],
        "compare": ["--preset", "labels", "--quick"],
    }[script]
    with pytest.raises(ValueError, match=r"pip install 'dbn-torch\[tensorboard\]'"):
        _run(script, [*argv, "--out", str(out), "--tensorboard", "--no-progress"])
    assert not out.exists()
