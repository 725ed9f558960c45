"""The reference RealNVP of lab 03, kept out of the student-importable ``flowlab`` package.

Two halves: a NumPy rebuild of the lab's flow (the coupling network, chains of ``tfb.RealNVP``
and ``tfb.Permute`` as TFP computes them, log-densities, bits/dim), which the lab 03 verifier
uses to judge students' weights in the grader's own process; and the TensorFlow builders the
benchmark and the tests use (TensorFlow is imported only when they are called).
"""

import math

import numpy as np

HIDDEN_UNITS = 128
LOG_2PI = math.log(2 * math.pi)


# --- NumPy: the reference architecture with given weights -----------------------------------------

def weight_shapes(in_units: int, out_units: int, hidden: int) -> list[tuple]:
    """Shapes of the coupling network's weights: Dense(hidden) x 2, then Dense(2 * out_units)."""
    return [(in_units, hidden), (hidden,), (hidden, hidden), (hidden,), (hidden, 2 * out_units),
            (2 * out_units,)]


def layouts(weights, in_units: int, out_units: int, hidden: int) -> list[list[np.ndarray]]:
    """The ways ``weights`` (a Keras model's, in order) fill the reference layout, as the shift
    half first and as the log-scale half first (which half or head a network calls the shift is
    its choice): a single output layer split in two, or separate shift and log-scale heads; none
    if the shapes fit neither."""
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    shapes = [w.shape for w in weights]
    heads = weight_shapes(in_units, out_units, hidden)[:4] + [(hidden, out_units), (out_units,)] * 2
    if shapes == weight_shapes(in_units, out_units, hidden):
        last, last_bias = weights[4:]
        first, first_bias = last[:, :out_units], last_bias[:out_units]
        second, second_bias = last[:, out_units:], last_bias[out_units:]
    elif shapes == heads:
        first, first_bias, second, second_bias = weights[4:]
    else:
        return []
    return [weights[:4] + [np.concatenate([a, b], axis=-1), np.concatenate([c, d])]
            for a, c, b, d in ((first, first_bias, second, second_bias),
                               (second, second_bias, first, first_bias))]


def network(weights, x1):
    """``(shift, log_scale)`` of the reference network: two ReLU layers, a linear layer split in
    two, ``tanh`` on the log-scale half."""
    w1, b1, w2, b2, w3, b3 = weights
    hidden = np.maximum(np.asarray(x1, dtype=np.float64) @ w1 + b1, 0.0)
    hidden = np.maximum(hidden @ w2 + b2, 0.0)
    out = hidden @ w3 + b3
    units = out.shape[-1] // 2
    return out[:, :units], np.tanh(out[:, units:])


def chain_forward(bijectors, x):
    """Forward map and log-determinant of a chain listed as TFP lists it (the last applies first).

    ``bijectors`` holds ``("RealNVP", num_masked, weights)`` and ``("Permute", order)``.
    """
    x = np.asarray(x, dtype=np.float64)
    log_det = np.zeros(len(x))
    for bijector in reversed(bijectors):
        if bijector[0] == "Permute":
            x = x[:, np.asarray(bijector[1])]
            continue
        _, kept, weights = bijector
        shift, log_scale = network(weights, x[:, :kept])
        x = np.concatenate([x[:, :kept], x[:, kept:] * np.exp(log_scale) + shift], axis=1)
        log_det += log_scale.sum(axis=1)
    return x, log_det


def chain_inverse(bijectors, y):
    """Inverse map and inverse log-determinant of the chain :func:`chain_forward` computes."""
    y = np.asarray(y, dtype=np.float64)
    log_det = np.zeros(len(y))
    for bijector in bijectors:
        if bijector[0] == "Permute":
            y = y[:, np.argsort(np.asarray(bijector[1]))]
            continue
        _, kept, weights = bijector
        shift, log_scale = network(weights, y[:, :kept])
        y = np.concatenate([y[:, :kept], (y[:, kept:] - shift) * np.exp(-log_scale)], axis=1)
        log_det -= log_scale.sum(axis=1)
    return y, log_det


