"""flowlab.images: the logit transform's Jacobian, dequantized splits, early stopping."""

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


def test_the_reference_conversion_is_not_in_the_package():
    # It is lab 03's bits_per_dim task in one call (issue 10).
    assert not hasattr(images, "bits_per_dim_from_logit")
    assert not hasattr(images, "flow_bits_per_dim")


def test_dequantize_split_is_fixed_and_differs_between_parts():
    split = data.digits()
    first, again = images.dequantize_split(split), images.dequantize_split(split)
    np.testing.assert_array_equal(first.test, again.test)
    assert first.flat("train").shape == (len(split.train), 64) and first.dims == 64
    np.testing.assert_array_equal(np.floor(first.validation * 17), split.validation)
    np.testing.assert_array_equal(
        first.test, density.dequantize(split.test, 17, [0, 2]))


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
