import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import binary_digits, wait_for_checkpoints

import dbn
from dbn import DBN, RBM, TrainConfig, to_mlp
from dbn._utils.rng import new_generator
from dbn.io import CheckpointError, atomic_save, safe_load
from dbn.models.export import save_classifier
from dbn.training.rbm_trainer import RBMTrainer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pretrained_digits():
    train, valid, _ = binary_digits()
    model = DBN([64, 48, 32, 16], generator=torch.Generator().manual_seed(0))
    histories = model.pretrain(
        train, valid, epochs=[6, 5, 4], lr=0.05, batch_size=20, progress=False
    )
    return model, histories


def test_each_layer_trains_on_the_hidden_probabilities_below(monkeypatch):
    train, _, _ = binary_digits()
    seen = []
    original_fit = RBMTrainer.fit

    def recording_fit(self, data, *args, **kwargs):
        seen.append(data.clone())
        return original_fit(self, data, *args, **kwargs)

    monkeypatch.setattr(RBMTrainer, "fit", recording_fit)
    model = DBN([64, 20, 10])
    model.pretrain(train, epochs=2, progress=False)
    assert torch.equal(seen[0], train)
    with torch.no_grad():
        assert torch.equal(seen[1], model.layers[0].hidden_probs(train))


def test_pretraining_history_and_per_layer_options(pretrained_digits):
    model, histories = pretrained_digits
    assert [len(history) for history in histories] == [6, 5, 4]
    for history in histories:
        assert history[-1]["recon_error"] < history[0]["recon_error"]
    with pytest.raises(ValueError, match="epochs has 2 values for 3 RBMs to train"):
        model.pretrain(binary_digits()[0], epochs=[1, 2], progress=False)


