import copy
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import binary_digits, load_script, wait_for_checkpoints, without_timings
from torch import nn

import dbn
import dbn.cli.experiment
import dbn.training.finetuning
from dbn import DBN
from dbn._utils.rng import new_generator
from dbn.cli.experiment import Classifier, Refit, run_experiment
from dbn.cli.runs import RunDirectory
from dbn.datasets._loading import load_digits
from dbn.io import safe_load
from dbn.models.export import make_classifier
from dbn.models.mlp import build_mlp
from dbn.optim.conjugate_gradient import ConjugateGradient
from dbn.recipes import FINETUNE_RECIPES
from dbn.training.finetuning import FinetuneConfig, FinetuneTrainer, finetune
from studies.presets import COMPARE_PRESETS


def test_zeros_init_keeps_hidden_units_identical_after_training():
    splits = load_digits()
    model = build_mlp([64, 20, 20], 10, init="zeros")
    result = finetune(
        model,
        (splits["train"].x, splits["train"].y),
        (splits["valid"].x, splits["valid"].y),
        FinetuneConfig(epochs=5, lr=0.5),
        progress=False,
    )
    # the symmetry problem: training changed the weights, yet every unit is a copy.
    # Copies up to rounding only: a CPU's matmul kernel may sum some rows in another
    # order than others, so bitwise equality holds on one machine and not the next.
    for weight in (model[0].weight, model[2].weight):
        assert weight.abs().max() > 0
        spread_across_units = (weight - weight[:1]).abs().max()
        assert spread_across_units <= 1e-4 * weight.abs().max()
    assert result.best_valid_error > 0.5  # a net of identical units cannot learn digits


def test_dbn_initialised_mlp_equals_checkpoint_before_training(tmp_path):
    train, _, _ = binary_digits()
    pretrained = DBN([64, 32, 16])
    pretrained.pretrain(train, epochs=2, progress=False)
    path = pretrained.save(tmp_path / "dbn.pt")
    model = make_classifier([64, 32, 16], 10, init="dbn", checkpoint=path)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for linear, rbm in zip(linears, pretrained.layers, strict=False):
        assert torch.equal(linear.weight, rbm.weight)
        assert torch.equal(linear.bias, rbm.hidden_bias)
    with pytest.raises(ValueError, match="differ from"):
        make_classifier([64, 40, 16], 10, init="dbn", checkpoint=path)


def test_test_split_is_read_once_and_only_after_training(monkeypatch):
    splits = load_digits()
    calls = []
    for module in (dbn.training.finetuning, dbn.cli.experiment):
        original = module.evaluate

        def recording(model, x, y, *args, _original=original, **kwargs):
            calls.append(x.data_ptr())
            return _original(model, x, y, *args, **kwargs)

        monkeypatch.setattr(module, "evaluate", recording)
    config = FinetuneConfig(epochs=4, lr=0.3)
    run_experiment(splits, Classifier([64, 16], "xavier_uniform"), config, progress=False)
    test_pointer = splits["test"].x.data_ptr()
    assert calls.count(test_pointer) == 1 and calls[-1] == test_pointer
    assert len(calls) == 5  # four validation passes, then the one test pass


def test_early_stopping_restores_the_best_epoch():
    splits = load_digits()
    model = build_mlp([64, 32], 10, "relu", init="he_normal", generator=new_generator(0))
    config = FinetuneConfig(epochs=60, lr=0.2, patience=3)
    result = finetune(
        model,
        (splits["train"].x, splits["train"].y),
        (splits["valid"].x, splits["valid"].y),
        config,
        progress=False,
    )
    assert result.stopped_early and len(result.history) == result.best_epoch + 3
    _, error = dbn.training.finetuning.evaluate(model, splits["valid"].x, splits["valid"].y)
    assert error == result.best_valid_error


def test_the_best_epoch_has_the_lowest_error_ties_broken_by_the_loss():
    # 60 validation images: the error moves in steps of 1/60 and ties between epochs
    splits = load_digits()
    model = build_mlp([64, 32], 10, "relu", init="he_normal", generator=new_generator(0))
    valid = (splits["valid"].x[:60], splits["valid"].y[:60])
    train = (splits["train"].x, splits["train"].y)
    config = FinetuneConfig(epochs=25, lr=0.2)
    result = finetune(model, train, valid, config, generator=new_generator(0), progress=False)
    scores = [(row["valid_error"], row["valid_loss"]) for row in result.history]
    best_error = min(error for error, _ in scores)
    assert sum(error == best_error for error, _ in scores) > 1, "no tie to break"
    assert scores.index(min(scores)) + 1 == result.best_epoch
    assert (result.best_valid_error, result.best_valid_loss) == min(scores)


