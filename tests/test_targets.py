"""Lab 06's unnormalised targets and variational training loop."""

import math

import numpy as np
import pytest

from flowlab import density, targets, variational
from flowlab.tfenv import tf, tfb, tfd, tfp


def test_unnormalised_moons_are_the_moons_density_times_z_in_chunks_too():
    points = np.random.default_rng(0).normal(0.5, 1.0, (300, 2)).astype(np.float32)
    expected = density.moons_log_prob(points, targets.MOONS_NOISE) + targets.MOONS_LOG_Z
    found = targets.moons_unnormalised_log_prob(points).numpy()
    np.testing.assert_allclose(found, expected, atol=2e-3)
    chunked = targets.moons_unnormalised_log_prob(points, chunk=64).numpy()
    np.testing.assert_allclose(chunked, found, atol=1e-5)


def test_banana_integrates_to_its_constant():
    xs = np.linspace(-10, 10, 801)
    ys = np.linspace(-8, 40, 1201)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    values = np.exp(targets.banana_unnormalised_log_prob(grid).numpy().astype(np.float64))
    integral = values.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert math.log(integral) == pytest.approx(targets.BANANA_LOG_Z, abs=2e-3)


def test_logistic_log_joint_matches_a_direct_computation():
    x_train, y_train, x_test, y_test = targets.breast_cancer()
    assert x_train.shape[1] == 31 and np.allclose(x_train[:, 0], 1.0)
    assert len(x_train) + len(x_test) == 569
    weights = np.random.default_rng(1).normal(0, 0.3, (4, 31))
    logits = weights @ x_train.T.astype(np.float64)
    likelihood = np.sum(y_train * logits - np.logaddexp(0.0, logits), axis=1)
    prior = -0.5 * np.sum(weights**2, axis=1) - 0.5 * 31 * math.log(2 * math.pi)
    found = targets.logistic_log_joint(x_train, y_train)(weights.astype(np.float32)).numpy()
    np.testing.assert_allclose(found, likelihood + prior, rtol=1e-4)


def test_predictive_accuracy_averages_probabilities_over_samples():
    features = np.array([[1.0], [-1.0]])
    labels = np.array([1.0, 0.0])
    # One sample says +10, two say -1: mean probability at x = 1 is above a half, at -1 below.
    assert targets.predictive_accuracy(np.array([[10.0], [-1.0], [-1.0]]), features, labels) == 1.0
    assert targets.predictive_accuracy(np.array([[-3.0]]), features, labels) == 0.0


def test_fit_moves_a_gaussian_onto_a_gaussian_target():
    target = tfd.MultivariateNormalDiag([2.0, -1.0], [0.5, 0.5])
    q = tfd.MultivariateNormalDiag(
        tf.Variable([0.0, 0.0]), tfp.util.TransformedVariable([1.0, 1.0], tfb.Softplus()))

    def loss():
        x, log_q = q.experimental_sample_and_log_prob(256)
        return tf.reduce_mean(log_q - target.log_prob(x))

    history = variational.fit(loss, q, steps=400, learning_rate=0.05, progress=False)
    assert history.steps == 400 and len(history.loss) == 4
    np.testing.assert_allclose(q.mean().numpy(), [2.0, -1.0], atol=0.1)


def test_fit_names_the_problem_with_nothing_to_train():
    with pytest.raises(ValueError, match="no variables"):
        variational.fit(lambda: tf.constant(0.0), [], steps=1, progress=False)
    with pytest.raises(ValueError, match="steps"):
        variational.fit(lambda: tf.constant(0.0), [tf.Variable(1.0)], steps=0, progress=False)
