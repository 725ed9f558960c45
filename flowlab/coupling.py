"""Lab 03's coupling flows: RealNVP stacks, their permutations, and the MAF-vs-RealNVP timing.

The lab builds its RealNVP by hand; :func:`realnvp_chain` builds the same model for the benchmark
and for later labs, so that they agree with the lab sheet.
"""

import numpy as np

from flowlab import maf, training
from flowlab.tfenv import tf, tfb, tfd

HIDDEN_UNITS = 128


def shift_and_log_scale_network(input_units: int, output_units: int,
                                hidden_units: int = HIDDEN_UNITS) -> "tf.keras.Model":
    """The coupling network: ``x1 -> (shift, log_scale)``, each of width ``output_units``.

    Two ReLU layers, then one linear layer split in two. The log-scale goes through ``tanh``: an
    unbounded log-scale can reach ``exp(30)`` after one bad step and the likelihood turns to
    NaN, while a scale in ``[1/e, e]`` per coupling is plenty when several couplings are stacked.
    The last layer starts at zero, so every coupling starts as the identity.
    """
    x1 = tf.keras.Input(shape=(input_units,))
    hidden = tf.keras.layers.Dense(hidden_units, activation="relu")(x1)
    hidden = tf.keras.layers.Dense(hidden_units, activation="relu")(hidden)
    out = tf.keras.layers.Dense(2 * output_units, kernel_initializer="zeros")(hidden)
    shift, raw_log_scale = tf.split(out, 2, axis=-1)
    return tf.keras.Model(x1, [shift, tf.tanh(raw_log_scale)])


def reversals(dims: int, count: int) -> list[np.ndarray]:
    """``count`` copies of the reversing permutation: consecutive couplings swap halves."""
    return [np.arange(dims)[::-1] for _ in range(count)]


def random_permutations(dims: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` random orders of ``dims`` dimensions, reproducible from ``seed``.

    In many dimensions, reversing only ever pairs the same two halves; shuffling lets every
    dimension condition on every other after a few couplings.
    """
    rng = np.random.default_rng(seed)
    return [rng.permutation(dims) for _ in range(count)]


def realnvp_chain(dims: int, num_layers: int, hidden_units: int = HIDDEN_UNITS,
                  permutations=None) -> tfb.Chain:
    """``num_layers`` affine couplings with a ``tfb.Permute`` between each pair.

    ``permutations`` holds ``num_layers - 1`` orders (default: reversals). Each coupling keeps the
    first ``dims // 2`` inputs and transforms the rest with its own network.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
    if permutations is None:
        permutations = reversals(dims, num_layers - 1)
    if len(permutations) < num_layers - 1:
        raise ValueError(f"{num_layers} couplings need {num_layers - 1} permutations, "
                         f"got {len(permutations)}.")
    kept = dims // 2
    bijectors = []
    for index in range(num_layers):
        if index:
            bijectors.append(tfb.Permute(permutation=np.asarray(permutations[index - 1])))
        network = shift_and_log_scale_network(kept, dims - kept, hidden_units)
        # The default argument binds this layer's network; a bare closure would see the last one.
        bijectors.append(tfb.RealNVP(
            num_masked=kept,
            shift_and_log_scale_fn=lambda x1, output_units, network=network: network(x1)))
    return tfb.Chain(bijectors)


def realnvp_flow(dims: int, num_layers: int, hidden_units: int = HIDDEN_UNITS,
                 permutations=None) -> tfd.Distribution:
    """A RealNVP flow on ``dims`` dimensions with a standard normal base."""
    return tfd.TransformedDistribution(
        maf.standard_normal(dims), realnvp_chain(dims, num_layers, hidden_units, permutations))


def maf_flow(dims: int, num_layers: int, hidden_units=maf.HIDDEN_UNITS) -> tfd.Distribution:
    """Lab 02's MAF stack (reversing permutations) with a standard normal base, for comparisons."""
    return tfd.TransformedDistribution(maf.standard_normal(dims),
                                       maf.maf_stack(num_layers, dims, hidden_units=hidden_units))


def cost(flows: dict, points: int = 10000, dims: int = 2, repeats: int = 3) -> list[dict]:
    """Best-of-``repeats`` seconds to evaluate ``log_prob`` of, and to draw, ``points`` points.

    ``flows`` maps a name to a distribution; each call is compiled with ``tf.function`` first, so
    the timing measures the computation, not Python. The points evaluated are standard normal: the
    cost of a flow does not depend on where it is evaluated.
    """
    x = tf.random.normal([points, dims], seed=0)
    rows = []
    for name, flow in flows.items():
        log_prob = tf.function(flow.log_prob)
        sample = tf.function(lambda flow=flow: flow.sample(points))
        rows.append({"flow": name,
                     "log_prob_seconds": training.seconds(lambda f=log_prob: f(x), repeats),
                     "sample_seconds": training.seconds(sample, repeats)})
    return rows