@pytest.mark.parametrize(
    "other, expected",
    [
        (lambda: (build_mlp([64, 16], 10), FinetuneConfig(epochs=2, lr=0.2)), r"options: lr"),
        (lambda: (build_mlp([64, 17], 10), FinetuneConfig(epochs=2)), r"of a model .*\[17, 64\]"),
    ],
)
def test_a_state_of_another_config_or_network_is_refused_before_anything_changes(other, expected):
    train = load_digits()["train"]
    finished = FinetuneTrainer(build_mlp([64, 16], 10), FinetuneConfig(epochs=2))
    finished.fit(train.x, labels=train.y, progress=False)
    model, config = other()
    receiver = FinetuneTrainer(model, config)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=expected):
        receiver.load_state_dict(finished.state_dict())
    assert receiver.epoch == 0 and receiver.history == []
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"lr": 0}, "lr must be"),
        ({"optimizer": "rmsprop"}, "optimizer must be"),
        ({"epochs": 0}, "epochs must be"),
        ({"clip_grad_norm": -1.0}, "clip_grad_norm"),
        ({"optimizer": "adam", "dampened_momentum": True}, "dampened_momentum applies"),
    ],
)
def test_bad_finetune_options(options, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig(**options)


def test_all_layer_options_run_together():
    splits = load_digits()
    config = FinetuneConfig(optimizer="adam", lr=1e-3, schedule="cosine", epochs=3)
    classifier = Classifier(
        [64, 32, 32], "orthogonal", activation="tanh", dropout=0.2, input_dropout=0.1, norm="batch"
    )
    outcome = run_experiment(splits, classifier, config, progress=False)
    assert len(outcome.finetune.history) == 3
    assert outcome.test_error < 0.5  # it learned: chance is 0.9


def _train_digits(epochs=3, lr=0.3, momentum=0.9, **options):
    """A 64-32-10 sigmoid net from Xavier init, trained from the same seed each call."""
    splits = load_digits()
    model = build_mlp([64, 32], 10, init="xavier_uniform", generator=new_generator(0))
    initial = [p.detach().clone() for p in model.parameters()]
    config = FinetuneConfig(epochs=epochs, lr=lr, momentum=momentum, **options)
    result = finetune(
        model,
        (splits["train"].x, splits["train"].y),
        (splits["valid"].x, splits["valid"].y),
        config,
        generator=new_generator(0),
        progress=False,
    )
    return model, initial, result, len(splits["train"].x)


def _weight_norm(model, order):
    return sum(m.weight.norm(p=order).item() for m in model if isinstance(m, nn.Linear))


def test_weight_decay_and_l1_shrink_the_weights_they_penalise():
    plain, _, _, _ = _train_digits()
    decayed, _, _, _ = _train_digits(weight_decay=0.05)
    sparse, _, _, _ = _train_digits(l1=1e-3)
    assert _weight_norm(decayed, 2) < 0.9 * _weight_norm(plain, 2)
    assert _weight_norm(sparse, 1) < 0.9 * _weight_norm(plain, 1)


def test_gradient_clipping_bounds_every_sgd_step():
    clip, lr, epochs = 1e-3, 0.3, 2
    model, initial, result, n_train = _train_digits(
        epochs=epochs, lr=lr, momentum=0.0, clip_grad_norm=clip
    )
    n_steps = epochs * -(-n_train // 100)
    moved = torch.cat(
        [(p.detach() - q).flatten() for p, q in zip(model.parameters(), initial, strict=True)]
    )
    # without momentum each step moves the parameters by at most lr * clip
    assert moved.norm() <= n_steps * lr * clip * (1 + 1e-5)
    assert moved.norm() > 0
    # the recorded norm is the one before clipping, so it exceeds the clip
    assert all(row["grad_norm"] > clip for row in result.history)


@pytest.mark.parametrize(
    "schedule, expected",
    [
        ("none", [0.4] * 8),
        ("step", [0.4] * 4 + [0.04] * 2 + [0.004] * 2),
        ("cosine", [0.2 * (1 + math.cos(math.pi * e / 8)) for e in range(8)]),
    ],
)
def test_schedules_set_the_documented_learning_rate(schedule, expected):
    _, _, result, _ = _train_digits(epochs=8, lr=0.4, schedule=schedule)
    assert [row["lr"] for row in result.history] == pytest.approx(expected, rel=1e-12)


def test_comparison_on_digits_writes_every_output(tmp_path, monkeypatch):
    compare = load_script("compare")
    # the recipe's 10 pretraining epochs, not the preset's budget of 5,000 updates a
    # layer (over 400 epochs of the digits: minutes; the budget has tests of its own)
    preset = {**compare.COMPARE_PRESETS["digits"], "pretrain_budget": False}
    monkeypatch.setitem(compare.COMPARE_PRESETS, "digits", preset)
    args = compare.get_args_parser().parse_args(
        [
            "--preset",
            "digits",
            "--epochs",
            "3",
            "--seeds",
            "0",
            "1",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--lr-grid",
            "0.1",
            "0.5",
            "--inits",
            "dbn-cd:sigmoid",
            "dbn-recon:sigmoid",
            "xavier_uniform:sigmoid",
            "he_normal:relu",
            "zeros:sigmoid",
        ]
    )
    table = compare.main(args)
    for name in (
        "results.csv",
        "table.csv",
        "table.md",
        "curves.png",
        "init_stats.png",
        "init_stats.json",
        "config.json",
        "dbn-cd.pt",
        "dbn-recon.pt",
    ):
        assert (tmp_path / name).is_file(), name
    text = (tmp_path / "table.md").read_text()
    for init in ("dbn-cd", "dbn-recon", "xavier_uniform", "he_normal", "zeros"):
        assert f"| {init} |" in text
    assert {row["lr_choice"] for row in table} == {"shared", "tuned"}
    assert all(row["seeds"] == 2 for row in table)


def test_the_digits_preset_pretrains_each_layer_for_the_update_budget(tmp_path, monkeypatch):
    compare = load_script("compare")
    args = compare.get_args_parser().parse_args(["--preset", "digits", "--out", str(tmp_path)])
    config = compare.build_config(args)
    splits = dbn.load_digits()
    trained = []
    monkeypatch.setattr(DBN, "pretrain", lambda self, x, config, **_: trained.append(config))
    compare.pretrained(config, "cd", splits, "cpu", tmp_path, progress=False)
    (train,) = trained
    budget = dbn.training.PRETRAIN_BUDGET
    epochs = dbn.training.budget_epochs(len(splits["train"].x), train.batch_size, budget)
    assert train.epochs == epochs > dbn.recipes.PRETRAIN_RECIPES["digits"]["epochs"]


def test_comparison_default_digits_preset_covers_every_init():
    names = {spec.split(":")[0] for spec in COMPARE_PRESETS["digits"]["inits"]}
    assert names >= {
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
    }


def test_finetuning_is_bit_identical_for_the_same_seed():
    splits = load_digits()
    config = FinetuneConfig(epochs=3, lr=0.3)

    def weights(seed):
        classifier = Classifier([64, 32], "xavier_uniform", dropout=0.2)
        outcome = run_experiment(splits, classifier, config, seed=seed, progress=False)
        history = without_timings(outcome.finetune.history)
        return [p.detach().clone() for p in outcome.model.parameters()], history

    (first, history), (second, again), (other, _) = weights(0), weights(0), weights(1)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert history == again
    assert not torch.equal(first[0], other[0])


def finetune_command(out, *extra):
    return [
        sys.executable,
        str(Path(__file__).resolve().parents[2] / "scripts" / "finetune.py"),
        *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "32"),
        *("--dropout", "0.2", "--epochs", "6", "--batch-size", "10", "--no-progress"),
        *("--out", str(out), *extra),
    ]


@pytest.fixture(scope="module")
def uninterrupted_finetune(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(finetune_command(out), check=True, env=env, capture_output=True)
    return safe_load(out / "model.pt", kind="classifier")["state"]


# the default suite kills mid-run; the first and a late epoch run with -m slow
@pytest.mark.parametrize(
    "kill_after",
    [pytest.param(1, marks=pytest.mark.slow), 3, pytest.param(5, marks=pytest.mark.slow)],
)
def test_finetune_killed_and_resumed_gives_the_uninterrupted_weights(
    uninterrupted_finetune, tmp_path, kill_after
):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        finetune_command(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    wait_for_checkpoints(process, kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "model.pt").exists() and not (out / "result.json").exists()
    state = safe_load(out / "train-state.pt", kind="finetune-training")
    assert kill_after <= state["trainer"]["epoch"] < 6, "the kill should land mid-run"

    resumed = subprocess.run(finetune_command(out, "--resume"), env=env, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr
    weights = safe_load(out / "model.pt", kind="classifier")["state"]
    for key, value in uninterrupted_finetune.items():
        assert torch.equal(weights[key], value), key
    rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4, 5, 6]
    # the reported time is the whole run's: the killed process's epochs count too, and
    # it is the sum of the epochs' own times in their metrics rows
    killed_seconds = sum(row["seconds"] for row in state["trainer"]["history"])
    seconds = json.loads((out / "result.json").read_text())["seconds"]
    assert seconds > killed_seconds > 0
    assert math.isclose(sum(row["seconds"] for row in rows), seconds)


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.3), ("cg", 1.0)])
def test_head_epochs_train_the_output_layer_alone_first(optimizer, lr):
    splits = load_digits()
    model = build_mlp([64, 32], 10, init="xavier_uniform", generator=new_generator(0))
    body = model[0].weight.detach().clone()
    seen = []
    config = FinetuneConfig(epochs=2, head_epochs=1, lr=lr, optimizer=optimizer)
    trainer = dbn.training.finetuning.FinetuneTrainer(model, config)
    head = model[-1].weight.detach().clone()
    trainer.fit(
        splits["train"].x,
        labels=splits["train"].y,
        callbacks=[
            lambda t: seen.append(
                (t.model[0].weight.detach().clone(), t.model[-1].weight.detach().clone())
            )
        ],
        progress=False,
    )
    (body_1, head_1), (body_2, _) = seen
    assert torch.equal(body_1, body) and not torch.equal(head_1, head)
    assert not torch.equal(body_2, body)


