"""flowlab.baselines: selection on validation and the shared bits/dim convention."""

import math

import numpy as np
import pytest

from flowlab import baselines, budgets


def _uniform_parts(dims=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(size=(n, dims)) for n in (400, 200, 200)]


def test_gaussian_mixture_on_uniform_data_is_near_log2_levels():
    # Uniform data on [0,1)^d is log2(levels) bits/dim; the best Gaussian (variance 1/12) costs
    # its cross-entropy excess, 0.5 * log2(2 pi e / 12) bits per dimension.
    result = baselines.gaussian_mixture(*_uniform_parts(), 17, grid=(("diag", 1), ("full", 1)))
    assert result.name == "GaussianMixture"
    expected = math.log2(17) + 0.5 * math.log2(2 * math.pi * math.e / 12)
    assert abs(result.test_bpd - expected) < 0.05


def test_kernel_density_picks_the_bandwidth_with_the_best_validation_score():
    parts = _uniform_parts()
    chosen = baselines.kernel_density(*parts, 17, bandwidths=(0.01, 0.1))
    narrow = baselines.kernel_density(*parts, 17, bandwidths=(0.01,))
    wide = baselines.kernel_density(*parts, 17, bandwidths=(0.1,))
    assert chosen.validation_bpd == min(narrow.validation_bpd, wide.validation_bpd)
    assert chosen.setting == "bandwidth 0.1"


def test_images_of_any_shape_are_flattened():
    rng = np.random.default_rng(1)
    parts = [rng.uniform(size=(n, 2, 2, 3)) for n in (300, 100, 100)]
    result = baselines.gaussian_mixture(*parts, 256, grid=(("diag", 2),))
    assert np.isfinite(result.test_bpd)


def test_tuned_mixture_chooses_size_and_stopping_on_validation():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    points = centres[rng.integers(0, 3, 3000)] + 0.3 * rng.standard_normal((3000, 2))
    train, validation, test = points[:2000], points[2000:2500], points[2500:]
    tuned = baselines.tuned_mixture(train, validation, components=(1, 3, 30), seed=0)
    # Three well separated blobs: one component underfits; the validation split rejects it.
    assert tuned.components in (3, 30)
    assert tuned.iterations >= 1
    assert tuned.validation_nll == pytest.approx(tuned.nll(validation))
    one = baselines.tuned_mixture(train, validation, components=(1,), seed=0)
    assert tuned.nll(test) < one.nll(test) - 0.5


def test_tuned_mixture_rejects_counts_larger_than_the_data():
    with pytest.raises(ValueError, match="component count"):
        baselines.tuned_mixture(np.zeros((5, 2)), np.zeros((5, 2)), components=(10,))


def test_fair_mixture_validates_on_the_last_training_points_only():
    rng = np.random.default_rng(2)
    points = rng.standard_normal((500, 2))
    grading = budgets.Budget("grading", 3)
    fair = baselines.fair_mixture(points, grading, seed=0, validation_fraction=0.2)
    # A quick budget tries one count, and EM stops within the budget's iterations.
    assert (fair.components,) == baselines.MIXTURE_COMPONENTS_QUICK
    assert 1 <= fair.iterations <= 3
    # Its validation score is that of the last 100 points, which it did not fit.
    assert fair.validation_nll == pytest.approx(fair.nll(points[-100:]))


def test_fair_mixture_rejects_a_fraction_that_leaves_nothing_to_fit_or_to_validate():
    for fraction in (0.0, 1.0):
        with pytest.raises(ValueError, match="validation_fraction"):
            baselines.fair_mixture(np.zeros((10, 2)), budgets.Budget("full", 1), validation_fraction=fraction)
