"""autograder/reference/beyond_affine.py: the references the lab 05 verifier judges with are right
in their own terms (round trips, finite differences, a density that integrates to one)."""

import numpy as np

from flowlab import compare
from flowlab.course.grading.verifier import load_reference

reference = load_reference("beyond_affine")


def test_piecewise_linear_map_inverts_and_its_log_derivative_is_the_slope():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.01, 0.99, size=50)
    logits = rng.normal(size=(50, 6))
    y, log_det = reference.pwl_forward(x, logits)
    assert np.all((y >= 0) & (y <= 1))
    np.testing.assert_allclose(reference.pwl_inverse(y, logits), x, atol=1e-9)
    step = 1e-6
    above, below = reference.pwl_forward(x + step, logits)[0], reference.pwl_forward(x - step, logits)[0]
    slope = (above - below) / (2 * step)
    # Points within a step of a bin edge have a one-sided slope; the rest must match.
    inside = np.abs(x * 6 - np.round(x * 6)) > 1e-4
    np.testing.assert_allclose(log_det[inside], np.log(slope[inside]), atol=1e-5)
    ends, _ = reference.pwl_forward(np.array([0.0, 1.0]), logits[:2])
    np.testing.assert_allclose(ends, [0.0, 1.0], atol=1e-12)


def test_spline_params_fill_the_interval_and_respect_the_minima():
    raw = np.random.default_rng(1).normal(scale=6.0, size=(4, 3 * 5 - 1))
    widths, heights, slopes = reference.spline_params(raw, 5, 2.0, min_width=0.05, min_slope=0.1)
    np.testing.assert_allclose(widths.sum(-1), 4.0)
    np.testing.assert_allclose(heights.sum(-1), 4.0)
    assert widths.min() >= 0.05 and heights.min() >= 0.05 and slopes.min() >= 0.1
    assert slopes.shape == (4, 4)


def _random_spline_weights(dims, layers, bins, hidden, seed=0):
    # Small weights keep the density smooth enough for a 400 x 400 grid to integrate it to 1e-4;
    # larger ones make knots so steep that the grid, not the flow, is off by a few per cent.
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.2, size=shape) for _ in range(layers)
            for shape in reference.network_shapes(dims, bins, hidden)]


def test_reference_spline_flow_is_a_density_and_inverts():
    weights = _random_spline_weights(2, 3, 5, 8)
    flow = reference.spline_flow(weights, 2, 3, 5, 3.0)
    x = np.random.default_rng(2).normal(size=(40, 2))
    np.testing.assert_allclose(flow.bijector.forward(flow.bijector.inverse(x)).numpy(), x, atol=1e-8)
    integral = compare.grid_integral(lambda p: flow.log_prob(np.asarray(p, np.float64)).numpy(),
                                     ((-8.0, 8.0), (-8.0, 8.0)), 400)
    assert abs(integral.value - 1.0) < 0.01 and integral.undefined == 0


def test_a_flow_on_data_scale_is_the_standardised_density_times_the_jacobian():
    flow = reference.spline_flow(_random_spline_weights(2, 2, 5, 8), 2, 2, 5, 3.0)
    train = np.random.default_rng(4).normal([0.5, 0.25], [0.9, 0.5], size=(500, 2))
    mean, std = train.mean(0), train.std(0)
    scaled = reference.on_data_scale(flow, train)
    x = np.random.default_rng(5).normal(size=(30, 2))
    expected = flow.log_prob((x - mean) / std).numpy() - np.log(std).sum()
    np.testing.assert_allclose(scaled.log_prob(x).numpy(), expected, atol=1e-10)


def test_residual_references_agree_with_finite_differences_and_the_exact_log_det():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(3, 3))
    w *= 0.7 / reference.largest_singular_value(w)
    x = rng.normal(size=(10, 3))
    z = reference.residual_inverse(x, w)
    np.testing.assert_allclose(z + reference.contraction(z, w), x, atol=1e-10)
    scaled_down = reference.spectral_normalize(w * 5, 0.8)
    np.testing.assert_allclose(reference.largest_singular_value(scaled_down), 0.8)
    np.testing.assert_allclose(reference.spectral_normalize(w, 0.8), w)  # 0.7 is below 0.8 already

    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    a *= 0.9 / reference.largest_singular_value(a)
    b *= 0.8 / reference.largest_singular_value(b)
    z = rng.normal(size=(4, 3))
    jac = reference.jacobians(z, a, b)

    def g(points):
        return 0.8 * np.tanh(points @ a) @ b

    step = 1e-6
    for k in range(3):
        shift = np.zeros(3)
        shift[k] = step
        np.testing.assert_allclose(jac[:, :, k], (g(z + shift) - g(z - shift)) / (2 * step), atol=1e-6)
    exact = np.linalg.slogdet(np.eye(3) + jac)[1]
    np.testing.assert_allclose(reference.series_with_exact_traces(jac, 80), exact, atol=1e-6)


def test_time_derivative_network_reference():
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=s) for s in ((3, 4), (4,), (4, 4), (4,), (4, 2), (2,))]
    inputs = rng.normal(size=(5, 3))
    hidden = np.tanh(np.tanh(inputs @ weights[0] + weights[1]) @ weights[2] + weights[3])
    np.testing.assert_allclose(reference.mlp_tanh(weights, inputs), hidden @ weights[4] + weights[5])