def test_max_norm_bounds_every_hidden_units_incoming_weights():
    model, _, _, _ = _train_digits(epochs=2, lr=2.0, max_norm=0.5)
    for linear in [m for m in model if isinstance(m, nn.Linear)][:-1]:
        assert linear.weight.norm(dim=1).max().item() <= 0.5 + 1e-6
    plain, _, _, _ = _train_digits(epochs=2, lr=2.0)
    assert plain[0].weight.norm(dim=1).max().item() > 0.5  # the bound did something


def test_momentum_ramps_and_linear_and_exponential_schedules():
    _, _, result, _ = _train_digits(
        epochs=4, lr=0.4, momentum=0.5, final_momentum=0.9, momentum_epochs=2, schedule="linear"
    )
    assert [row["momentum"] for row in result.history] == pytest.approx([0.5, 0.7, 0.9, 0.9])
    assert [row["lr"] for row in result.history] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    _, _, result, _ = _train_digits(epochs=3, lr=0.4, schedule="exponential", lr_gamma=0.5)
    assert [row["lr"] for row in result.history] == pytest.approx([0.4, 0.2, 0.1])


def test_dampened_momentum_keeps_the_step_size_of_plain_sgd():
    def distance_moved(**options):
        model, initial, _, _ = _train_digits(epochs=5, lr=0.01, **options)
        moved = zip(model.parameters(), initial, strict=True)
        return sum((after - before).norm() ** 2 for after, before in moved).sqrt()

    plain = distance_moved(momentum=0.0)
    dampened = distance_moved(momentum=0.95, dampened_momentum=True)
    undampened = distance_moved(momentum=0.95)
    # A velocity of (1 - p)-weighted gradients moves about as far as plain SGD (65
    # steps, so the first step's undampened velocity has faded); torch's undampened
    # velocity sums them and moves up to 1 / (1 - p) = 20 times as far.
    assert 0.5 * plain < dampened < 1.5 * plain
    assert undampened > 4 * dampened


