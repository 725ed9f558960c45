"""Densities and unit conversions the labs compare flows against.

* The true density of scikit-learn's two-moons data, by numerical integration, so a flow's held-out
  NLL can be read as a gap to the best any model could do.
* Dequantization of integer pixels with named noise.
"""

import math

import numpy as np
from scipy.special import logsumexp

# Curve points pi/800 apart are a sixteenth of the noise scale apart: the NLL moves by under
# 1e-4 nats against 4001 points, at a fifth of the cost.
MOONS_CURVE_POINTS = 801


def _moons_curve(points: int) -> np.ndarray:
    """Points along both noise-free moons, evenly spaced in the angle as ``make_moons`` draws them."""
    angle = np.linspace(0.0, np.pi, points)
    outer = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    inner = np.stack([1.0 - np.cos(angle), 1.0 - np.sin(angle) - 0.5], axis=1)
    return np.concatenate([outer, inner])


def moons_log_prob(x, noise: float = 0.05, curve_points: int = MOONS_CURVE_POINTS,
                   chunk: int = 2048) -> np.ndarray:
    """Log density of ``make_moons(noise=noise)`` data at the points ``x`` (shape ``(n, 2)``).

    ``make_moons`` puts half the points on each moon, at angles spread evenly over ``[0, pi]``,
    then adds isotropic Gaussian noise. Its density is therefore a Gaussian blurred along the two
    curves: the average of ``N(x; curve(t), noise^2 I)`` over both curves and all angles. The
    average is taken over ``curve_points`` angles per moon, in log space for stability.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"moons_log_prob expects points of shape (n, 2), got {x.shape}.")
    if noise <= 0:
        raise ValueError(f"noise must be positive, got {noise}.")
    curve = _moons_curve(curve_points)
    log_norm = -math.log(2 * math.pi * noise**2) - math.log(len(curve))
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        sq = ((block[:, None, :] - curve[None, :, :]) ** 2).sum(-1)
        out[start:start + chunk] = logsumexp(-0.5 * sq / noise**2, axis=1) + log_norm
    return out


def moons_true_nll(x, noise: float = 0.05) -> float:
    """Mean negative log-likelihood (nats) of the points ``x`` under the true two-moons density.

    Evaluated on the same held-out points as a flow, it is the floor that flow's NLL can approach;
    the difference is the flow's gap to the limit.
    """
    return float(-moons_log_prob(x, noise).mean())


def dequantize(pixels, levels: int, seed=0) -> np.ndarray:
    """Uniform dequantization with noise fixed by ``seed``: ``(pixels + U(0, 1)) / levels``.

    A continuous density on integer data can grow without bound by piling mass on the integers;
    spreading each integer over a unit interval makes the likelihood a proper lower bound on the
    discrete one. ``levels`` is the number of integer values (17 for 0..16 digits, 256 for bytes).

    ``seed`` is an integer or a sequence of integers, e.g. ``(SEED, epoch)`` for fresh noise each
    epoch: the noise is always one you can name and draw again. Lab 03 has students write the
    version that draws from a NumPy ``Generator``; this one does not take one.
    """
    if isinstance(seed, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence,
                         np.random.RandomState)):
        raise TypeError(
            "density.dequantize takes an integer seed or a sequence of integers, such as "
            "(SEED, epoch), not a random generator; to draw from a Generator, dequantize with "
            "your own code (lab 03, task 5).")
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.min() < 0 or pixels.max() > levels - 1:
        raise ValueError(
            f"pixels must lie in [0, {levels - 1}] for {levels} levels; "
            f"got [{pixels.min()}, {pixels.max()}]."
        )
    noise = np.random.default_rng(seed).uniform(size=pixels.shape)
    return ((pixels + noise) / levels).astype(np.float32)
