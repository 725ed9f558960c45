"""flowlab.compare: the grid integral, the comparison table and the cost figures."""

import math

import numpy as np
import pytest

from flowlab import compare


def gaussian_log_prob(points, scale=0.5):
    points = np.asarray(points, np.float64)
    return -0.5 * (points**2).sum(1) / scale**2 - math.log(2 * math.pi * scale**2)


def test_grid_integral_of_a_density_is_one_and_of_a_wrong_one_is_not():
    box = ((-4.0, 4.0), (-4.0, 4.0))
    assert compare.grid_integral(gaussian_log_prob, box, resolution=200).value == pytest.approx(1.0, abs=1e-3)
    # A log-det off by log 2 doubles the density: the NLL looks better, the integral says 2.
    doubled = compare.grid_integral(lambda p: gaussian_log_prob(p) + math.log(2), box, 200)
    assert doubled.value == pytest.approx(2.0, abs=2e-3)


def test_grid_integral_misses_the_mass_outside_the_box():
    inside = compare.grid_integral(gaussian_log_prob, ((0.0, 4.0), (-4.0, 4.0)), 200)
    assert inside.value == pytest.approx(0.5, abs=1e-3) and inside.undefined == 0


def test_grid_integral_counts_nan_cells_and_takes_minus_infinity_as_zero_density():
    def overflowing(points):
        log_density = gaussian_log_prob(points)
        log_density[points[:, 0] > 3.0] = -np.inf  # underflow: density zero
        log_density[points[:, 0] < -3.0] = np.nan  # inf - inf inside a flow
        return log_density

    result = compare.grid_integral(overflowing, ((-4.0, 4.0), (-4.0, 4.0)), 200)
    assert result.undefined == 25 * 200 and result.cells == 200 * 200
    assert result.value == pytest.approx(1.0, abs=3e-3)
    assert "nan at 5000 of 40000 grid cells" in str(result)
    assert f"{result:.2f}".startswith("1.00 (log_prob is nan at 5000")
    assert str(compare.grid_integral(gaussian_log_prob, ((-4.0, 4.0), (-4.0, 4.0)), 200)) == "1.0000"


@pytest.mark.parametrize("box, resolution", [(((1.0, 0.0), (0.0, 1.0)), 10), (((0.0, 1.0), (0.0, 1.0)), 1)])
def test_grid_integral_rejects_bad_boxes(box, resolution):
    with pytest.raises(ValueError):
        compare.grid_integral(gaussian_log_prob, box, resolution)


def test_table_lists_every_model_with_its_gap_to_the_truth():
    rows = [compare.Row("truth", 0.3, 0.0, None, None), compare.Row("model", 0.45, 12.0, 0.5, 0.25)]
    text = compare.table(rows, truth=0.3)
    lines = text.splitlines()
    assert len(lines) == 4
    assert "0.150" in lines[3] and "12.0" in lines[3] and "0.50" in lines[3] and "0.25" in lines[3]


def test_cost_scales_to_10k_points():
    calls = []

    def sample(n):
        calls.append(n)
        return np.zeros((n, 2))

    sample_seconds, density_seconds = compare.cost(sample, lambda x: np.zeros(len(x)), points=100,
                                                   repeats=1)
    assert set(calls) == {100}
    assert sample_seconds >= 0 and density_seconds >= 0
    with pytest.raises(ValueError):
        compare.cost(sample, lambda x: x, points=0)