def test_lbfgs_lowers_the_loss_and_restarts_on_every_batch(tmp_path):
    _, _, result, _ = _train_digits(epochs=3, lr=1.0, optimizer="lbfgs", batch_size=400)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    splits = load_digits()
    model = build_mlp([64, 32], 10, init="xavier_uniform", generator=new_generator(0))
    config = FinetuneConfig(epochs=2, lr=1.0, optimizer="lbfgs", batch_size=100)
    finetune(
        model,
        (splits["train"].x, splits["train"].y),
        None,
        config,
        progress=False,
        checkpoint_path=tmp_path / "state.pt",
    )
    (state,) = safe_load(tmp_path / "state.pt")["trainer"]["optimizer"]["state"].values()
    # many batches ran, yet the state holds only the last batch's iterations
    assert len(splits["train"].x) // 100 * 2 > 3
    assert state["n_iter"] <= 3 and len(state["old_dirs"]) <= 3
    # the line searches were not cut short at torch's default of 3 evaluations
    assert state["func_evals"] > 3


def test_cg_lowers_the_loss():
    _, _, result, _ = _train_digits(epochs=3, lr=1.0, optimizer="cg", batch_size=400)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]


def test_cg_keeps_training_where_float32_rounds_the_loss_to_zero():
    # Logits 20 apart give each example a loss of about 2e-9: zero in float32, while
    # its gradient is not. The searches must see the float64 loss to make progress.
    x = torch.cat([torch.eye(2), torch.eye(2)])
    y = torch.tensor([0, 1, 0, 1])
    model = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[10.0, -10.0], [-10.0, 10.0]]))
        model[0].bias.zero_()
    assert F.cross_entropy(model(x), y).item() == 0.0

    def float64_loss():
        with torch.no_grad():
            return F.cross_entropy(model(x).double(), y).item()

    before = float64_loss()
    # minimize.m's first step is lr |g| / (1 + |g|^2) long: with gradients of 1e-8,
    # lr 1e9 makes it a step of order one, which float32 weights can take
    config = FinetuneConfig(optimizer="cg", lr=1e9, epochs=1, batch_size=4)
    dbn.training.finetuning.FinetuneTrainer(model, config).fit(x, labels=y, progress=False)
    assert float64_loss() < 0.5 * before
    with pytest.raises(ValueError, match="'cg' runs without autocast"):
        FinetuneConfig(optimizer="cg", autocast="bfloat16")


