"""Flows on integer images: fixed dequantization, the logit transform with its Jacobian, bits/dim,
and training with early stopping.

Everything works on images of any shape and any number of levels (17 for the 8x8 digits, 256 for
bytes). The conventions, shared by every model a lab compares:

* pixels are dequantized to ``[0, 1)`` by :func:`flowlab.density.dequantize`, each part of a split
  with its own fixed noise (:data:`NOISE_SEEDS`), so all models are scored on identical points;
* a flow may model ``y = logit(alpha + (1 - 2 alpha) x)`` instead of ``x``; its NLL is brought back
  to ``x`` by subtracting ``log |dy/dx|`` (:func:`logit_transform` returns it per example);
* scores are bits per dimension of the *discrete* pixels, after subtracting the mean
  ``log |dy/dx|`` (lab 03 has students write that conversion).
"""

import math
from dataclasses import dataclass

import numpy as np

from flowlab import budgets, density, eager, training
from flowlab.data import ImageSplit
from flowlab.tfenv import tf

ALPHA = 0.05
NOISE_SEEDS = {"train": 0, "validation": 1, "test": 2}
PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Dequantized(ImageSplit):
    """The three parts of an :class:`flowlab.data.ImageSplit`, dequantized to ``[0, 1)``."""

    @property
    def dims(self) -> int:
        return int(np.prod(self.image_shape))

    def flat(self, part: str) -> np.ndarray:
        """One part as ``(n, dims)`` vectors, the input of flows on vectors and of scikit-learn."""
        images = getattr(self, part)
        return images.reshape(len(images), -1)


def dequantize_split(split, seed: int = 0) -> Dequantized:
    """Dequantize every part of ``split`` once, with noise fixed by the part and ``seed``.

    The noise is drawn once and kept: a model scored on freshly drawn noise each time would not be
    comparable with another, and re-drawing the training noise every epoch is a separate choice.
    """
    parts = {part: density.dequantize(getattr(split, part), split.levels, [seed, NOISE_SEEDS[part]])
             for part in PARTS}
    return Dequantized(levels=split.levels, **parts)


def logit_transform(x, alpha: float = ALPHA):
    """``y = logit(alpha + (1 - 2 alpha) x)`` and ``log |dy/dx|`` summed per example.

    ``x`` lies in ``[0, 1)``, where a Gaussian base puts mass outside the box and the densities near
    0 and 1 are steep; ``y`` is unbounded, and squeezing by ``alpha`` keeps it finite at the edges.
    Returns ``(y, log_det)``: ``y`` (float32, the shape of ``x``) and ``log_det`` of shape
    ``(n,)``, the sum over every axis but the first of
    ``log(1 - 2 alpha) - log p - log(1 - p)`` with ``p = alpha + (1 - 2 alpha) x``.
    """
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}.")
    x = np.asarray(x, dtype=np.float64)
    p = alpha + (1.0 - 2.0 * alpha) * x
    y = np.log(p) - np.log1p(-p)
    log_det = math.log(1.0 - 2.0 * alpha) - np.log(p) - np.log1p(-p)
    return y.astype(np.float32), log_det.reshape(len(x), -1).sum(axis=1)


def inverse_logit(y, alpha: float = ALPHA) -> np.ndarray:
    """The inverse of :func:`logit_transform`: from logit space back to ``[0, 1)`` pixel scale."""
    y = np.asarray(y, dtype=np.float64)
    return ((1.0 / (1.0 + np.exp(-y)) - alpha) / (1.0 - 2.0 * alpha)).astype(np.float32)


def nats_to_bits_per_dim(nats: float, dims: int) -> float:
    """A loss in nats per example (e.g. a Keras loss curve) as bits per dimension."""
    return float(nats) / (dims * math.log(2))


def fit_early_stopping(distribution, train, validation, budget: budgets.Budget,
                       learning_rate: float = 1e-3, verbose: int = 0):
    """Train by maximum likelihood (the Keras recipe) and keep the weights of the best epoch.

    Training stops after ``budget.patience`` epochs without a lower validation NLL, and the weights
    of the best validation epoch are restored at the end, whether or not it stopped early. Returns
    the Keras ``History``; ``history.best_epoch`` is the 1-based epoch whose weights were kept.
    """
    train = np.asarray(train, dtype=np.float32)
    validation = np.asarray(validation, dtype=np.float32)
    model = training.log_prob_model(distribution, train.shape[1:])
    model.compile(optimizer=eager.adam_for(model.trainable_variables, learning_rate),
                  loss=training.negative_log_likelihood)
    stopper = tf.keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=budget.patience or budget.epochs,
        restore_best_weights=True)
    history = model.fit(train, np.zeros(len(train)), batch_size=budget.batch_size,
                        epochs=budget.epochs, validation_data=(validation,
                                                               np.zeros(len(validation))),
                        callbacks=[stopper], verbose=verbose, shuffle=True)
    history.best_epoch = int(np.argmin(history.history["val_loss"])) + 1
    return history


def samples_to_images(y, image_shape, alpha: float = ALPHA) -> np.ndarray:
    """Flow samples in logit space as images in ``[0, 1]``, ready for :func:`plots.image_grid`."""
    x = inverse_logit(np.asarray(y), alpha)
    return np.clip(x.reshape((len(x), *image_shape)), 0.0, 1.0)