def flow_log_prob(bijectors, x):
    """``log p(x)`` of a standard normal base under the chain, one value per row."""
    z, log_det = chain_inverse(bijectors, x)
    return -0.5 * np.sum(z**2, axis=1) - 0.5 * z.shape[1] * LOG_2PI + log_det


def bits_per_dim_from_logit(nll_logit_nats, log_det, dims: int, levels: int) -> float:
    """Bits/dim of the discrete pixels from a flow's NLL in logit space.

    ``nll_logit_nats`` (mean or per example) is ``-log p_Y(y)``; ``log_det`` is ``log |dy/dx|``
    per example (``flowlab.images.logit_transform``). Since ``p_X(x) = p_Y(y) |dy/dx|``, the NLL
    of the dequantized ``x`` is ``nll - log_det``; ``dims * log(levels)`` undoes the ``1/levels``
    scaling, and dividing by ``dims * ln 2`` gives bits per dimension.
    """
    nll_x = float(np.mean(nll_logit_nats)) - float(np.mean(log_det))
    return float((nll_x + dims * math.log(levels)) / (dims * math.log(2)))


# --- TensorFlow: the same model as Keras/TFP objects, for the benchmark and the tests ------------

def shift_and_log_scale_network(input_units: int, output_units: int,
                                hidden_units: int = HIDDEN_UNITS):
    """The coupling network ``x1 -> [shift, tanh(log_scale)]``, last layer starting at zero."""
    from flowlab.tfenv import tf

    x1 = tf.keras.Input(shape=(input_units,))
    hidden = tf.keras.layers.Dense(hidden_units, activation="relu")(x1)
    hidden = tf.keras.layers.Dense(hidden_units, activation="relu")(hidden)
    out = tf.keras.layers.Dense(2 * output_units, kernel_initializer="zeros")(hidden)
    shift, raw_log_scale = tf.split(out, 2, axis=-1)
    return tf.keras.Model(x1, [shift, tf.tanh(raw_log_scale)])


def realnvp_chain(dims: int, num_layers: int, hidden_units: int = HIDDEN_UNITS, permutations=None):
    """``num_layers`` affine couplings (``num_masked = dims // 2``) with a ``tfb.Permute`` between
    each pair; ``permutations`` holds ``num_layers - 1`` orders (default: reversals)."""
    from flowlab import coupling
    from flowlab.tfenv import tfb

    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
    if permutations is None:
        permutations = coupling.reversals(dims, num_layers - 1)
    if len(permutations) < num_layers - 1:
        raise ValueError(f"{num_layers} couplings need {num_layers - 1} permutations, "
                         f"got {len(permutations)}.")
    kept = dims // 2
    bijectors = []
    for index in range(num_layers):
        if index:
            bijectors.append(tfb.Permute(permutation=np.asarray(permutations[index - 1])))
        net = shift_and_log_scale_network(kept, dims - kept, hidden_units)
        # The default argument binds this layer's network; a bare closure would see the last one.
        bijectors.append(tfb.RealNVP(num_masked=kept,
                                     shift_and_log_scale_fn=lambda x1, output_units, net=net: net(x1)))
    return tfb.Chain(bijectors)


def realnvp_flow(dims: int, num_layers: int, hidden_units: int = HIDDEN_UNITS, permutations=None):
    """A RealNVP flow on ``dims`` dimensions with a standard normal base."""
    from flowlab import maf
    from flowlab.tfenv import tfd

    return tfd.TransformedDistribution(
        maf.standard_normal(dims), realnvp_chain(dims, num_layers, hidden_units, permutations))


def flow_bits_per_dim(distribution, y, log_det, levels: int) -> float:
    """Bits/dim of a TFP flow over logit-space vectors ``y`` (with their ``log_det``)."""
    from flowlab import training

    nll = training.held_out_nll(distribution, y)
    return bits_per_dim_from_logit(nll, log_det, int(np.prod(np.shape(y)[1:])), levels)