@pytest.mark.parametrize("optimizer", ["lbfgs", "cg"])
def test_line_search_optimizers_refuse_dropout_and_clipping(optimizer):
    with pytest.raises(ValueError, match=f"'{optimizer}' takes no clip_grad_norm"):
        FinetuneConfig(optimizer=optimizer, clip_grad_norm=1.0)
    with pytest.raises(ValueError, match=f"'{optimizer}' needs a deterministic loss"):
        run_experiment(
            load_digits(),
            Classifier([64, 16], "xavier_uniform", dropout=0.5),
            FinetuneConfig(optimizer=optimizer),
            progress=False,
        )


def test_cg_minimises_the_summed_loss_from_minimize_ms_first_step():
    # The same lr gives the first step lr / (1 + |g|^2) along -g of the batch's summed
    # float64 loss: one line search from the same start must match a direct run on it.
    splits = load_digits()
    x, y = splits["train"].x[:200], splits["train"].y[:200]
    models = [
        build_mlp([64, 16], 10, init="xavier_uniform", generator=new_generator(0)) for _ in range(2)
    ]
    config = FinetuneConfig(optimizer="cg", lr=1.0, cg_line_searches=1, epochs=1, batch_size=200)
    FinetuneTrainer(models[0], config).fit(x, labels=y, progress=False)
    direct = ConjugateGradient(models[1].parameters(), lr=1.0, line_searches=1)

    def closure():
        direct.zero_grad()
        loss = F.cross_entropy(models[1](x).double(), y, reduction="sum")
        loss.backward()
        return loss

    direct.step(closure)
    for trained, expected in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(trained, expected)


def test_select_then_refit_trains_on_train_and_valid_for_the_selected_epochs(trainings):
    splits = load_digits()
    config = FinetuneConfig(epochs=6, lr=0.3, patience=2)
    classifier = Classifier([64, 16], "xavier_uniform")
    outcome = run_experiment(splits, classifier, config, refit=Refit(), progress=False)
    best = outcome.selection.best_epoch
    n_train, n_valid = len(splits["train"].x), len(splits["valid"].x)
    assert trainings == [(n_train, False, None), (n_train + n_valid, True, best)]
    assert len(outcome.finetune.history) == best
    assert "valid_error" not in outcome.finetune.history[0]


