"""The offline data sets: shapes, value ranges, fixed splits."""

import numpy as np

from flowlab import data


def test_two_moons_are_float32_points_and_reproducible():
    first = data.moons_train()
    assert first.shape == (10000, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, data.moons_train())
    assert data.moons_test().shape == (5000, 2)
    assert not np.allclose(data.moons_test()[:100], first[:100])


def test_digits_split_is_fixed_and_disjoint():
    split = data.digits()
    assert split.levels == 17 and split.image_shape == (8, 8, 1)
    assert len(split.train) + len(split.validation) + len(split.test) == 1797
    assert (len(split.validation), len(split.test)) == (180, 359)
    assert split.train.min() == 0 and split.train.max() == 16
    np.testing.assert_array_equal(split.test, data.digits().test)
    other_seed = data.digits(seed=1)
    assert not np.array_equal(other_seed.test, split.test)


def test_colour_patches_are_8x8_rgb_bytes():
    split = data.colour_patches()
    assert split.levels == 256 and split.image_shape == (8, 8, 3)
    assert split.train.min() >= 0 and split.train.max() <= 255
    assert len(split.test) > 1000
