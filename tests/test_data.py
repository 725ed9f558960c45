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


def test_tiled_mosaic_places_each_image_with_gaps():
    from flowlab import plots

    images = np.stack([np.full((2, 3), value) for value in (0.0, 0.25, 0.5, 0.75, 1.0)])
    mosaic = plots.tiled(images, columns=2, gap=1, background=0.5)
    assert mosaic.shape == (3 * 2 + 2, 2 * 3 + 1)
    np.testing.assert_array_equal(mosaic[3:5, 4:7], 0.75)  # image 3: second row, second column
    np.testing.assert_array_equal(mosaic[2, :], 0.5)        # the gap between rows
    np.testing.assert_array_equal(mosaic[6:8, 4:7], 0.5)    # the empty sixth slot
