"""flowlab.images: the logit transform's Jacobian, bits/dim from logit space, early stopping."""

import math

import numpy as np

from flowlab import budgets, data, density, images
from flowlab.tfenv import tf, tfd


def test_logit_transform_log_det_matches_a_numerical_derivative():
    x = np.random.default_rng(0).uniform(size=(3, 4, 4, 1))
    y, log_det = images.logit_transform(x, alpha=0.05)
    assert y.shape == x.shape and log_det.shape == (3,)
    step = 1e-3  # central differences: y is float32, so a tiny step would measure rounding
    y_up, _ = images.logit_transform(x + step, alpha=0.05)
    y_down, _ = images.logit_transform(x - step, alpha=0.05)
    slope = (y_up.astype(np.float64) - y_down) / (2 * step)
    np.testing.assert_allclose(log_det, np.log(slope).reshape(3, -1).sum(axis=1), atol=0.01)
    np.testing.assert_allclose(images.inverse_logit(y, alpha=0.05), x, atol=1e-5)


def test_bits_per_dim_from_logit_adds_the_logit_term_back():
    # A flow whose NLL in logit space is 10 nats with a logit term of 4 nats has NLL 6 on x.
    expected = (6.0 + 64 * math.log(17)) / (64 * math.log(2))
    assert math.isclose(images.bits_per_dim_from_logit(10.0, np.array([3.0, 5.0]), 64, 17),
                        expected)
    assert math.isclose(images.bits_per_dim_from_logit(0.0, np.zeros(2), 64, 17), math.log2(17))


def test_uniform_density_on_x_scores_log2_levels_through_the_logit_route():
    # Uniform x on [0,1)^d has log p_Y(y) = -log|dy/dx| exactly; bits/dim must be log2(levels).
    x = np.random.default_rng(1).uniform(size=(50, 6))
    y, log_det = images.logit_transform(x)
    nll_y = float(np.mean(log_det))
    assert math.isclose(images.bits_per_dim_from_logit(nll_y, log_det, 6, 256), 8.0)


def test_dequantize_split_is_fixed_and_differs_between_parts():
    split = data.digits()
    first, again = images.dequantize_split(split), images.dequantize_split(split)
    np.testing.assert_array_equal(first.test, again.test)
    assert first.flat("train").shape == (len(split.train), 64) and first.dims == 64
    np.testing.assert_array_equal(np.floor(first.validation * 17), split.validation)
    np.testing.assert_array_equal(
        first.test, density.dequantize(split.test, 17, np.random.default_rng([0, 2])))


def test_fit_early_stopping_keeps_the_best_validation_epoch():
    tf.keras.utils.set_random_seed(0)
    loc = tf.Variable([0.0, 0.0])
    flow = tfd.MultivariateNormalDiag(loc=loc)
    rng = np.random.default_rng(0)
    train = rng.normal(loc=3.0, size=(256, 2)).astype(np.float32)
    validation = rng.normal(loc=3.0, size=(64, 2)).astype(np.float32)
    history = images.fit_early_stopping(flow, train, validation,
                                        budgets.Budget("t", 30, batch_size=64, patience=3),
                                        learning_rate=0.1)
    best = int(np.argmin(history.history["val_loss"]))
    assert history.best_epoch == best + 1
    nll = -float(tf.reduce_mean(flow.log_prob(validation)))
    assert math.isclose(nll, history.history["val_loss"][best], rel_tol=1e-4)
