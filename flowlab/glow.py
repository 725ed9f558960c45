"""Glow for small images: the reference model of lab 04, its baseline, and image-space helpers.

* :func:`coupling_network` and :func:`make_glow` build the ``tfb.Glow`` configuration the lab uses
  for 8x8 images, so the benchmark and the hidden tests build exactly what the lab sheet asks for.
* :func:`best_gaussian_mixture` runs lab 03's GaussianMixture baseline on this lab's fixed
  dequantization, so its bits/dim compare with the flows'.
* :func:`dequantized` fixes the dequantization noise of a split's parts so that every model is
  scored on the same continuous points.
"""

import math

import numpy as np

from flowlab import baselines, density
from flowlab.tfenv import tf, tfb, tfd

BLOCKS = 2
STEPS = 4
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


def make_glow(image_shape=(8, 8, 1), blocks: int = BLOCKS, steps: int = STEPS,
              hidden: int = HIDDEN, seed: int = 0):
    """The lab's Glow bijector and the flow over images it defines: ``(bijector, distribution)``.

    ``tfb.Glow`` maps a flat latent vector to an image, so the base is a standard normal over
    ``h * w * c`` dimensions.
    """
    dims = int(np.prod(image_shape))
    bijector = tfb.Glow(output_shape=tuple(image_shape), num_glow_blocks=blocks,
                        num_steps_per_block=steps, coupling_bijector_fn=coupling_network(hidden),
                        exit_bijector_fn=tfb.GlowDefaultExitNetwork, seed=seed)
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(dims))
    return bijector, tfd.TransformedDistribution(distribution=base, bijector=bijector)


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


def nats_to_bits_per_dim(log_probs, dims: int, levels: int) -> np.ndarray:
    """Per-example bits/dim from per-example log-likelihoods of ``[0, 1)``-scaled data."""
    return (-np.asarray(log_probs, dtype=np.float64) + dims * math.log(levels)) / (
        dims * math.log(2))


def to_grayscale(patches, levels: int = 17) -> np.ndarray:
    """RGB byte patches as single-channel images with ``levels`` levels, like the digits.

    The channel mean is rescaled from 0..255 to 0..levels-1 and rounded, so the patches can be fed
    to a model trained on digits as out-of-distribution inputs with the same shape and range.
    """
    gray = np.asarray(patches, dtype=np.float64).mean(axis=-1, keepdims=True)
    return np.rint(gray / 255.0 * (levels - 1)).astype(np.int64)
