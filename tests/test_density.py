"""The true two-moons density and the image unit conversions, against independent references."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_moons

from flowlab import density


def test_moons_density_integrates_to_one():
    xs = np.linspace(-2.0, 3.0, 250)
    ys = np.linspace(-1.5, 2.0, 200)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    mass = np.exp(density.moons_log_prob(grid)).sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert mass == pytest.approx(1.0, abs=1e-3)


def test_moons_density_far_from_the_curves_is_a_single_gaussian_tail():
    # At (0, 1) (top of the outer moon), only nearby curve points matter; the density is at most
    # that of a point exactly on the curve: 1/2 * 1/pi * (integral of the tube) ~ 1/(2*pi*sqrt(2pi)*s).
    on_curve = math.exp(density.moons_log_prob(np.array([[0.0, 1.0]]))[0])
    bound = 1 / (2 * math.pi) / (math.sqrt(2 * math.pi) * 0.05)
    assert on_curve == pytest.approx(bound, rel=0.05)
    assert density.moons_log_prob(np.array([[5.0, 5.0]]))[0] < -1000


def test_true_nll_matches_a_monte_carlo_estimate_of_the_entropy():
    sample = make_moons(20000, noise=0.05, random_state=7)[0]
    nll = density.moons_true_nll(sample)
    # Tube approximation: log(curve length 2*pi) + entropy of N(0, s^2) across the curve; the
    # moons' curvature and overlaps add a little.
    tube = math.log(2 * math.pi) + 0.5 * math.log(2 * math.pi * math.e * 0.05**2)
    assert tube < nll < tube + 0.05
    assert nll == pytest.approx(0.29, abs=0.01)


def test_more_noise_scores_worse_under_the_true_density():
    noisy = make_moons(3000, noise=0.1, random_state=0)[0]
    clean = make_moons(3000, noise=0.05, random_state=0)[0]
    assert density.moons_true_nll(noisy) > density.moons_true_nll(clean) + 0.3


def test_moons_log_prob_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        density.moons_log_prob(np.zeros((3, 3)))


def test_dequantize_spreads_each_level_over_its_own_interval():
    pixels = np.array([[0, 5, 16]])
    values = density.dequantize(np.repeat(pixels, 1000, 0), levels=17, seed=0)
    for column, level in enumerate([0, 5, 16]):
        assert np.all(values[:, column] >= level / 17)
        assert np.all(values[:, column] < (level + 1) / 17)
    with pytest.raises(ValueError, match="must lie in"):
        density.dequantize(np.array([17]), levels=17)


def test_dequantize_noise_is_named_by_its_seed():
    pixels = np.arange(17).reshape(1, 17)
    np.testing.assert_array_equal(density.dequantize(pixels, 17, (3, 1)),
                                  density.dequantize(pixels, 17, (3, 1)))
    assert not np.array_equal(density.dequantize(pixels, 17, (3, 1)),
                              density.dequantize(pixels, 17, (3, 2)))


def test_dequantize_refuses_a_generator_because_lab03_students_write_that_one():
    with pytest.raises(TypeError, match="not a random generator"):
        density.dequantize(np.zeros((2, 3)), 17, np.random.default_rng(0))
