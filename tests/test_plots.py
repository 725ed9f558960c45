"""flowlab.plots: what the density heat maps show."""

import matplotlib.pyplot as plt
import numpy as np

from flowlab import plots


def _gaussian_log_prob(points):
    return -0.5 * (points**2).sum(axis=1) / 0.1 - np.log(2 * np.pi * 0.1)


def _shown(ax):
    return np.asarray(ax.collections[0].get_array()).reshape(-1)


def test_density_shows_the_density_by_default():
    _, ax = plt.subplots()
    plots.density(_gaussian_log_prob, ax=ax, limits=((-1, 1), (-1, 1)), resolution=5)
    _, _, grid = plots.density_grid(((-1, 1), (-1, 1)), 5)
    np.testing.assert_allclose(_shown(ax), np.exp(_gaussian_log_prob(grid)), rtol=1e-6)
    assert ax.figure.axes[-1].get_ylabel() == "density"
    plt.close(ax.figure)


def test_density_on_a_log_scale_is_cut_off_at_the_floor():
    _, ax = plt.subplots()
    plots.density(_gaussian_log_prob, ax=ax, limits=((-1, 1), (-1, 1)), resolution=5, log_floor=-4.0)
    _, _, grid = plots.density_grid(((-1, 1), (-1, 1)), 5)
    expected = _gaussian_log_prob(grid)
    assert expected.min() < -4.0 < expected.max()  # the floor cuts some cells and keeps others
    np.testing.assert_allclose(_shown(ax), np.maximum(expected, -4.0), rtol=1e-6)
    assert ax.figure.axes[-1].get_ylabel() == "log density"
    plt.close(ax.figure)
