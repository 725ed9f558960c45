"""The MNIST loader, on a small file in tf.keras.datasets' format: no download."""

import numpy as np
import pytest

from flowlab import data


@pytest.fixture
def mnist_file(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(1, 256, size=(20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=20, dtype=np.uint8),
        "x_test": rng.integers(1, 256, size=(10, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=10, dtype=np.uint8),
    }
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    return path, arrays


def test_shapes_split_and_levels(mnist_file):
    path, arrays = mnist_file
    split = data.mnist("mnist", path=path)
    assert split.levels == 256 and split.image_shape == (32, 32, 1)
    assert (len(split.train), len(split.validation), len(split.test)) == (18, 2, 10)
    assert split.train.dtype == np.int64
    # Train and validation are a disjoint partition of x_train; test is x_test in order.
    inner = np.concatenate([split.train, split.validation])[:, 2:30, 2:30, 0]
    assert sorted(map(bytes, inner)) == sorted(map(bytes, arrays["x_train"].astype(np.int64)))
    np.testing.assert_array_equal(split.test[:, 2:30, 2:30, 0], arrays["x_test"])


def test_padding_is_zero_and_centred(mnist_file):
    path, _ = mnist_file
    images = data.mnist("mnist", path=path).test[..., 0]
    # The fixture's pixels are all >= 1, so any zero is padding: 2 rows/columns on each side.
    assert np.all(images[:, :2] == 0) and np.all(images[:, 30:] == 0)
    assert np.all(images[:, :, :2] == 0) and np.all(images[:, :, 30:] == 0)
    assert np.all(images[:, 2:30, 2:30] > 0)


def test_other_sizes_and_fashion_kind(mnist_file):
    path, arrays = mnist_file
    split = data.mnist("fashion_mnist", path=path, pad_to=28, validation_fraction=0.5)
    assert split.image_shape == (28, 28, 1) and len(split.validation) == 10
    np.testing.assert_array_equal(split.test[..., 0], arrays["x_test"])
    odd = data.mnist("mnist", path=path, pad_to=31)
    assert odd.image_shape == (31, 31, 1)
    assert np.all(odd.test[:, :1] == 0) and np.all(odd.test[:, 29:] == 0)


def test_split_is_fixed_by_seed(mnist_file):
    path, _ = mnist_file
    first, again = data.mnist(path=path), data.mnist(path=path)
    np.testing.assert_array_equal(first.validation, again.validation)
    other = data.mnist(path=path, seed=1)
    assert not np.array_equal(first.validation, other.validation)


def test_errors_name_the_problem(tmp_path, mnist_file):
    path, _ = mnist_file
    with pytest.raises(ValueError, match="kind must be"):
        data.mnist("cifar10", path=path)
    with pytest.raises(ValueError, match="cannot pad 28-pixel images to 16"):
        data.mnist("mnist", path=path, pad_to=16)
    with pytest.raises(FileNotFoundError, match="No MNIST file"):
        data.mnist("mnist", path=tmp_path / "missing.npz")
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="x_test"):
        data.mnist("mnist", path=partial)
