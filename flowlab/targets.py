"""Lab 06's targets: densities known only up to a constant, for variational inference with flows.

* Two moons (the density of ``make_moons`` data, :mod:`flowlab.density`) multiplied by a constant
  the lab pretends not to know, so its true ``log Z`` is known and an estimate can be checked.
* A banana: a Gaussian bent along a parabola, where a mean-field Gaussian visibly fails.
* Bayesian logistic regression on scikit-learn's breast-cancer data: a real posterior.

Each log density is written with TensorFlow operations so that gradients flow through it.
"""

import math

import numpy as np

from flowlab import density
from flowlab.tfenv import tf

# The lab's two moons are noisier than lab 01's (0.05): the same shape, but thick enough for a
# small flow trained by reverse KL to cover both moons within the lab's budget.
MOONS_NOISE = 0.15
# The unnormalised moons are Z times the density: log Z = log 20.
MOONS_LOG_Z = math.log(20.0)
BANANA_CURVATURE = 0.5
BANANA_SCALES = (1.5, 0.35)
BANANA_LOG_Z = math.log(3.0)
LOGISTIC_PRIOR_SCALE = 1.0


def _moons_curve(points: int = density.MOONS_CURVE_POINTS) -> np.ndarray:
    angle = np.linspace(0.0, np.pi, points)
    outer = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    inner = np.stack([1.0 - np.cos(angle), 1.0 - np.sin(angle) - 0.5], axis=1)
    return np.concatenate([outer, inner]).astype(np.float32)


_CURVE = _moons_curve()


def _moons_block(x, noise: float):
    # |x - c|² = |x|² - 2 x·c + |c|²: one (n, curve) matrix instead of an (n, curve, 2) tensor.
    squared = (tf.reduce_sum(x**2, axis=1, keepdims=True) - 2.0 * tf.matmul(x, _CURVE.T)
               + np.sum(_CURVE**2, axis=1)[None, :])
    log_norm = -math.log(2 * math.pi * noise**2) - math.log(len(_CURVE))
    return tf.reduce_logsumexp(-0.5 * tf.maximum(squared, 0.0) / noise**2, axis=1) + log_norm


def moons_unnormalised_log_prob(x, noise: float = MOONS_NOISE, chunk: int = 4096):
    """``log p̃(x) = log p(x) + MOONS_LOG_Z`` for points ``x`` of shape ``(n, 2)``, in TensorFlow.

    ``p`` is the two-moons density of :func:`flowlab.density.moons_log_prob` (Gaussian noise of
    scale ``noise`` around both moons); its integral is 1, so that of ``p̃`` is ``exp(MOONS_LOG_Z)``.
    Run eagerly on many points, it works in chunks of ``chunk`` points to bound its memory.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    count = x.shape[0]
    if tf.executing_eagerly() and count is not None and count > chunk:
        parts = [_moons_block(x[start:start + chunk], noise) for start in range(0, count, chunk)]
        return tf.concat(parts, axis=0) + MOONS_LOG_Z
    return _moons_block(x, noise) + MOONS_LOG_Z


def moons_log_prob(x, noise: float = MOONS_NOISE) -> np.ndarray:
    """The normalised two-moons log density at ``x``, in NumPy (float64), for checking estimates."""
    return density.moons_log_prob(x, noise)


def banana_unnormalised_log_prob(x):
    """A banana-shaped target: ``x1 ~ N(0, s1²)``, ``x2 | x1 ~ N(c·x1² − c·s1², s2²)``, times
    ``exp(BANANA_LOG_Z)``. Its two coordinates are uncorrelated yet strongly dependent, so a
    mean-field (diagonal) Gaussian can only cover the bend with a blob."""
    x = tf.convert_to_tensor(x, tf.float32)
    s1, s2 = BANANA_SCALES
    bend = x[:, 1] - BANANA_CURVATURE * (x[:, 0] ** 2 - s1**2)
    log_norm = -math.log(2 * math.pi * s1 * s2)
    return -0.5 * (x[:, 0] / s1) ** 2 - 0.5 * (bend / s2) ** 2 + log_norm + BANANA_LOG_Z


def breast_cancer(test_fraction: float = 0.25, seed: int = 0):
    """scikit-learn's breast-cancer data as ``(X_train, y_train, X_test, y_test)``, float32.

    Features are standardised with the training split's mean and spread, and a column of ones is
    prepended for the intercept; labels are 0/1. The split is stratified and seeded.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    features, labels = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=test_fraction, random_state=seed, stratify=labels)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)

    def prepare(x):
        x = (x - mean) / std
        return np.concatenate([np.ones((len(x), 1)), x], axis=1).astype(np.float32)

    return prepare(x_train), y_train.astype(np.float32), prepare(x_test), y_test.astype(np.float32)


def logistic_log_joint(features, labels, prior_scale: float = LOGISTIC_PRIOR_SCALE):
    """``log p(y | X, w) + log p(w)`` for a batch of weight vectors ``w`` (shape ``(s, d)``).

    The likelihood is Bernoulli with logits ``X w``; the prior is ``N(0, prior_scale² I)``. The
    unnormalised posterior of ``w`` is this joint; its normaliser is the evidence ``p(y | X)``.
    """
    features = tf.constant(features, tf.float32)
    labels = tf.constant(labels, tf.float32)
    dims = int(features.shape[1])
    log_prior_norm = -0.5 * dims * math.log(2 * math.pi * prior_scale**2)

    def log_joint(weights):
        weights = tf.convert_to_tensor(weights, tf.float32)
        logits = tf.matmul(weights, features, transpose_b=True)
        log_likelihood = -tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.broadcast_to(labels, tf.shape(logits)),
                                                    logits=logits), axis=-1)
        log_prior = -0.5 * tf.reduce_sum((weights / prior_scale) ** 2, axis=-1) + log_prior_norm
        return log_likelihood + log_prior

    return log_joint


def predictive_accuracy(weight_samples, features, labels) -> float:
    """Accuracy of the posterior predictive: the probability of class 1 averaged over the weight
    samples, thresholded at one half."""
    weight_samples = np.asarray(weight_samples, np.float64)
    logits = np.asarray(features, np.float64) @ weight_samples.T
    probability = (1.0 / (1.0 + np.exp(-logits))).mean(axis=1)
    return float(((probability > 0.5) == (np.asarray(labels) > 0.5)).mean())
