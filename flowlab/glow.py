"""Glow for small images: lab 04's coupling network, its baseline, and image-space helpers.

* :func:`coupling_network` is the coupling network the lab sheet asks students to give ``tfb.Glow``
  for 8x8 images. The whole reference model is a graded task, so its builder is not in this package
  (it is in ``autograder/reference/glow.py``, for the grader, the benchmark and the tests).
* :func:`best_gaussian_mixture` runs lab 03's GaussianMixture baseline on this lab's fixed
  dequantization, so its bits/dim compare with the flows'.
* :func:`dequantized` fixes the dequantization noise of a split's parts so that every model is
  scored on the same continuous points.
"""


import numpy as np

from flowlab import baselines, density
from flowlab.tfenv import tf

HIDDEN = 128
LEARNING_RATE = 2e-3
# Fixed noise per part of a split: every model is evaluated on identical dequantized points.
NOISE_SEEDS = {"validation": 1, "test": 0}


def coupling_network(hidden: int = HIDDEN):
    """A Glow coupling network factory: ``input_shape -> keras.Sequential``.

    TFP's default network has 400 channels, sized for 32x32 photographs; 8x8 images with a few
    hundred training examples need far fewer, and train several times faster. The last layer starts
    at zero, so every coupling starts as (nearly) the identity and the untrained flow is stable.
    """
    def build(input_shape):
        layers = tf.keras.layers
        return tf.keras.Sequential([
            layers.Input(shape=input_shape),
            layers.Conv2D(hidden, 3, padding="same", activation="relu"),
            layers.Conv2D(hidden, 1, padding="same", activation="relu"),
            layers.Conv2D(2 * input_shape[-1], 3, padding="same", kernel_initializer="zeros"),
        ])

    return build


def dequantized(split, part: str) -> np.ndarray:
    """The validation or test part of ``split``, dequantized with that part's fixed noise."""
    return density.dequantize(getattr(split, part), split.levels, NOISE_SEEDS[part])


def best_gaussian_mixture(split, quick: bool = False, seed: int = 0, grid=None):
    """Lab 03's GaussianMixture baseline (:func:`flowlab.baselines.gaussian_mixture`) on ``split``.

    Fitted on the training images dequantized with ``seed``, chosen on the validation part and
    scored on the test part, both with this lab's fixed noise (:func:`dequantized`), so its bits/dim
    compare directly with the flows'. ``quick`` tries the single size that wins on digits, for the
    grading budget. Returns a :class:`flowlab.baselines.BaselineResult`.
    """
    if grid is None:
        grid = baselines.MIXTURE_GRID_QUICK if quick else baselines.MIXTURE_GRID
    train = density.dequantize(split.train, split.levels, seed)
    return baselines.gaussian_mixture(train, dequantized(split, "validation"),
                                      dequantized(split, "test"), split.levels, grid=grid,
                                      seed=seed)


def to_unit(images) -> np.ndarray:
    """Images from a flow (dequantized scale, about ``[0, 1)``) clipped to ``[0, 1]`` for display."""
    return np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)


def to_grayscale(patches, levels: int = 17) -> np.ndarray:
    """RGB byte patches as single-channel images with ``levels`` levels, like the digits.

    The channel mean is rescaled from 0..255 to 0..levels-1 and rounded, so the patches can be fed
    to a model trained on digits as out-of-distribution inputs with the same shape and range.
    """
    gray = np.asarray(patches, dtype=np.float64).mean(axis=-1, keepdims=True)
    return np.rint(gray / 255.0 * (levels - 1)).astype(np.int64)