def test_a_finetuned_classifier_loads_and_scores_as_its_run_said(tmp_path, monkeypatch, capsys):
    finetune_script = load_script("finetune")
    argv = [
        *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16"),
        *("--epochs", "2", "--recipe", "dropout2014", "--no-progress", "--out", str(tmp_path)),
    ]
    result = finetune_script.main(finetune_script.get_args_parser().parse_args(argv))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["recipe"] == "dropout2014" and config["dropout"] == 0.5
    assert config["finetune"]["final_momentum"] == 0.99 and config["finetune"]["epochs"] == 2
    model = dbn.load(tmp_path / "model.pt")
    assert isinstance(model, nn.Sequential) and not model.training
    evaluate_script = load_script("evaluate")
    report = evaluate_script.main(
        evaluate_script.get_args_parser().parse_args(
            [str(tmp_path / "model.pt"), "--dataset", "digits"]
        )
    )
    assert report["test_error"] == result["test_error"]


def test_the_hinton2006_recipe_runs_conjugate_gradient_after_head_epochs(tmp_path):
    finetune_script = load_script("finetune")
    argv = [
        *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16"),
        *("--recipe", "hinton2006", "--epochs", "4", "--head-epochs", "2"),
        *("--no-progress", "--out", str(tmp_path)),
    ]
    result = finetune_script.main(finetune_script.get_args_parser().parse_args(argv))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["recipe"] == "hinton2006"
    recipe = FINETUNE_RECIPES["hinton2006"]
    for key in ("optimizer", "cg_line_searches", "batch_size"):
        assert config["finetune"][key] == recipe[key], key
    assert config["finetune"]["epochs"] == 4 and config["finetune"]["head_epochs"] == 2
    losses = [
        json.loads(line)["train_loss"]
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    # every epoch's line searches lower the loss: head epochs, then the whole net
    assert len(losses) == 4 and all(map(float.__gt__, losses, losses[1:]))
    assert result["test_error"] < 0.2


@pytest.mark.parametrize(
    "flag, dampened", [("--dampened-momentum", True), ("--no-dampened-momentum", False)]
)
def test_a_typed_dampening_flag_overrides_the_recipe(flag, dampened, tmp_path):
    finetune_script = load_script("finetune")
    args = finetune_script.get_args_parser().parse_args(
        ["--dataset", "digits", "--init", "xavier_uniform", "--recipe", "dropout2014", flag]
    )
    config = finetune_script.build_config(args, RunDirectory(tmp_path))
    assert config.finetune.dampened_momentum is dampened
    assert config.finetune.final_momentum == FINETUNE_RECIPES["dropout2014"]["final_momentum"]


def test_notes_synthetic_study_reports_beside_the_notes(tmp_path, monkeypatch, capsys):
    compare = load_script("compare")
    argv = ["--preset", "notes-synthetic", "--seeds", "0", "--out", str(tmp_path)]
    rows = compare.main(compare.get_args_parser().parse_args(argv))
    for name in ("results.csv", "table.md", "losses.png", "config.json"):
        assert (tmp_path / name).is_file(), name
    as_written = {r["scheme"]: r for r in rows if r["seed"] == "as written"}
    assert set(as_written) == {"zeros", "normal", "xavier_uniform", "he_uniform"}
    # zeros cannot break the symmetry: chance on held-out data, whatever the seed
    assert all(abs(r["heldout_accuracy"] - 0.5) < 0.02 for r in rows if r["scheme"] == "zeros")
    assert as_written["he_uniform"]["notes_accuracy"] == 0.9890
    assert "| he_uniform | as written |" in (tmp_path / "table.md").read_text()


def test_notes_depth_shows_vanishing_and_preserved_signals(tmp_path):
    compare = load_script("compare")
    rows = compare.main(
        compare.get_args_parser().parse_args(["--preset", "notes-depth", "--out", str(tmp_path)])
    )
    assert (tmp_path / "depth.png").is_file()

    def spread(scheme, activation, layer):
        (row,) = [
            r
            for r in rows
            if (r["scheme"], r["activation"], r["layer"]) == (scheme, activation, layer)
        ]
        return row["activation_std"]

    # N(0, 0.01²) shrinks ReLU activations by orders of magnitude over 10 layers; He keeps them
    assert spread("normal", "relu", 10) < 1e-4 * spread("normal", "relu", 1)
    assert 1 / 3 < spread("he_uniform", "relu", 10) / spread("he_uniform", "relu", 1) < 3


def test_select_from_refits_another_seed_for_the_epochs_a_selection_chose(tmp_path):
    finetune_script = load_script("finetune")
    options = [
        *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16"),
        *("--epochs", "8", "--lr", "0.3", "--patience", "2", "--no-progress"),
    ]

    def run(*extra):
        args = finetune_script.get_args_parser().parse_args([*options, *extra])
        return finetune_script.main(args)

    chosen = run("--refit", "--out", str(tmp_path / "seed0"))
    borrowed = run(
        "--select-from", str(tmp_path / "seed0"), "--seed", "1", "--out", str(tmp_path / "seed1")
    )
    for key in ("best_epoch", "best_valid_error", "stopped_early"):
        assert borrowed[key] == chosen[key]
    assert borrowed["refit"] and borrowed["select_from"] == str(tmp_path / "seed0")
    assert borrowed["epochs_trained"] == chosen["best_epoch"]
    assert not (tmp_path / "seed1" / "select-state.pt").exists()  # no selection of its own
    assert not (tmp_path / "seed1" / "select-metrics.jsonl").exists()
    log = (tmp_path / "seed0" / "select-metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in log]
    assert [row["epoch"] for row in rows] == list(range(1, len(rows) + 1))
    assert rows[chosen["best_epoch"] - 1]["valid_error"] == chosen["best_valid_error"]
    config = json.loads((tmp_path / "seed1" / "config.json").read_text())
    assert config["selection"]["best_epoch"] == chosen["best_epoch"] and config["seed"] == 1
    # the same refit as the library's, seed 1 for the chosen number of epochs
    splits = load_digits()
    finetune_config = FinetuneConfig(epochs=8, lr=0.3, patience=2)
    direct = run_experiment(
        splits,
        Classifier([64, 16], "xavier_uniform"),
        finetune_config,
        seed=1,
        refit=Refit(epochs=chosen["best_epoch"]),
        progress=False,
    )
    assert direct.selection is None
    assert direct.test_error == borrowed["test_error"]


def test_select_from_needs_the_selection_ended_not_the_refit(tmp_path):
    finetune_script = load_script("finetune")
    options = [
        *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16"),
        *("--epochs", "4", "--lr", "0.3", "--no-progress"),
    ]

    def run(*extra):
        return finetune_script.main(
            finetune_script.get_args_parser().parse_args([*options, *extra])
        )

    chosen = run("--refit", "--out", str(tmp_path / "seed0"))
    selection = json.loads((tmp_path / "seed0" / "selection.json").read_text())
    assert selection == {k: chosen[k] for k in ("best_epoch", "best_valid_error", "stopped_early")}
    # seed 0's refit still training: no result.json yet, its selection is borrowable
    (tmp_path / "seed0" / "result.json").unlink()
    borrowed = run(
        "--select-from", str(tmp_path / "seed0"), "--seed", "1", "--out", str(tmp_path / "s1")
    )
    assert borrowed["best_epoch"] == chosen["best_epoch"]
    assert borrowed["epochs_trained"] == chosen["best_epoch"]
    # seed 0 stopped during its selection: refused, and nothing written for seed 2
    (tmp_path / "seed0" / "selection.json").unlink()
    with pytest.raises(ValueError, match="has not ended its selection"):
        run("--select-from", str(tmp_path / "seed0"), "--seed", "2", "--out", str(tmp_path / "s2"))
    assert not (tmp_path / "s2").exists()


def test_use_valid_trains_on_train_and_valid_for_the_fixed_epochs(tmp_path, trainings):
    finetune_script = load_script("finetune")
    argv = [
        *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16"),
        *("--epochs", "3", "--use-valid", "--no-progress", "--out", str(tmp_path)),
    ]
    result = finetune_script.main(finetune_script.get_args_parser().parse_args(argv))
    splits = load_digits()
    assert trainings == [(len(splits["train"].x) + len(splits["valid"].x), True, 3)]
    assert result["use_valid"] and result["epochs_trained"] == 3
    assert result["best_valid_error"] is None and not (tmp_path / "valid_error.png").exists()
