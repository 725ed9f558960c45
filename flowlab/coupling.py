"""Lab 03's lesson tools around coupling flows: permutations, lab 02's MAF for comparison, and the
MAF-vs-RealNVP timing.

The RealNVP itself (network, chain) is what students write in lab 03; the reference version lives
outside this package, in ``autograder/reference/realnvp.py``, so it cannot stand in for their answer.
"""

import numpy as np

from flowlab import maf, training
from flowlab.tfenv import tf, tfd


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
