"""The generative DBN: its inference, its generation, and the up-down update against
the paper's appendix pseudo-code, written out independently here."""

import pytest
import torch

import dbn
from dbn.models import GenerativeDBN
from dbn.models.rbm import bernoulli_sample
from dbn.training import UpDownConfig, UpDownTrainer, pretrain, updown_loss
from dbn.training.updown import balanced_order


def model(seed=0, sizes=(12, 8, 6, 10), n_labels=3):
    net = GenerativeDBN(list(sizes), n_labels=n_labels).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return net


def sample(probs, generator):
    return bernoulli_sample(probs, generator).double()


def pseudo_code_updates(net, data, targets, k, generator):
    """Hinton, Osindero & Teh (2006), appendix B, for two directed layers, batched: the
    amount each parameter moves for a learning rate of 1, summed over the batch."""
    logistic = torch.sigmoid
    rec_vishid, rec_hidpen = net.recognition[0], net.recognition[1]
    gen_hidvis, gen_penhid = net.generative[0], net.generative[1]
    top, n_pen = net.top, net.top.n_features
    pentop, labtop = top.weight[:, :n_pen].t(), top.weight[:, n_pen:].t()
    pengen, labgen = top.visible_bias[:n_pen], top.visible_bias[n_pen:]
    wakehidstates = sample(logistic(rec_vishid(data)), generator)
    wakepenstates = sample(logistic(rec_hidpen(wakehidstates)), generator)
    waketopprobs = logistic(wakepenstates @ pentop + targets @ labtop + top.hidden_bias)
    waketopstates = sample(waketopprobs, generator)
    negtopstates = waketopstates
    for _ in range(k):
        negpenprobs = logistic(negtopstates @ pentop.t() + pengen)
        neglabprobs = torch.softmax(negtopstates @ labtop.t() + labgen, dim=1)
        negpenstates = sample(negpenprobs, generator)
        negtopprobs = logistic(negpenstates @ pentop + neglabprobs @ labtop + top.hidden_bias)
        negtopstates = sample(negtopprobs, generator)
    sleeppenstates = negpenstates
    sleephidstates = sample(logistic(gen_penhid(sleeppenstates)), generator)
    sleepvisprobs = logistic(gen_hidvis(sleephidstates))
    psleeppenstates = logistic(rec_hidpen(sleephidstates))
    psleephidstates = logistic(rec_vishid(sleepvisprobs))
    pvisprobs = logistic(gen_hidvis(wakehidstates))
    phidprobs = logistic(gen_penhid(wakepenstates))
    return {
        "generative.0.weight": ((data - pvisprobs).t() @ wakehidstates),
        "generative.0.bias": (data - pvisprobs).sum(0),
        "generative.1.weight": ((wakehidstates - phidprobs).t() @ wakepenstates),
        "generative.1.bias": (wakehidstates - phidprobs).sum(0),
        "top.weight": torch.cat(
            [
                waketopstates.t() @ wakepenstates - negtopstates.t() @ negpenstates,
                waketopstates.t() @ targets - negtopstates.t() @ neglabprobs,
            ],
            dim=1,
        ),
        "top.hidden_bias": (waketopstates - negtopstates).sum(0),
        "top.visible_bias": torch.cat(
            [(wakepenstates - negpenstates).sum(0), (targets - neglabprobs).sum(0)]
        ),
        "recognition.1.weight": ((sleeppenstates - psleeppenstates).t() @ sleephidstates),
        "recognition.1.bias": (sleeppenstates - psleeppenstates).sum(0),
        "recognition.0.weight": ((sleephidstates - psleephidstates).t() @ sleepvisprobs),
        "recognition.0.bias": (sleephidstates - psleephidstates).sum(0),
    }


@pytest.mark.parametrize("k", [1, 3])
def test_the_up_down_loss_gradient_is_the_papers_update(k):
    net = model(seed=k)
    data = torch.bernoulli(torch.full((7, 12), 0.4, dtype=torch.float64))
    labels = torch.tensor([0, 1, 2, 1, 0, 2, 2])
    targets = torch.nn.functional.one_hot(labels, 3).double()
    with torch.no_grad():
        expected = pseudo_code_updates(net, data, targets, k, torch.Generator().manual_seed(9))
    updown_loss(net, data, labels, k, torch.Generator().manual_seed(9)).backward()
    for name, parameter in net.named_parameters():
        torch.testing.assert_close(-parameter.grad * len(data), expected[name], msg=name)


def test_inference_is_the_top_free_energy_after_a_deterministic_up_pass():
    net = model(1)
    x = torch.rand(9, 12, dtype=torch.float64)
    pen = torch.sigmoid(net.recognition[1](torch.sigmoid(net.recognition[0](x))))
    energies = net.top.class_free_energies(pen)
    assert torch.equal(net.predict(x), energies.argmin(dim=1))
    torch.testing.assert_close(net.predict_proba(x), torch.softmax(-energies, dim=1))


def test_pretraining_ties_both_directions_to_the_rbms_and_learns_the_labels():
    digits = dbn.load_digits()
    train, test = digits["train"], digits["test"]
    torch.manual_seed(0)
    net = GenerativeDBN([64, 100, 100, 200])
    pretrain(net, train.x.numpy(), labels=train.y.numpy(), epochs=100, lr=0.05, progress=False)
    for up, down in zip(net.recognition, net.generative, strict=True):
        assert torch.equal(up.weight, down.weight.t())
    assert net.error_rate(test.x, test.y) < 0.3  # chance is 0.9