def test_transform_and_generate_shapes(pretrained_digits):
    model, _ = pretrained_digits
    x = binary_digits()[2]
    assert model.transform(x).shape == (len(x), 16)
    samples = model.generate(7, gibbs_steps=20, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (7, 64)


def test_gaussian_first_layer():
    from dbn.datasets._loading import load_digits

    x = load_digits()["train"].x
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    model = DBN([64, 32, 16], visible="gaussian")
    model.pretrain(x, epochs=3, lr=[0.01, 0.05], progress=False)
    assert model.layers[0].visible == "gaussian" and model.layers[1].visible == "bernoulli"
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        DBN([64, 8]).pretrain(x, epochs=1, progress=False)


def check_mlp_matches(model, mlp, x):
    linears = [m for m in mlp if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(model.layers) + 1
    with torch.no_grad():
        hidden, out = x, x
        for index, rbm in enumerate(model.layers):
            assert torch.equal(linears[index].weight, rbm.weight)
            assert torch.equal(linears[index].bias, rbm.hidden_bias)
            hidden = rbm.hidden_probs(hidden)
            out = mlp[2 * index + 1](mlp[2 * index](out))
            assert torch.equal(out, hidden)


def test_to_mlp_reproduces_hidden_probabilities(pretrained_digits, tmp_path):
    model, _ = pretrained_digits
    x = binary_digits()[2]
    check_mlp_matches(model, to_mlp(model), x)
    path = model.save(tmp_path / "model.pt")
    check_mlp_matches(model, to_mlp(path), x)
    check_mlp_matches(model, to_mlp(str(path)), x)
    check_mlp_matches(model, to_mlp(list(model.layers)), x)
    mlp = to_mlp(model, num_classes=3, dropout=0.5, input_dropout=0.2, norm="layer")
    assert mlp(x).shape == (len(x), 3)
    assert to_mlp(model, num_classes=None)(x).shape == (len(x), 16)


def test_to_mlp_refuses_bad_input():
    with pytest.raises(ValueError, match="do not stack"):
        to_mlp([RBM(10, 5), RBM(6, 3)])
    with pytest.raises(ValueError, match="activation must be one of"):
        to_mlp(RBM(4, 3), activation="swish")
    with pytest.raises(ValueError, match="to_mlp needs a DBN"):
        to_mlp(42)
    with pytest.raises(CheckpointError, match="does not exist"):
        to_mlp("no/such/file.pt")


def test_save_load_round_trip_is_exact(pretrained_digits, tmp_path):
    model, _ = pretrained_digits
    loaded = dbn.load(model.save(tmp_path / "m.pt"))
    assert isinstance(loaded, DBN) and loaded.sizes == model.sizes
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    blob = torch.load(tmp_path / "m.pt", weights_only=True)
    assert blob["format_version"] == 1 and blob["kind"] == "dbn"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_checkpoints_are_refused(pretrained_digits, tmp_path, damage):
    model, _ = pretrained_digits
    path = model.save(tmp_path / "m.pt")
    payload = path.read_bytes()
    path.write_bytes(
        {"truncate": payload[: len(payload) // 2], "garbage": b"\x00" * 100, "empty": b""}[damage]
    )
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        dbn.load(path)


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = None


def test_pickle_with_code_payload_is_refused(tmp_path):
    global MARKER
    MARKER = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"kind": "dbn", "config": {"sizes": [4, 2]}, "state": Payload()}, path)
    with pytest.raises(CheckpointError, match="could run code"):
        dbn.load(path)
    assert not MARKER.exists()
    # and a plain pickle file, not a torch zip at all
    with open(tmp_path / "plain.pt", "wb") as handle:
        pickle.dump(Payload(), handle)
    with pytest.raises(CheckpointError):
        dbn.load(tmp_path / "plain.pt")
    assert not MARKER.exists()


def test_foreign_and_mismatched_checkpoints_are_refused(tmp_path):
    atomic_save({"kind": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a dbn checkpoint"):
        dbn.load(tmp_path / "other.pt")
    state = DBN([64, 8]).state_dict()
    atomic_save({"kind": "dbn", "config": {"sizes": [64, 9]}, "state": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not hold a valid dbn"):
        dbn.load(tmp_path / "bad.pt")


def pretrain_command(out, *extra):
    return [
        sys.executable,
        str(ROOT / "scripts" / "pretrain.py"),
        "--dataset",
        "digits",
        "--sizes",
        "64",
        "40",
        "24",
        "--epochs",
        "12",
        "--batch-size",
        "2",
        "--lr",
        "0.02",
        "--method",
        "pcd",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def count_lines(path):
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory):
    straight = tmp_path_factory.mktemp("straight")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(pretrain_command(straight), check=True, env=env, capture_output=True)
    return dbn.load(straight / "dbn.pt")


# kill points, in epochs logged: early in layer 1, at the layer boundary (the default
# suite's), inside layer 2
@pytest.mark.parametrize(
    "kill_after",
    [pytest.param(2, marks=pytest.mark.slow), 12, pytest.param(17, marks=pytest.mark.slow)],
)
def test_kill_and_resume_gives_the_uninterrupted_weights(uninterrupted_run, tmp_path, kill_after):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        pretrain_command(killed), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    wait_for_checkpoints(process, kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = count_lines(killed / "metrics.jsonl")
    assert kill_after <= done < 24, "the kill should land in the middle of pretraining"
    state = safe_load(killed / "train-state.pt", kind="dbn-training")  # intact after the kill
    assert state["layer"] in (0, 1)
    assert not (killed / "dbn.pt").exists()

    subprocess.run(pretrain_command(killed, "--resume"), check=True, env=env, capture_output=True)
    resumed = dbn.load(killed / "dbn.pt")
    for key, value in uninterrupted_run.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert count_lines(killed / "metrics.jsonl") == 24


def test_temp_files_of_a_killed_writer_are_cleaned_up(tmp_path):
    from dbn.io import atomic_save

    (tmp_path / ".state.pt.abc123.tmp.pt").write_bytes(b"half a checkpoint")
    atomic_save({"x": torch.ones(2)}, tmp_path / "state.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_pretrain_takes_one_config_per_layer_and_keywords_override(monkeypatch):
    train, _, _ = binary_digits()
    seen = []
    original_init = RBMTrainer.__init__

    def recording_init(self, rbm, config, *args, **kwargs):
        seen.append(config)
        original_init(self, rbm, config, *args, **kwargs)

    monkeypatch.setattr(RBMTrainer, "__init__", recording_init)
    configs = [TrainConfig(method="pcd", epochs=1, lr=0.01), TrainConfig(method="recon", epochs=2)]
    histories = DBN([64, 12, 6]).pretrain(train, config=configs, k=[3, 1], progress=False)
    assert [(c.method, c.epochs, c.lr, c.k) for c in seen] == [
        ("pcd", 1, 0.01, 3),
        ("recon", 2, 0.1, 1),
    ]
    assert [len(history) for history in histories] == [1, 2]
    with pytest.raises(ValueError, match="a list of 2, one per RBM"):
        DBN([64, 12, 6]).pretrain(train, config=configs[:1], progress=False)


def test_forward_is_the_differentiable_transform(pretrained_digits):
    model, _ = pretrained_digits
    x = binary_digits()[2][:5]
    out = model(x)
    assert out.requires_grad and torch.equal(out.detach(), model.transform(x))
    out.sum().backward()
    assert model.layers[0].weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_generated_samples_look_like_the_training_data(pretrained_digits):
    model, _ = pretrained_digits
    train = binary_digits()[0]

    def samples(stack, seed):
        return stack.generate(300, gibbs_steps=100, generator=torch.Generator().manual_seed(seed))

    def correlation_with_mean_digit(x):
        return torch.corrcoef(torch.stack([x.mean(0), train.mean(0)]))[0, 1].item()

    assert torch.equal(samples(model, 0), samples(model, 0))
    assert correlation_with_mean_digit(samples(model, 0)) > 0.8
    untrained = DBN([64, 48, 32, 16], generator=torch.Generator().manual_seed(0))
    assert correlation_with_mean_digit(samples(untrained, 0)) < 0.5


def test_a_checkpoint_without_a_checksum_is_refused_like_a_safetensors_file(tmp_path):
    model = DBN([64, 8])
    blob = {"kind": "dbn", "format_version": 1, "config": model.config()}
    torch.save({**blob, "state": model.state_dict()}, tmp_path / "unsigned.pt")
    with pytest.raises(CheckpointError, match="carries no content checksum"):
        dbn.load(tmp_path / "unsigned.pt")


def test_weights_save_and_load_as_safetensors_without_unpickling(tmp_path, monkeypatch):
    import safetensors.torch

    model = DBN([64, 16, 8], generator=torch.Generator().manual_seed(3))
    path = model.save(tmp_path / "dbn.safetensors", recipe="test")
    rbm = model.layers[1]
    rbm_path = rbm.save(tmp_path / "rbm.safetensors", note="test")
    classifier = dbn.to_mlp(model, num_classes=10, generator=torch.Generator().manual_seed(4))
    save_classifier(classifier, tmp_path / "clf.safetensors", sizes=[64, 16, 8], num_classes=10)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("pickle (or torch.load) was used")

    for module, name in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
        monkeypatch.setattr(module, name, no_unpickling)
    loaded = dbn.load(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    loaded_rbm = dbn.load(rbm_path)
    assert isinstance(loaded_rbm, RBM) and loaded_rbm.config() == rbm.config()
    for key, value in rbm.state_dict().items():
        assert torch.equal(loaded_rbm.state_dict()[key], value), key
    again = dbn.load(tmp_path / "clf.safetensors")
    x = torch.rand(5, 64)
    torch.testing.assert_close(again(x), classifier.eval()(x), rtol=0, atol=0)
    assert torch.equal(dbn.to_mlp(path)[0].weight, model.layers[0].weight)
    # a plain safetensors reader sees the weights by name
    assert torch.equal(safetensors.torch.load_file(path)["layers.0.weight"], model.layers[0].weight)


def test_damaged_or_misused_safetensors_files_are_refused(tmp_path):
    model = DBN([64, 16])
    path = model.save(tmp_path / "dbn.safetensors")
    payload = bytearray(path.read_bytes())
    payload[-100] ^= 0xFF  # inside the last tensor's bytes
    (tmp_path / "flipped.safetensors").write_bytes(bytes(payload))
    with pytest.raises(CheckpointError, match="is corrupt: its content does not match"):
        dbn.load(tmp_path / "flipped.safetensors")
    (tmp_path / "short.safetensors").write_bytes(bytes(payload[:50]))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        dbn.load(tmp_path / "short.safetensors")
    trainer_state = {"kind": "dbn-training", "trainer": {"epoch": 1, "chains": torch.ones(2)}}
    with pytest.raises(ValueError, match="save training checkpoints .* with the .pt suffix"):
        atomic_save({**trainer_state, "state": {}}, tmp_path / "train.safetensors")
    assert not (tmp_path / "train.safetensors").exists()


def test_weight_std_sets_every_layers_initial_scale():
    for weight_std in (0.01, 0.1):
        stack = DBN([784, 500, 200], weight_std=weight_std, generator=new_generator(0))
        for rbm in stack.layers:
            assert abs(rbm.weight.std().item() / weight_std - 1) < 0.02
            assert not rbm.visible_bias.any() and not rbm.hidden_bias.any()
    assert DBN([784, 500]).layers[0].weight.std().item() < 0.011  # Hinton's guide