def test_generation_is_reproducible_and_saving_keeps_the_model(tmp_path):
    net = GenerativeDBN([64, 32, 32, 48])
    first = net.generate([0, 1, 2], gibbs_steps=20, generator=torch.Generator().manual_seed(1))
    again = net.generate([0, 1, 2], gibbs_steps=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, again) and first.shape == (3, 64)
    assert 0 <= first.min() and first.max() <= 1
    net.save(tmp_path / "net.safetensors")
    loaded = dbn.load(tmp_path / "net.safetensors")
    assert isinstance(loaded, GenerativeDBN)
    x = torch.rand(5, 64)
    assert torch.equal(loaded.predict(x), net.predict(x))


def test_up_down_resumed_from_its_state_equals_the_uninterrupted_run():
    train = dbn.load_digits()["train"]
    config = UpDownConfig(epochs=4, cd_steps=[1, 2])
    straight = UpDownTrainer(GenerativeDBN([64, 32, 32, 48]), config, seed=3)
    start = {k: v.clone() for k, v in straight.model.state_dict().items()}
    straight.fit(train.x, labels=train.y, progress=False)

    first = GenerativeDBN([64, 32, 32, 48])
    first.load_state_dict(start)
    interrupted = UpDownTrainer(first, config, seed=3)
    saved = []
    with pytest.raises(KeyboardInterrupt):

        def stop_after_two(trainer):
            saved.append(trainer.state_dict())
            if trainer.epoch == 2:
                raise KeyboardInterrupt

        interrupted.fit(train.x, labels=train.y, progress=False, callbacks=[stop_after_two])
    resumed = UpDownTrainer(GenerativeDBN([64, 32, 32, 48]), config, seed=99)
    resumed.load_state_dict(saved[-1])
    resumed.fit(train.x, labels=train.y, progress=False)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert [row["k"] for row in resumed.history] == [1, 1, 2, 2]


def test_bad_shapes_and_labels_are_refused():
    net = GenerativeDBN([64, 32, 32, 48])
    with pytest.raises(ValueError, match="x has 63 features, the model expects 64"):
        net.predict(torch.rand(3, 63))
    with pytest.raises(ValueError, match="labels must be below n_labels=10"):
        pretrain(net, torch.rand(4, 64), labels=torch.tensor([0, 1, 2, 11]), epochs=1)
    with pytest.raises(ValueError, match="sizes must name"):
        GenerativeDBN([64, 32])


def test_greedy_pretraining_is_checkpointed_validated_and_resumes_bit_for_bit(
    tmp_path, monkeypatch
):
    from dbn.training.rbm_trainer import RBMTrainer

    digits = dbn.load_digits()
    train, valid = digits["train"], digits["valid"]
    options = dict(epochs=3, lr=0.05, progress=False, valid=valid.x, valid_labels=valid.y)

    def fresh():
        torch.manual_seed(0)
        return GenerativeDBN([64, 32, 32, 48], n_labels=10)

    straight = fresh()
    histories = pretrain(straight, train.x, labels=train.y, **options)
    assert all("free_energy_gap" in row for layer in histories for row in layer)  # valid used

    original, calls = RBMTrainer.train_epoch, []

    def killed_in_the_fifth_epoch(self, data, labels=None):
        calls.append(1)
        if len(calls) == 5:  # layer 2, epoch 2
            raise KeyboardInterrupt
        return original(self, data)

    monkeypatch.setattr(RBMTrainer, "train_epoch", killed_in_the_fifth_epoch)
    path = tmp_path / "greedy-state.pt"
    with pytest.raises(KeyboardInterrupt):
        pretrain(fresh(), train.x, labels=train.y, checkpoint_path=path, **options)
    monkeypatch.setattr(RBMTrainer, "train_epoch", original)
    resumed = fresh()
    pretrain(resumed, train.x, labels=train.y, checkpoint_path=path, resume=True, **options)
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    with pytest.raises(dbn.io.CheckpointError, match="not a dbn checkpoint"):
        dbn.load(path)  # RBMs in training, not a model to use


def test_balanced_batches_hold_each_class_equally_and_repeat_no_image():
    labels = dbn.load_digits()["train"].y
    order = balanced_order(labels, 10, 100, torch.Generator().manual_seed(0))
    fewest = int(torch.bincount(labels).min())
    assert len(order) == fewest // 10 * 100 and len(set(order.tolist())) == len(order)
    per_batch = torch.stack([torch.bincount(b, minlength=10) for b in labels[order].view(-1, 100)])
    assert (per_batch == 10).all()


def test_up_down_on_balanced_batches_trains_on_them_and_refuses_batches_the_classes_cannot_fill(
    monkeypatch,
):
    train = dbn.load_digits()["train"]
    model = GenerativeDBN([64, 16, 16, 32], generator=torch.Generator().manual_seed(0))
    config = UpDownConfig(epochs=1, balanced_batches=True)
    seen = []
    original = dbn.training.updown.updown_loss

    def recording(model, x, labels, *args):
        seen.append(torch.bincount(labels, minlength=10))
        return original(model, x, labels, *args)

    monkeypatch.setattr(dbn.training.updown, "updown_loss", recording)
    UpDownTrainer(model, config).fit(train.x, labels=train.y, progress=False)
    assert seen and all((counts == 10).all() for counts in seen)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    odd = UpDownTrainer(model, UpDownConfig(epochs=1, batch_size=25, balanced_batches=True))
    with pytest.raises(ValueError, match="batch_size 25 to be a multiple of the 10 classes"):
        odd.fit(train.x, labels=train.y, progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
